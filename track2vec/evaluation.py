"""Playlist completion metrics: from the next-to-last item, find the last one.

Retrieval is exact cosine similarity by batched matrix products (the notebook's
KD-tree took minutes). The query item is never its own candidate. Pairs whose
last item repeats the next-to-last are removed when the corpus is split, since a
completion tool never suggests an item already in the playlist; the corpus
statistics count them.

NDCG@k of one pair is ``1 / log2(rank + 2)`` when the true item has 0-based rank
< k, else 0 (one relevant item, so the ideal DCG is 1); HR@k is 1 when it is in the
top k. Ties in score are broken in favour of the true item (scores within float32
rounding of the true item's may fall either way).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

QUERY_BLOCK_BYTES = 64 * 2**20  # memory for one block of query-by-vocabulary scores (top_k)
RANK_TILE = (512, 8192)  # queries x items scored at once by ranks_of_targets (16 MiB)


@dataclass
class Metrics:
    ndcg: float
    hit_rate: float
    pairs: int
    k: int

    def as_dict(self, prefix: str = "") -> dict:
        return {f"{prefix}{key}": value for key, value in asdict(self).items()}


def normalize(vectors: np.ndarray) -> np.ndarray:
    """Unit-length rows (float32); all-zero rows stay zero."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def _query_blocks(n_queries: int, vocabulary_size: int):
    block = max(1, QUERY_BLOCK_BYTES // (4 * max(vocabulary_size, 1)))
    for start in range(0, n_queries, block):
        yield slice(start, min(start + block, n_queries))


def ranks_of_targets(embeddings: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """0-based rank of ``pairs[:, 1]`` among all items by cosine similarity to ``pairs[:, 0]``.

    Scores are computed and compared one tile of ``RANK_TILE`` (queries x items) at a
    time: a tile stays in cache between the product and the comparison, where a block
    of whole rows went out to memory and back (1.5x quicker at 100,000 items).
    """
    unit = normalize(embeddings)
    tile_queries, tile_items = RANK_TILE
    ranks = np.zeros(len(pairs), dtype=np.int64)
    for start in range(0, len(pairs), tile_queries):
        queries, answers = pairs[start:start + tile_queries, 0], pairs[start:start + tile_queries, 1]
        query_unit = unit[queries]
        true_scores = np.diagonal(query_unit @ unit[answers].T)[:, None]
        counts = ranks[start:start + tile_queries]
        for first in range(0, len(unit), tile_items):
            scores = query_unit @ unit[first:first + tile_items].T
            counts += np.count_nonzero(scores > true_scores, axis=1)
            # The query is never a candidate, and the answer never outranks itself (its score
            # in this tile may differ from true_scores in the last bit).
            for own in (queries, answers):
                row = np.flatnonzero((own >= first) & (own < first + tile_items))
                counts[row] -= scores[row, own[row] - first] > true_scores[row, 0]
    return ranks


def metrics_from_ranks(ranks: np.ndarray, k: int = 10) -> Metrics:
    """NDCG@k and HR@k from 0-based ranks."""
    hits = ranks < k
    gains = np.where(hits, 1.0 / np.log2(ranks + 2.0), 0.0)
    return Metrics(float(gains.mean()) if len(ranks) else 0.0, float(hits.mean()) if len(ranks) else 0.0, len(ranks), k)


def evaluate(embeddings: np.ndarray, pairs: np.ndarray, k: int = 10) -> Metrics:
    """NDCG@k and HR@k of nearest-neighbour completion with ``embeddings``."""
    return metrics_from_ranks(ranks_of_targets(embeddings, pairs), k)


def popularity_baseline(counts: np.ndarray, pairs: np.ndarray, k: int = 10) -> Metrics:
    """Metrics of always suggesting the most frequent items (the query item left out)."""
    popularity_rank = np.empty(len(counts), dtype=np.int64)
    popularity_rank[np.argsort(-counts, kind="stable")] = np.arange(len(counts))
    answer_rank = popularity_rank[pairs[:, 1]]
    query_ahead = popularity_rank[pairs[:, 0]] < answer_rank
    return metrics_from_ranks(answer_rank - query_ahead, k)


def top_k(embeddings: np.ndarray, queries: np.ndarray, k: int = 10, exclude: list[np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest items to each query vector by cosine: (ids [n, k], scores [n, k]).

    ``queries`` are vectors [n, dim]; ``exclude[i]`` lists item ids never returned for query i.
    Equal scores are ordered by item id.
    """
    unit = normalize(embeddings)
    query_unit = normalize(queries)
    k = min(k, len(unit))
    ids = np.empty((len(queries), k), dtype=np.int64)
    best = np.empty((len(queries), k), dtype=np.float32)
    for block in _query_blocks(len(queries), len(unit)):
        scores = query_unit[block] @ unit.T
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
