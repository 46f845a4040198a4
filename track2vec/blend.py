"""Blended completion: the embeddings' score plus a weight times the sequential rules' (SR) score.

A separate, clearly labelled mode beside the pure-embedding model, never in its place.
For query ``q`` and candidate ``j``::

    blended(q, j) = score(q, j) + blend_weight * log(1 + sr(q, j))

where ``score`` is the export's scoring (:mod:`track2vec.scoring`) and ``sr`` the weighted
count of ``j`` following ``q`` (:mod:`track2vec.baselines`, with the steps and weighting
chosen on validation). Counts memorise the exact sequences that listening sessions
repeat; embeddings generalise to transitions never counted. The blend weight is chosen
on the validation pairs; the test pairs are scored once with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from track2vec.baselines import RuleSettings, weighted_counts, weighted_rule_counts
from track2vec.evaluation import RANK_TILE, Metrics, metrics_from_ranks
from track2vec.scoring import ScoreTable

BLEND_WEIGHTS = (0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0)


@dataclass(frozen=True)
class Blend:
    """A blend chosen on validation: the rules, their weight, and the scores on validation and test."""

    rules: RuleSettings
    weight: float
    validation: Metrics
    test: Metrics | None
    # 0-based rank of each test pair's answer (what ``test`` is the mean of): for paired bootstrap intervals
    test_ranks: np.ndarray | None = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict:
        return {"rules": self.rules.as_dict(), "weight": self.weight}


def rule_log_scores(tokens: np.ndarray, offsets: np.ndarray, vocabulary_size: int, settings: RuleSettings) -> sp.csr_matrix:
    """``log(1 + sr(q, j))`` as a sparse matrix (zero where no rule reaches)."""
    counts = weighted_counts(weighted_rule_counts(tokens, offsets, vocabulary_size, settings))
    counts.data = np.log1p(counts.data)
    return counts.astype(np.float32)


def blended_ranks(table: ScoreTable, popularity_weight: float, log_rules: sp.csr_matrix, pairs: np.ndarray,
                  blend_weights: Sequence[float]) -> np.ndarray:
    """0-based ranks of ``pairs[:, 1]`` under every blend weight: int64 [len(pairs), len(blend_weights)]."""
    from track2vec.ranking_kernels import count_ahead

    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    weights = np.asarray(blend_weights, dtype=np.float32)
    bias = table.bias(popularity_weight)
    if bias is None:
        bias = np.zeros(len(table.items), dtype=np.float32)
    tile_queries, tile_items = RANK_TILE
    ranks = np.zeros((len(pairs), len(weights)), dtype=np.int64)
    for start in range(0, len(pairs), tile_queries):
        queries, answers = pairs[start:start + tile_queries, 0], pairs[start:start + tile_queries, 1]
        query_vectors = table.queries[queries]
        true_scores = (np.einsum("ij,ij->i", query_vectors, table.items[answers]) + bias[answers]).astype(np.float32)
        query_rules = log_rules[queries]
        true_extra = np.asarray(query_rules[np.arange(len(queries)), answers], dtype=np.float32).ravel()
        counts = ranks[start:start + tile_queries]
        for first in range(0, len(table.items), tile_items):
            scores = query_vectors @ table.items[first:first + tile_items].T + bias[first:first + tile_items]
            extra = query_rules[:, first:first + tile_items].toarray()
            count_ahead(scores, extra, first, queries, answers, true_scores, true_extra, weights, counts)
        counts[~np.isfinite(true_scores)] = len(table.items)
    return ranks


def fit_blend(table: ScoreTable, popularity_weight: float, log_rules: sp.csr_matrix, settings: RuleSettings,
              validation_pairs: np.ndarray, test_pairs: np.ndarray | None = None,
              k: int = 10, blend_weights: Sequence[float] = BLEND_WEIGHTS) -> Blend:
    """The blend weight with the best validation NDCG@k; the test pairs scored once with it.

    ``log_rules``: :func:`rule_log_scores` of ``settings`` (built once by the caller, who exports it)."""
    ranks = blended_ranks(table, popularity_weight, log_rules, validation_pairs, blend_weights)
    scores = [metrics_from_ranks(ranks[:, column], k) for column in range(len(blend_weights))]
    best = max(range(len(blend_weights)), key=lambda column: scores[column].ndcg)
    test, test_ranks = None, None
    if test_pairs is not None and len(test_pairs):
        test_ranks = blended_ranks(table, popularity_weight, log_rules, test_pairs, (blend_weights[best],))[:, 0]
        test = metrics_from_ranks(test_ranks, k)
    return Blend(settings, float(blend_weights[best]), scores[best], test, test_ranks)
