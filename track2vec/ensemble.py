"""An ensemble of embedding models, served as one model: their vectors side by side, their scores summed.

Models trained on one vocabulary score candidate ``j`` for query ``q`` as
``queries_m[q] . items_m[j] + bias_m[j]`` (:mod:`track2vec.scoring`). The sum of the members' scores
is the score of one model whose query and item vectors are the members' concatenated and whose
bias is the sum of theirs, so an ensemble is evaluated, exported and served by ``recommend`` exactly
as a single model is, with the summed dimension: it is still embeddings only, no counts. Under
``cosine`` the members' unit vectors are concatenated, which ranks by the mean of their cosines.

Members are chosen on the validation pairs by greedy ensemble selection (Caruana et al., 2004,
"Ensemble selection from libraries of models"): the best model first, then each candidate in its
order joins when it raises the ensemble's validation NDCG@10 (under the popularity weight best for
that ensemble), while the ensemble stays within ``MAX_MEMBERS`` models and ``MAX_BYTES`` of vectors
(what ``recommend`` holds in memory and multiplies each query with). A candidate that does not join is
dropped before the next is read, so the candidates may be loaded one at a time. Different
configurations from one study err differently, which is what an ensemble gains from.

The members' summed scores for the validation pairs are kept (``pair_scores``) while they fit in
``MAX_SUMMED_SCORES_BYTES``, so that each candidate is scored alone and added to them: its cost is its own,
not the ensemble's. Beyond that (very large vocabularies) each candidate is scored together with the
members, as one model of their summed dimension.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from track2vec.errors import ConfigError
from track2vec.evaluation import metrics_from_ranks, pair_scores, rank_targets
from track2vec.scoring import CONTEXT_SCORINGS, POPULARITY_WEIGHTS, SCORINGS, Scoring, ScoreTable, Vectors, unit_rows

MAX_MEMBERS = 16
MAX_BYTES = 2**30  # the ensemble's vectors (target and context tables, float32) beyond its first model's
MAX_SUMMED_SCORES_BYTES = 2 * 2**30  # the members' summed float32 scores, validation pairs x vocabulary


@dataclass(frozen=True)
class Selection:
    """The members chosen (indices into the candidates, the first model first), their vectors as one model and
    the scoring that ranks them best on validation, with its validation NDCG@10."""

    members: tuple[int, ...]
    vectors: Vectors
    scoring: Scoring
    validation_ndcg: float


def concatenate(members: Sequence[Vectors], method: str) -> Vectors:
    """One model whose ``method`` score is the sum (``cosine``: the mean) of the members' scores."""
    if not members:
        raise ConfigError("an ensemble needs at least one model")
    if len({m.embeddings.shape[0] for m in members}) != 1:
        raise ConfigError("the models of an ensemble must share one vocabulary")
    if len(members) == 1:
        return members[0]
    if method == "cosine":
        return Vectors(np.hstack([unit_rows(m.embeddings) for m in members]))
    if method not in CONTEXT_SCORINGS:
        raise ConfigError(f"scoring must be one of {', '.join(SCORINGS)}, got {method!r}")
    if any(m.context_embeddings is None for m in members):
        raise ConfigError(f"{method} scoring needs every model's context vectors")
    biases = [np.asarray(m.context_bias, dtype=np.float32) for m in members if m.context_bias is not None]
    return Vectors(np.hstack([np.asarray(m.embeddings, dtype=np.float32) for m in members]),
                   np.hstack([np.asarray(m.context_embeddings, dtype=np.float32) for m in members]),
                   np.sum(biases, axis=0, dtype=np.float32) if biases else None)


def best_scoring(vectors: Vectors, method: str, counts: np.ndarray, pairs: np.ndarray,
                 popularity_weights: Sequence[float] = POPULARITY_WEIGHTS, k: int = 10) -> tuple[Scoring, float]:
    """The popularity weight that ranks ``pairs`` best under ``method``, and that NDCG@k."""
    return best_popularity_weight(vectors.score_table(method, counts), method, pairs, popularity_weights, k)


def best_popularity_weight(table: ScoreTable, method: str, pairs: np.ndarray,
                           popularity_weights: Sequence[float] = POPULARITY_WEIGHTS, k: int = 10,
                           base: np.ndarray | None = None, members: int = 1) -> tuple[Scoring, float]:
    """The scoring of ``table`` (``method``'s) whose popularity weight ranks ``pairs`` best, and that NDCG@k.

    With ``base`` (other models' summed ``pair_scores``, ``members`` models in all with this one) the scores
    ranked are their sum, cosine's their mean."""
    scale = members if method == "cosine" else 1  # mean + w log(count) ranks as sum + members * w log(count)
    ranks = rank_targets(table, pairs, [scale * weight for weight in popularity_weights], base)
    scores = [metrics_from_ranks(ranks[:, column], k).ndcg for column in range(len(popularity_weights))]
    best = int(np.argmax(scores))
    return Scoring(method, float(popularity_weights[best])), float(scores[best])


def nbytes(vectors: Vectors) -> int:
    """The bytes of a model's vector tables as float32."""
    tables = 1 if vectors.context_embeddings is None else 2
    return int(vectors.embeddings.shape[0]) * vectors.dim * 4 * tables


def select_ensemble(candidates: Iterable[Vectors], method: str, counts: np.ndarray, validation_pairs: np.ndarray,
                    popularity_weights: Sequence[float] = POPULARITY_WEIGHTS, k: int = 10,
                    max_members: int = MAX_MEMBERS, max_bytes: int = MAX_BYTES,
                    max_summed_scores_bytes: int = MAX_SUMMED_SCORES_BYTES) -> Selection:
    """Greedy ensemble selection on ``validation_pairs`` among ``candidates`` (best first; the first always kept)."""
    candidates = iter(candidates)
    first = next(candidates, None)
    if first is None:
        raise ConfigError("an ensemble needs at least one model")
    first_table = first.score_table(method, counts)
    scoring, score = best_popularity_weight(first_table, method, validation_pairs, popularity_weights, k)
    keeps_sums = len(validation_pairs) * len(counts) * 4 <= max_summed_scores_bytes
    summed = None  # the members' pair_scores, made when the first candidate is scored against them
    members, chosen = [0], [first]
    room = max_bytes  # for the members after the first: the first model alone is always possible
    for index, candidate in enumerate(candidates, start=1):
        if len(members) == max_members:
            break
        if nbytes(candidate) > room:
            continue
        if keeps_sums:
            if summed is None:
                summed = pair_scores(first_table, validation_pairs)
            table = candidate.score_table(method, counts)
            joined_scoring, joined_score = best_popularity_weight(table, method, validation_pairs, popularity_weights,
                                                                  k, base=summed, members=len(chosen) + 1)
        else:
            joined_scoring, joined_score = best_scoring(concatenate(chosen + [candidate], method), method, counts,
                                                        validation_pairs, popularity_weights, k)
        if joined_score > score:
            if keeps_sums:
                pair_scores(table, validation_pairs, out=summed)
            members, chosen = members + [index], chosen + [candidate]
            scoring, score, room = joined_scoring, joined_score, room - nbytes(candidate)
    return Selection(tuple(members), concatenate(chosen, method), scoring, score)
