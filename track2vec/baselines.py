"""Counted next-item baselines of session-based recommendation: popularity, SR and AR.

What a practitioner tries before embeddings (Ludewig and Jannach's session-rec):

* ``popularity``: the most frequent training items;
* ``sr`` (sequential rules): item ``b`` scores, for query ``a``, the weighted number of
  times ``b`` follows ``a`` in a training playlist at distance ``d <= steps``;
* ``ar`` (association rules): the same in both directions (co-occurrence).

The weight of a distance is one of ``WEIGHTINGS`` (``same`` 1, ``div`` 1/d, ``quadratic``
1/d^2, as in session-rec). Counts are SciPy sparse matrices, summed one distance at a time
(each (steps, weighting) is the running sum at its last distance), and both are chosen on
the validation pairs only (:func:`fit_count_baselines`). A pair's rank reads only its query's
row, so the search counts only the rows of the validation and test queries: the same ranks,
at a fraction of the memory on large corpora (BENCHMARKS.md, "The counted baselines' cost").

Ranks follow the evaluation's rules (the query is never a candidate; ties go to the
true item), with one addition: the many candidates a count model scores alike (most
often 0) are ordered by popularity, as session-rec's fallback does. Otherwise every
unseen target would tie with thousands of items and count as ranked first among them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import math

import numpy as np
import scipy.sparse as sp

from track2vec.errors import ConfigError
from track2vec.evaluation import Metrics, metrics_from_ranks, popularity_ranks

KINDS = ("sr", "ar")
WEIGHTINGS = {
    "same": lambda distance: 1.0,
    "div": lambda distance: 1.0 / distance,
    "quadratic": lambda distance: 1.0 / distance**2,
}
STEPS = (1, 2, 3, 5, 10)  # the distances searched
MAX_STEPS = 10
# Weights are scaled to whole numbers (by lcm(1..10)^2), so that sums of them are exact and two
# candidates that tie in counts tie in floating point too (their order is then popularity's).
_SCALE = float(math.lcm(*range(1, MAX_STEPS + 1)) ** 2)


def distance_weight(weighting: str, distance: int) -> int:
    """The weight of a co-occurrence at ``distance`` under ``weighting``, in the whole-number units of the scores."""
    return round(_SCALE * WEIGHTINGS[weighting](distance))


def transition_counts(tokens: np.ndarray, offsets: np.ndarray, vocabulary_size: int, max_distance: int) -> list[sp.csr_matrix]:
    """``[M_1, ..., M_max]``: ``M_d[a, b]`` counts ``b`` at ``d`` positions after ``a`` in one playlist."""
    playlist_of = token_playlists(offsets)
    return [_count_matrix(*_pairs_at(tokens, playlist_of, distance), vocabulary_size)
            for distance in range(1, max_distance + 1)]


def token_playlists(offsets: np.ndarray) -> np.ndarray:
    """The playlist of each token."""
    lengths = np.diff(offsets)
    return np.repeat(np.arange(len(lengths)), lengths)


def positions_at(playlist_of: np.ndarray, distance: int) -> np.ndarray:
    """Every token position with a token ``distance`` positions after it in the same playlist."""
    if distance >= len(playlist_of):
        return np.empty(0, dtype=np.int64)
    return np.flatnonzero(playlist_of[distance:] == playlist_of[:-distance])


def _pairs_at(tokens: np.ndarray, playlist_of: np.ndarray, distance: int) -> tuple[np.ndarray, np.ndarray]:
    """``(a, b)``: every item ``a`` and the item ``b`` ``distance`` positions after it in the same playlist."""
    inside = positions_at(playlist_of, distance)
    return tokens[inside], tokens[inside + distance]


def _count_matrix(rows: np.ndarray, columns: np.ndarray, vocabulary_size: int, scale: float = 1.0) -> sp.csr_matrix:
    """``scale`` times the number of times each (row, column) occurs, as a float64 CSR matrix."""
    matrix = sp.csr_matrix((np.full(len(rows), scale, dtype=np.float64), (rows, columns)),
                           shape=(vocabulary_size, vocabulary_size))
    matrix.sum_duplicates()
    return matrix


def weighted_rule_counts(tokens: np.ndarray, offsets: np.ndarray, vocabulary_size: int,
                         settings: RuleSettings) -> sp.csr_matrix:
    """``rules(transition_counts(...), settings)`` summed one distance at a time: no per-distance matrix is
    kept, so a large corpus needs about twice the final matrix rather than all of its distances at once."""
    playlist_of = token_playlists(offsets)
    total = sp.csr_matrix((vocabulary_size, vocabulary_size), dtype=np.float64)
    for distance in range(1, settings.steps + 1):
        a, b = _pairs_at(tokens, playlist_of, distance)
        total = total + _count_matrix(a, b, vocabulary_size, distance_weight(settings.weighting, distance))
    return _rule_scores(total, settings.kind)


@dataclass(frozen=True)
class RuleSettings:
    """One count model: ``kind`` (sr or ar), the largest distance counted and its weighting."""

    kind: str
    steps: int
    weighting: str

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"baseline kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if not 1 <= self.steps <= MAX_STEPS:
            raise ConfigError(f"baseline steps must be between 1 and {MAX_STEPS}, got {self.steps}")
        if self.weighting not in WEIGHTINGS:
            raise ConfigError(f"baseline weighting must be one of {', '.join(WEIGHTINGS)}, got {self.weighting!r}")

    def as_dict(self) -> dict:
        return {"kind": self.kind, "steps": self.steps, "weighting": self.weighting}


def rules(counts_by_distance: list[sp.csr_matrix], settings: RuleSettings) -> sp.csr_matrix:
    """The rule scores of ``settings``: row ``a`` scores every candidate for query ``a``."""
    if settings.steps > len(counts_by_distance):
        raise ConfigError(f"steps {settings.steps} exceeds the {len(counts_by_distance)} distances counted")
    total = sum(distance_weight(settings.weighting, distance) * counts_by_distance[distance - 1]
                for distance in range(1, settings.steps + 1))
    return _rule_scores(total, settings.kind)


def _rule_scores(forward: sp.spmatrix, kind: str) -> sp.csr_matrix:
    """The scores of ``kind`` from the weighted counts of items after the query: as they are for SR, in both
    directions for AR."""
    return _without_zeros(forward + forward.T if kind == "ar" else forward)


def _without_zeros(matrix: sp.spmatrix) -> sp.csr_matrix:
    scores = sp.csr_matrix(matrix)
    scores.eliminate_zeros()
    return scores


def weighted_counts(scores: sp.csr_matrix) -> sp.csr_matrix:
    """Rule scores in the units of their weights (a count of 1 at distance 1 is 1), as float64."""
    return scores / _SCALE


def ranks_by_rules(scores: sp.csr_matrix, pairs: np.ndarray) -> np.ndarray:
    """0-based rank of ``pairs[:, 1]`` for query ``pairs[:, 0]``: by rule score, then popularity.

    Item ids are ordered by descending training count, so "more popular" is "smaller id". Each pair
    reads its query's sparse row in place (``track2vec.ranking_kernels.rule_ranks``).
    """
    from track2vec.ranking_kernels import rule_ranks

    scores = sp.csr_matrix(scores)
    ranks = np.empty(len(pairs), dtype=np.int64)
    if len(pairs):
        rule_ranks(scores.indptr, scores.indices, scores.data, pairs[:, 0].astype(np.int64),
                   pairs[:, 1].astype(np.int64), ranks)
    return ranks


@dataclass(frozen=True)
class Baseline:
    """A baseline with its parameters (chosen on validation) and its scores on the validation and test pairs."""

    name: str  # "popularity", "sr", "ar", or "gensim" (track2vec.gensim_baseline)
    settings: dict
    validation: Metrics
    test: Metrics | None
    # 0-based rank of each test pair's answer (what ``test`` is the mean of): for paired bootstrap intervals
    test_ranks: np.ndarray | None = field(default=None, repr=False, compare=False)
    # the same of each validation pair (what ``validation`` is the mean of), where the fit kept them
    validation_ranks: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def label(self) -> str:
        if "steps" in self.settings:
            return f"{LABELS[self.name]} ({self.settings['steps']} steps, {self.settings['weighting']})"
        if "scoring" in self.settings:
            return f"{LABELS[self.name]}, ranked by {self.settings['scoring']}"
        return LABELS[self.name]


LABELS = {"popularity": "popularity", "sr": "SR (sequential rules)", "ar": "AR (co-occurrence)",
          "gensim": "word2vec by gensim (skip-gram, its defaults)"}  # the last: track2vec.gensim_baseline


def fit_count_baselines(tokens: np.ndarray, offsets: np.ndarray, vocabulary_size: int, validation_pairs: np.ndarray,
                        test_pairs: np.ndarray | None = None, k: int = 10,
                        steps: tuple[int, ...] = STEPS) -> dict[str, Baseline]:
    """SR and AR, each with the (steps, weighting) that maximise validation NDCG@k; test scored once."""
    queries = validation_pairs[:, 0] if test_pairs is None else np.concatenate([validation_pairs[:, 0], test_pairs[:, 0]])
    # The best of each kind on validation; a tie goes to the setting first in (steps, weighting) order.
    best: dict[str, tuple[tuple[float, int], np.ndarray, Metrics, RuleSettings, sp.csr_matrix]] = {}
    for settings, scores in _searched_rules(tokens, offsets, vocabulary_size, steps, queries):
        ranks = ranks_by_rules(scores, validation_pairs)
        metrics = metrics_from_ranks(ranks, k)
        order = steps.index(settings.steps) * len(WEIGHTINGS) + list(WEIGHTINGS).index(settings.weighting)
        key = (metrics.ndcg, -order)
        if settings.kind not in best or key > best[settings.kind][0]:
            best[settings.kind] = (key, ranks, metrics, settings, scores)
    fitted = {}
    for kind in KINDS:
        _, validation_ranks, metrics, settings, scores = best[kind]
        test_ranks = ranks_by_rules(scores, test_pairs) if test_pairs is not None and len(test_pairs) else None
        test = metrics_from_ranks(test_ranks, k) if test_ranks is not None else None
        fitted[kind] = Baseline(kind, {"steps": settings.steps, "weighting": settings.weighting}, metrics, test,
                                test_ranks, validation_ranks)
    return fitted


def _searched_rules(tokens: np.ndarray, offsets: np.ndarray, vocabulary_size: int, steps: tuple[int, ...],
                    queries: np.ndarray):
    """``(settings, rule scores)`` of every (kind, steps, weighting) searched, equal to :func:`rules`'s in the
    rows of ``queries`` (the other rows are empty).

    Each weighting's sum is built up one distance at a time and shared by both kinds, rather than summed
    again for each setting: the same whole-number scores. AR's row ``q`` is SR's plus the counts of the
    items *before* ``q`` (SR's transpose), so both sums are kept for the queries' rows only.
    """
    playlist_of = token_playlists(offsets)
    wanted = np.zeros(vocabulary_size, dtype=bool)
    wanted[queries] = True
    for weighting in WEIGHTINGS:
        after = before = sp.csr_matrix((vocabulary_size, vocabulary_size), dtype=np.float64)
        for distance in range(1, max(steps) + 1):
            a, b = _pairs_at(tokens, playlist_of, distance)
            scale = distance_weight(weighting, distance)
            from_query, to_query = wanted[a], wanted[b]
            after = after + _count_matrix(a[from_query], b[from_query], vocabulary_size, scale)
            before = before + _count_matrix(b[to_query], a[to_query], vocabulary_size, scale)
            if distance not in steps or (distance == 1 and weighting != "same"):
                continue  # one distance: every weighting gives the same ranking
            yield RuleSettings("sr", distance, weighting), _without_zeros(after)
            yield RuleSettings("ar", distance, weighting), _without_zeros(after + before)


def corpus_baselines(corpus, k: int = 10) -> dict[str, Baseline]:
    """Popularity, SR and AR of a :class:`track2vec.corpus.Corpus`, on its validation and test pairs."""
    test_pairs = corpus.test_pairs if len(corpus.test_pairs) else None
    test_ranks = popularity_ranks(corpus.counts, test_pairs) if test_pairs is not None else None
    popularity = Baseline("popularity", {}, metrics_from_ranks(popularity_ranks(corpus.counts, corpus.validation_pairs), k),
                          metrics_from_ranks(test_ranks, k) if test_ranks is not None else None, test_ranks)
    return {"popularity": popularity,
            **fit_count_baselines(corpus.tokens, corpus.offsets, len(corpus.vocabulary), corpus.validation_pairs,
                                  test_pairs, k)}
