"""The evaluation's inner loop, compiled with Numba: a tile of scores compared once for every popularity weight."""

from __future__ import annotations

from numba import njit, prange


@njit(parallel=True, nogil=True, cache=True)
def count_ahead(scores, first, queries, answers, true_scores, log_counts, true_log_counts, weights, counts):
    """Add to ``counts[i, w]`` the candidates of this tile that outscore query ``i``'s answer under weight ``w``.

    ``scores[i, j]`` is the similarity of query ``i`` and item ``first + j``; a candidate is ahead
    when ``similarity + weight * log_count`` is strictly greater than the answer's (ties favour
    the answer). The query is never a candidate, and the answer is not compared with itself.
    The comparison loop has no branch, so that it runs on SIMD lanes; the query and the
    answer are taken out afterwards.
    """
    rows, width = scores.shape
    tile_counts = log_counts[first:first + width]
    for i in prange(rows):
        row = scores[i]
        for w in range(len(weights)):
            weight = weights[w]
            threshold = true_scores[i] + weight * true_log_counts[i]
            ahead = 0
            for j in range(width):
                ahead += row[j] + weight * tile_counts[j] > threshold
            for own in (queries[i], answers[i]):
                if first <= own < first + width and not (own == answers[i] and own == queries[i]):
                    ahead -= row[own - first] + weight * tile_counts[own - first] > threshold
            counts[i, w] += ahead


@njit(parallel=True, nogil=True, cache=True)
def count_ahead_blended(scores, extra, first, queries, answers, true_scores, true_extra, weights, counts):
    """As ``count_ahead``, with a per-(query, candidate) ``extra`` score added with each weight.

    ``scores[i, j] + weights[w] * extra[i, j]`` is candidate ``first + j``'s blended score for query ``i``.
    """
    rows, width = scores.shape
    for i in prange(rows):
        row, row_extra = scores[i], extra[i]
        for w in range(len(weights)):
            weight = weights[w]
            threshold = true_scores[i] + weight * true_extra[i]
            ahead = 0
            for j in range(width):
                ahead += row[j] + weight * row_extra[j] > threshold
            for own in (queries[i], answers[i]):
                if first <= own < first + width and not (own == answers[i] and own == queries[i]):
                    ahead -= row[own - first] + weight * row_extra[own - first] > threshold
            counts[i, w] += ahead
