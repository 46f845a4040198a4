"""The evaluation's inner loops, compiled with Numba: a tile of scores compared once for every weight, and a
count model's sparse rows ranked without expanding them."""

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


@njit(parallel=True, nogil=True, cache=True)
def rule_ranks(indptr, indices, data, queries, answers, ranks):
    """``ranks[i]``: 0-based rank of ``answers[i]`` for ``queries[i]`` under the CSR rule scores
    (``indptr``, ``indices``, ``data``), ties and unscored candidates ordered by popularity (smaller id).

    A scored candidate is ahead when its score is greater than the answer's, or equal with a smaller id.
    An answer that no rule reaches (score 0) has ahead of it every scored candidate and every unscored
    one with a smaller id; the query is never a candidate. Each row is read twice: once for the
    answer's score, once to count.
    """
    for i in prange(len(queries)):
        query, answer = queries[i], answers[i]
        start, end = indptr[query], indptr[query + 1]
        true_score = 0.0
        for position in range(start, end):
            if indices[position] == answer:
                true_score = data[position]
        ahead = 0
        scored = 0
        scored_more_popular = 0
        for position in range(start, end):
            column = indices[position]
            if column == query:
                continue
            value = data[position]
            scored += 1
            scored_more_popular += column < answer
            ahead += value > true_score or (value == true_score and column < answer)
        if true_score == 0:
            ahead = scored + (answer - scored_more_popular - (query < answer))
        ranks[i] = ahead
