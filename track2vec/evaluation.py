"""Playlist completion metrics: from the next-to-last item, find the last one.

Retrieval is exact, by batched matrix products (the notebook's KD-tree took minutes), under
a :mod:`track2vec.scoring` choice (cosine by default). The query item is never its own
candidate. Pairs whose last item repeats the next-to-last are removed when the corpus is
split, since a completion tool never suggests an item already in the playlist; the corpus
statistics count them.

NDCG@k of one pair is ``1 / log2(rank + 2)`` when the true item has 0-based rank
< k, else 0 (one relevant item, so the ideal DCG is 1); HR@k is 1 when it is in the
top k. Ties in score are broken in favour of the true item (scores within float32
rounding of the true item's may fall either way).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from track2vec.scoring import CONTEXT_SCORINGS, POPULARITY_WEIGHTS, SCORINGS, Scoring, ScoreTable, score_table, unit_rows

QUERY_BLOCK_BYTES = 64 * 2**20  # memory for one block of query-by-vocabulary scores (top_k)
# Queries x items scored at once by rank_targets: a tile stays in cache between the product
# and the comparisons, where whole rows would go out to memory and back.
RANK_TILE = (512, 8192)


@dataclass
class Metrics:
    ndcg: float
    hit_rate: float
    pairs: int
    k: int

    def as_dict(self, prefix: str = "") -> dict:
        return {f"{prefix}{key}": value for key, value in asdict(self).items()}


normalize = unit_rows  # the name the rest of the project has used


def _query_blocks(n_queries: int, vocabulary_size: int):
    block = max(1, QUERY_BLOCK_BYTES // (4 * max(vocabulary_size, 1)))
    for start in range(0, n_queries, block):
        yield slice(start, min(start + block, n_queries))


def rank_targets(table: ScoreTable, pairs: np.ndarray, popularity_weights: Sequence[float] = (0.0,),
                 base: np.ndarray | None = None) -> np.ndarray:
    """0-based rank of ``pairs[:, 1]`` among all items for query ``pairs[:, 0]``, under each popularity weight.

    Returns int64 [len(pairs), len(popularity_weights)]. Every tile of similarities is
    computed once and compared for all the weights in one pass (``ranking_kernels``).
    ``base`` (float32 [len(pairs), vocabulary]) adds ``base[i, j]`` to candidate ``j``'s similarity for pair
    ``i``: the scores of other models summed (``track2vec.ensemble``, ``pair_scores``).
    """
    from track2vec.ranking_kernels import count_ahead

    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    weights = np.asarray(popularity_weights, dtype=np.float32)
    tile_queries, tile_items = RANK_TILE
    ranks = np.zeros((len(pairs), len(weights)), dtype=np.int64)
    for start in range(0, len(pairs), tile_queries):
        queries, answers = pairs[start:start + tile_queries, 0], pairs[start:start + tile_queries, 1]
        query_vectors = table.queries[queries]
        true_scores = np.einsum("ij,ij->i", query_vectors, table.items[answers]).astype(np.float32)
        if table.item_bias is not None:
            true_scores += table.item_bias[answers]
        if base is not None:
            true_scores += base[np.arange(start, start + len(queries)), answers]
        true_log_counts = table.log_counts[answers]
        counts = ranks[start:start + tile_queries]
        for first in range(0, len(table.items), tile_items):
            scores = query_vectors @ table.items[first:first + tile_items].T
            if table.item_bias is not None:
                scores += table.item_bias[first:first + tile_items]
            if base is not None:
                scores += base[start:start + tile_queries, first:first + tile_items]
            count_ahead(scores, table.log_counts[None, first:first + tile_items], first, queries, answers, true_scores,
                        true_log_counts, weights, counts)
        counts[~np.isfinite(true_scores)] = len(table.items)  # a diverged model finds nothing
    return ranks


def pair_scores(table: ScoreTable, pairs: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Every candidate's similarity (with the item bias, without the popularity term) for each pair's query:
    float32 [len(pairs), vocabulary], added to ``out`` where given (a sum over models, ``rank_targets``' base)."""
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if out is None:
        out = np.zeros((len(pairs), len(table.items)), dtype=np.float32)
    for block in _query_blocks(len(pairs), len(table.items)):
        scores = table.queries[pairs[block, 0]] @ table.items.T
        if table.item_bias is not None:
            scores += table.item_bias
        out[block] += scores
    return out


def ranks_of_targets(embeddings: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """0-based rank of ``pairs[:, 1]`` among all items by cosine similarity to ``pairs[:, 0]``."""
    return rank_targets(score_table("cosine", embeddings, np.ones(len(embeddings))), pairs)[:, 0]


def pair_gains(ranks: np.ndarray, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Per-pair NDCG@k gains (``1 / log2(rank + 2)`` below k, else 0, float64) and hits (bool) from 0-based ranks.

    The metrics of a set of pairs are the means of these; :mod:`track2vec.intervals` resamples them.
    """
    hits = ranks < k
    return np.where(hits, 1.0 / np.log2(ranks + 2.0), 0.0), hits


def metrics_from_ranks(ranks: np.ndarray, k: int = 10) -> Metrics:
    """NDCG@k and HR@k from 0-based ranks."""
    gains, hits = pair_gains(ranks, k)
    return Metrics(float(gains.mean()) if len(ranks) else 0.0, float(hits.mean()) if len(ranks) else 0.0, len(ranks), k)


def evaluate(embeddings: np.ndarray, pairs: np.ndarray, k: int = 10) -> Metrics:
    """NDCG@k and HR@k of nearest-neighbour completion by cosine with ``embeddings``."""
    return metrics_from_ranks(ranks_of_targets(embeddings, pairs), k)


def evaluate_with(table: ScoreTable, pairs: np.ndarray, popularity_weight: float = 0.0, k: int = 10) -> Metrics:
    """NDCG@k and HR@k of ranking by ``table``'s similarity plus ``popularity_weight * log(count)``."""
    return metrics_from_ranks(rank_targets(table, pairs, (popularity_weight,))[:, 0], k)


@dataclass(frozen=True)
class ScoredMetrics:
    """The metrics of one scoring on some pairs."""

    scoring: Scoring
    metrics: Metrics


def evaluate_scorings(embeddings: np.ndarray, counts: np.ndarray, pairs: np.ndarray,
                      context_embeddings: np.ndarray | None = None, methods: Sequence[str] = SCORINGS,
                      popularity_weights: Sequence[float] = POPULARITY_WEIGHTS, k: int = 10,
                      context_bias: np.ndarray | None = None) -> list[ScoredMetrics]:
    """The metrics of every (method, popularity weight) on ``pairs``; the scorings of context vectors only where
    there are context vectors."""
    results = []
    for method in methods:
        if method in CONTEXT_SCORINGS and context_embeddings is None:
            continue
        table = score_table(method, embeddings, counts, context_embeddings, context_bias)
        ranks = rank_targets(table, pairs, popularity_weights)
        results += [ScoredMetrics(Scoring(method, float(weight)), metrics_from_ranks(ranks[:, column], k))
                    for column, weight in enumerate(popularity_weights)]
    return results


def best_scoring(results: Sequence[ScoredMetrics]) -> ScoredMetrics:
    """The result with the highest NDCG; on a tie, the first (simplest) one."""
    return max(results, key=lambda result: result.metrics.ndcg)


def popularity_ranks(counts: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """0-based rank of ``pairs[:, 1]`` in the list of the most frequent items (the query item left out)."""
    popularity_rank = np.empty(len(counts), dtype=np.int64)
    popularity_rank[np.argsort(-counts, kind="stable")] = np.arange(len(counts))
    answer_rank = popularity_rank[pairs[:, 1]]
    query_ahead = popularity_rank[pairs[:, 0]] < answer_rank
    return answer_rank - query_ahead


def popularity_baseline(counts: np.ndarray, pairs: np.ndarray, k: int = 10) -> Metrics:
    """Metrics of always suggesting the most frequent items (the query item left out)."""
    return metrics_from_ranks(popularity_ranks(counts, pairs), k)


def top_k(table: ScoreTable | np.ndarray, queries: np.ndarray, k: int = 10, exclude: list[np.ndarray] | None = None,
          popularity_weight: float = 0.0, extra=None) -> tuple[np.ndarray, np.ndarray]:
    """The k best items for each query vector: (ids [n, k], scores [n, k]), best first.

    ``table`` is a :class:`ScoreTable`, or plain embeddings for cosine similarity; ``queries`` are
    query vectors [n, dim] (rows of ``table.queries`` or combinations of them);
    ``exclude[i]`` lists item ids never returned for query i. Equal scores are ordered by item id.
    ``extra = (weight, matrix, rows)`` adds ``weight * matrix[rows[i]]`` (a sparse matrix) to query i's scores.
    """
    if not isinstance(table, ScoreTable):
        table = score_table("cosine", table, np.ones(len(table)))
    queries = np.asarray(queries, dtype=np.float32)
    if table.normalize_queries:
        queries = unit_rows(queries)
    bias = table.bias(popularity_weight)
    k = min(k, len(table.items))
    ids = np.empty((len(queries), k), dtype=np.int64)
    best = np.empty((len(queries), k), dtype=np.float32)
    for block in _query_blocks(len(queries), len(table.items)):
        scores = queries[block] @ table.items.T
        if bias is not None:
            scores += bias
        if extra is not None:
            weight, matrix, rows = extra
            scores += weight * matrix[rows[block]].toarray()
        if exclude is not None:
            for row, banned in enumerate(exclude[block]):
                scores[row, np.asarray(banned, dtype=np.int64)] = -np.inf
        ids[block], best[block] = _largest(scores, k)
    return ids, best


SCORE_GROUP = 64  # columns per group; a group's maximum bounds its members' scores


def _largest(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Column ids and values of each row's k largest scores, best first (ties by column id).

    A partition of every full row costs several times the matrix product. Instead the
    columns are split into groups of ``SCORE_GROUP``: the k-th largest group maximum
    of a row is a score that at least k of its columns reach, and only the members of
    the groups that reach it (about k groups) are sorted.
    """
    rows, width = scores.shape
    groups = width // SCORE_GROUP
    if groups < k:
        return _first_k(scores, np.arange(rows).repeat(width), np.tile(np.arange(width), rows), k, rows)
    # Group g holds the columns g, g + groups, g + 2 * groups, ...: its maximum is an
    # element-wise maximum over contiguous slabs, which NumPy vectorises.
    maxima = scores[:, : groups * SCORE_GROUP].reshape(rows, SCORE_GROUP, groups).max(axis=1)
    threshold = np.partition(maxima, -k, axis=1)[:, -k]
    row, group = np.nonzero(maxima >= threshold[:, None])
    columns = (group[:, None] + groups * np.arange(SCORE_GROUP)).ravel()
    row = row.repeat(SCORE_GROUP)
    tail = np.arange(groups * SCORE_GROUP, width)  # the few columns past the last whole slab
    row = np.concatenate([row, np.arange(rows).repeat(len(tail))])
    columns = np.concatenate([columns, np.tile(tail, rows)])
    return _first_k(scores, row, columns, k, rows, threshold)


def _first_k(scores: np.ndarray, row: np.ndarray, column: np.ndarray, k: int, rows: int,
             threshold: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The k best of the candidate (row, column) cells of each row, best first."""
    value = scores[row, column]
    if threshold is not None:
        keep = value >= threshold[row]
        row, column, value = row[keep], column[keep], value[keep]
    counts = np.bincount(row, minlength=rows)
    if (counts < k).any():  # NaN scores (a diverged model) compare false: rank them last
        return _largest(np.where(np.isnan(scores), -np.inf, scores), k)
    order = np.lexsort((column, -value, row))  # by row, then best score, then id
    starts = np.cumsum(counts) - counts
    first = order[(starts[:, None] + np.arange(k)).ravel()]
    return column[first].reshape(rows, k), value[first].reshape(rows, k)
