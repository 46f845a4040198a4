"""The evaluation's inner loop, compiled with Numba: a tile of scores compared once for every weight."""

from __future__ import annotations

from numba import njit, prange


@njit(parallel=True, nogil=True, cache=True)
def count_ahead(scores, extra, first, queries, answers, true_scores, true_extra, weights, counts):
    """Add to ``counts[i, w]`` the candidates of this tile that outscore query ``i``'s answer under weight ``w``.

    ``scores[i, j]`` is the similarity of query ``i`` and item ``first + j``, and candidate ``j``
    scores ``scores[i, j] + weights[w] * extra[i, j]``: ``extra`` has one row per query (the
    blend's rule scores) or one row for all of them (the items' log counts), and
    ``true_scores``/``true_extra`` are the answers' own. A candidate is ahead when its score is
    strictly greater than the answer's (ties favour the answer). The query is never a
    candidate, and the answer is not compared with itself. The comparison loop has no branch,
    so that it runs on SIMD lanes; the query and the answer are taken out afterwards.
    """
    rows, width = scores.shape
    for i in prange(rows):
        row = scores[i]
        row_extra = extra[i] if extra.shape[0] > 1 else extra[0]
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
