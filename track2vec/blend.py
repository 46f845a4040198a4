"""Blended completion: the embeddings' score plus a weight times the counted rules' score.

A separate, clearly labelled mode beside the pure-embedding model, never in its place.
For query ``q`` and candidate ``j``::

    blended(q, j) = score(q, j) + blend_weight * counts(q, j)
    counts(q, j)  = log(1 + sr(q, j)) + ar_weight * log(1 + ar(q, j))

where ``score`` is the blend's own scoring (:mod:`track2vec.scoring`) of the exported vectors, ``sr`` the weighted
count of ``j`` following ``q`` and ``ar`` that of ``j`` near ``q`` in either order
(:mod:`track2vec.baselines`, each with the steps and weighting chosen on validation).
Counts memorise the exact sequences that listening sessions repeat; embeddings generalise
to transitions never counted. The SR and AR baselines count different things (what follows,
what co-occurs), so their sum can rank better than either. Both weights are chosen on the
validation pairs (``ar_weight`` 0: SR alone); the test pairs are scored once with them.

The blend is offered every scoring the vectors allow (:func:`fit_blend`'s ``bases``), each with its
popularity weight, and keeps the best on validation: it may differ from the pure model's scoring,
since a similarity that ranks worst alone can complement the counts best (where a symmetric score
adds what a forward count misses). The weight grid reaches from a nudge of the embeddings' ranking
to the counts' ranking with the embeddings breaking its ties, both of which validation picks on
some corpora.

The count term alone, ranked with its own ``ar_weight`` chosen on validation, is reported
beside the blend (:class:`Blend`'s ``counts_*``): what the counts reach without the
embeddings, so that the blend's gain over it is the embeddings' share.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import scipy.sparse as sp

from track2vec.baselines import RuleSettings, ranks_by_rules, weighted_counts, weighted_rule_counts
from track2vec.evaluation import RANK_TILE, Metrics, metrics_from_ranks
from track2vec.scoring import Scoring, ScoreTable

BLEND_WEIGHTS = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0)
AR_WEIGHTS = (0.0, 0.3, 1.0, 3.0)  # the AR term's weight in the count term; 0 is SR alone


@dataclass(frozen=True)
class Blend:
    """A blend chosen on validation: the scoring of its embedding term, the rules, their weights, and the
    scores on validation and test.

    ``counts_*``: the count term alone (its own ``counts_ar_weight``, chosen on validation), when the
    blend was offered an AR term."""

    rules: RuleSettings
    weight: float
    validation: Metrics
    test: Metrics | None
    # 0-based rank of each test pair's answer (what ``test`` is the mean of): for paired bootstrap intervals
    test_ranks: np.ndarray | None = field(default=None, repr=False, compare=False)
    ar_rules: RuleSettings | None = None
    ar_weight: float = 0.0
    # the count term of the chosen weights, log(1 + SR) [+ ar_weight * log(1 + AR)]: what the export serves
    count_term: sp.csr_matrix | None = field(default=None, repr=False, compare=False)
    counts_ar_weight: float | None = None
    counts_validation: Metrics | None = None
    counts_test: Metrics | None = None
    counts_test_ranks: np.ndarray | None = field(default=None, repr=False, compare=False)
    scoring: Scoring = Scoring()

    def as_dict(self) -> dict:
        both = {"ar_rules": self.ar_rules.as_dict(), "ar_weight": self.ar_weight} if self.ar_weight else {}
        alone = {} if self.counts_ar_weight is None else {"counts_ar_weight": self.counts_ar_weight}
        return {"scoring": self.scoring.as_dict(), "rules": self.rules.as_dict(), "weight": self.weight, **both, **alone}


def count_term(log_rules: sp.csr_matrix, log_ar: sp.csr_matrix | None, ar_weight: float) -> sp.csr_matrix:
    """``log(1 + SR) + ar_weight * log(1 + AR)`` (SR's alone where ``ar_weight`` is 0)."""
    if log_ar is None or ar_weight == 0:
        return log_rules
    return sp.csr_matrix(log_rules + np.float32(ar_weight) * log_ar, dtype=np.float32)


def rule_log_scores(tokens: np.ndarray, offsets: np.ndarray, vocabulary_size: int, settings: RuleSettings) -> sp.csr_matrix:
    """``log(1 + sr(q, j))`` as a sparse matrix (zero where no rule reaches)."""
    counts = weighted_counts(weighted_rule_counts(tokens, offsets, vocabulary_size, settings))
    counts.data = np.log1p(counts.data)
    return counts.astype(np.float32)


def blended_ranks(table: ScoreTable, popularity_weight: float, log_rules: sp.csr_matrix, pairs: np.ndarray,
                  blend_weights: Sequence[float]) -> np.ndarray:
    """0-based ranks of ``pairs[:, 1]`` under every blend weight: int64 [len(pairs), len(blend_weights)]."""
    return blended_ranks_per_term(table, popularity_weight, (log_rules,), pairs, blend_weights)[:, 0]


def blended_ranks_per_term(table: ScoreTable, popularity_weight: float, count_terms: Sequence[sp.csr_matrix],
                           pairs: np.ndarray, blend_weights: Sequence[float]) -> np.ndarray:
    """0-based ranks of ``pairs[:, 1]`` under every count term and blend weight: int64
    [len(pairs), len(count_terms), len(blend_weights)]. The embeddings' scores, the costly part, are
    computed once per tile for all the terms."""
    from track2vec.ranking_kernels import count_ahead

    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    weights = np.asarray(blend_weights, dtype=np.float32)
    bias = table.bias(popularity_weight)
    if bias is None:
        bias = np.zeros(len(table.items), dtype=np.float32)
    tile_queries, tile_items = RANK_TILE
    ranks = np.zeros((len(pairs), len(count_terms), len(weights)), dtype=np.int64)
    for start in range(0, len(pairs), tile_queries):
        queries, answers = pairs[start:start + tile_queries, 0], pairs[start:start + tile_queries, 1]
        query_vectors = table.queries[queries]
        true_scores = (np.einsum("ij,ij->i", query_vectors, table.items[answers]) + bias[answers]).astype(np.float32)
        query_terms = [term[queries] for term in count_terms]
        true_extras = [np.asarray(rows[np.arange(len(queries)), answers], dtype=np.float32).ravel()
                       for rows in query_terms]
        counts = ranks[start:start + tile_queries]
        for first in range(0, len(table.items), tile_items):
            scores = query_vectors @ table.items[first:first + tile_items].T + bias[first:first + tile_items]
            for index, (rows, true_extra) in enumerate(zip(query_terms, true_extras)):
                extra = rows[:, first:first + tile_items].toarray()
                count_ahead(scores, extra, first, queries, answers, true_scores, true_extra, weights, counts[:, index])
        counts[~np.isfinite(true_scores)] = len(table.items)
    return ranks


def fit_blend(bases: Iterable[tuple[Scoring, ScoreTable]], log_rules: sp.csr_matrix, settings: RuleSettings,
              validation_pairs: np.ndarray, test_pairs: np.ndarray | None = None,
              k: int = 10, blend_weights: Sequence[float] = BLEND_WEIGHTS,
              log_ar: sp.csr_matrix | None = None, ar_settings: RuleSettings | None = None,
              ar_weights: Sequence[float] = AR_WEIGHTS) -> Blend:
    """The scoring, blend weight and AR weight with the best validation NDCG@k; the test pairs scored once with them.

    ``bases``: the embedding terms offered, each a scoring and its score table (read one at a time, so the
    tables need not all be in memory). ``log_rules``: :func:`rule_log_scores` of ``settings`` (SR);
    ``log_ar``: that of ``ar_settings`` (AR), or None for a blend of SR alone. A tie keeps the earlier
    choice (the first base, SR alone, the smaller weight)."""
    offered = tuple(ar_weights) if log_ar is not None else (0.0,)
    terms = [count_term(log_rules, log_ar, w) for w in offered]
    best = None  # (validation metrics, ar weight, blend weight, scoring, table)
    for scoring, table in bases:
        ranks = blended_ranks_per_term(table, scoring.popularity_weight, terms, validation_pairs, blend_weights)
        for term, ar_weight in enumerate(offered):
            for column, blend_weight in enumerate(blend_weights):
                metrics = metrics_from_ranks(ranks[:, term, column], k)
                if best is None or metrics.ndcg > best[0].ndcg:
                    best = (metrics, float(ar_weight), float(blend_weight), scoring, table)
    if best is None:
        raise ValueError("a blend needs at least one embedding term")
    validation, ar_weight, weight, scoring, table = best
    chosen = count_term(log_rules, log_ar, ar_weight)
    has_test = test_pairs is not None and len(test_pairs) > 0
    test, test_ranks = None, None
    if has_test:
        test_ranks = blended_ranks(table, scoring.popularity_weight, chosen, test_pairs, (weight,))[:, 0]
        test = metrics_from_ranks(test_ranks, k)
    blend = Blend(settings, weight, validation, test, test_ranks, ar_settings if ar_weight else None, ar_weight, chosen,
                  scoring=scoring)
    if log_ar is None:
        return blend
    return replace(blend, **_counts_alone(log_rules, log_ar, ar_weights, validation_pairs,
                                          test_pairs if has_test else None, k))


def _counts_alone(log_rules: sp.csr_matrix, log_ar: sp.csr_matrix, ar_weights: Sequence[float],
                  validation_pairs: np.ndarray, test_pairs: np.ndarray | None, k: int) -> dict:
    """The count term without the embeddings, its AR weight chosen on validation: ``Blend``'s ``counts_*``."""
    scored = [(metrics_from_ranks(ranks_by_rules(count_term(log_rules, log_ar, w), validation_pairs), k), float(w))
              for w in ar_weights]
    validation, ar_weight = max(scored, key=lambda item: item[0].ndcg)  # the first of equals
    counts = {"counts_ar_weight": ar_weight, "counts_validation": validation}
    if test_pairs is not None:
        ranks = ranks_by_rules(count_term(log_rules, log_ar, ar_weight), test_pairs)
        counts.update(counts_test=metrics_from_ranks(ranks, k), counts_test_ranks=ranks)
    return counts
