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
that ensemble), while the ensemble stays within ``MAX_MEMBERS`` models and twice the first
model's dimension, so that the export and every query cost at most twice a single model's.
Different configurations from one study err differently, which is what an ensemble gains from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from track2vec.errors import ConfigError
from track2vec.evaluation import metrics_from_ranks, rank_targets
from track2vec.scoring import POPULARITY_WEIGHTS, Scoring, Vectors, unit_rows

MAX_MEMBERS = 3
MAX_DIM_FACTOR = 2  # the ensemble's dimension at most this many times its first member's


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
    if method != "target-context":
        raise ConfigError(f"scoring must be one of cosine, target-context, got {method!r}")
    if any(m.context_embeddings is None for m in members):
        raise ConfigError("target-context scoring needs every model's context vectors")
    biases = [np.asarray(m.context_bias, dtype=np.float32) for m in members if m.context_bias is not None]
    return Vectors(np.hstack([np.asarray(m.embeddings, dtype=np.float32) for m in members]),
                   np.hstack([np.asarray(m.context_embeddings, dtype=np.float32) for m in members]),
                   np.sum(biases, axis=0, dtype=np.float32) if biases else None)


def best_scoring(vectors: Vectors, method: str, counts: np.ndarray, pairs: np.ndarray,
                 popularity_weights: Sequence[float] = POPULARITY_WEIGHTS, k: int = 10) -> tuple[Scoring, float]:
    """The popularity weight that ranks ``pairs`` best under ``method``, and that NDCG@k."""
    ranks = rank_targets(vectors.score_table(method, counts), pairs, popularity_weights)
    scores = [metrics_from_ranks(ranks[:, column], k).ndcg for column in range(len(popularity_weights))]
    best = int(np.argmax(scores))
    return Scoring(method, float(popularity_weights[best])), float(scores[best])


def select_ensemble(candidates: Sequence[Vectors], method: str, counts: np.ndarray, validation_pairs: np.ndarray,
                    popularity_weights: Sequence[float] = POPULARITY_WEIGHTS, k: int = 10) -> Selection:
    """Greedy ensemble selection on ``validation_pairs`` among ``candidates`` (best first; the first always kept)."""
    if not candidates:
        raise ConfigError("an ensemble needs at least one model")
    first = candidates[0]
    scoring, score = best_scoring(first, method, counts, validation_pairs, popularity_weights, k)
    members, vectors = [0], first
    max_dim = MAX_DIM_FACTOR * first.dim
    for index in range(1, len(candidates)):
        if len(members) == MAX_MEMBERS:
            break
        if vectors.dim + candidates[index].dim > max_dim:
            continue
        joined = concatenate([candidates[i] for i in members] + [candidates[index]], method)
        joined_scoring, joined_score = best_scoring(joined, method, counts, validation_pairs, popularity_weights, k)
        if joined_score > score:
            members, vectors, scoring, score = members + [index], joined, joined_scoring, joined_score
    return Selection(tuple(members), vectors, scoring, score)
