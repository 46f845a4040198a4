"""Completion metrics: exact cosine ranks, NDCG/HR, popularity baseline, top-k retrieval."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

import track2vec.evaluation as evaluation
from track2vec.evaluation import (evaluate, metrics_from_ranks, popularity_baseline, popularity_ranks, ranks_of_targets,
                                  top_k)

# Item 0 and 1 point the same way, 2 is orthogonal to them, 3 opposite; 4 is 0 scaled.
HAND = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [5.0, 0.0]])


def cosine_scores(embeddings: np.ndarray, queries: np.ndarray) -> np.ndarray:
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    query_unit = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    return query_unit.astype(np.float64) @ unit.astype(np.float64).T


def brute_force_rank(embeddings: np.ndarray, query: int, target: int) -> tuple[int, float]:
    """Sort every other item by cosine to the query (ties: the target first); the target's position.

    Also returns the smallest score gap between the target and any other candidate.
    """
    scores = cosine_scores(embeddings, embeddings[[query]])[0]
    candidates = [i for i in range(len(embeddings)) if i != query]
    ordered = sorted(candidates, key=lambda i: (-scores[i], i != target))
    gap = min(abs(scores[i] - scores[target]) for i in candidates if i != target)
    return ordered.index(target), gap


def test_ndcg_of_rank_r_is_one_over_log2_r_plus_2():
    for k in (1, 5, 10):
        for rank in range(15):
            metrics = metrics_from_ranks(np.array([rank]), k)
            assert metrics.ndcg == pytest.approx(1 / math.log2(rank + 2) if rank < k else 0.0)
            assert metrics.hit_rate == (1.0 if rank < k else 0.0)
            assert metrics.pairs == 1 and metrics.k == k
    assert metrics_from_ranks(np.array([0, 1, 9, 10]), 10).ndcg == pytest.approx((1 + 1 / math.log2(3) + 1 / math.log2(11)) / 4)


@pytest.mark.parametrize("tile", [None, (2, 2)])  # default, and tiles that split the ties apart
def test_hand_built_embeddings_give_exact_ranks_and_metrics(monkeypatch, tile):
    if tile:
        monkeypatch.setattr(evaluation, "RANK_TILE", tile)
    pairs = np.array([[0, 1], [0, 2], [0, 3], [2, 3], [3, 2]])
    # From 0: items 1 and 4 tie at cosine 1 (ties favour the true item), 2 at 0, 3 at -1;
    # 0 itself (cosine 1) is never a candidate. From 2 every other item is at cosine 0 (a tie).
    np.testing.assert_array_equal(ranks_of_targets(HAND, pairs), [0, 2, 3, 0, 0])
    metrics = evaluate(HAND, pairs, k=3)
    assert metrics.hit_rate == pytest.approx(4 / 5)
    assert metrics.ndcg == pytest.approx((1 + 1 / math.log2(4) + 0 + 1 + 1) / 5)
    assert metrics.pairs == 5
    assert evaluate(HAND, pairs, k=1).ndcg == pytest.approx(3 / 5)
    assert evaluate(HAND, pairs, k=10).hit_rate == 1.0


def test_the_query_is_not_its_own_candidate():
    embeddings = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    assert ranks_of_targets(embeddings, np.array([[0, 1], [1, 0], [2, 1]])).tolist() == [0, 0, 0]
    assert evaluate(embeddings, np.array([[0, 1]]), k=1).ndcg == 1.0


@pytest.mark.parametrize("tile", [None, (7, 50)])  # default, and tiles of 7 queries x 50 items
def test_ranks_and_metrics_agree_with_brute_force_sort(monkeypatch, tile):
    if tile:
        monkeypatch.setattr(evaluation, "RANK_TILE", tile)
    rng = np.random.default_rng(0)
    embeddings = rng.normal(size=(300, 16)) * rng.uniform(0.1, 10, (300, 1))  # cosine ignores lengths
    queries = rng.integers(0, 300, 400)
    targets = (queries + rng.integers(1, 300, 400)) % 300
    pairs = np.stack([queries, targets], axis=1)
    ranks = ranks_of_targets(embeddings, pairs)
    reference = []
    for (query, target), rank in zip(pairs, ranks):
        expected, gap = brute_force_rank(embeddings, query, target)
        if gap > 1e-5:  # float32 cannot order closer scores reliably
            assert rank == expected
        reference.append(expected)
    reference = np.array(reference)
    assert np.mean(ranks == reference) > 0.99
    for k in (1, 10, 50):
        metrics = evaluate(embeddings, pairs, k)
        gains = np.where(reference < k, 1 / np.log2(reference + 2.0), 0.0)
        assert metrics.ndcg == pytest.approx(gains.mean(), abs=2e-3)
        assert metrics.hit_rate == pytest.approx(np.mean(reference < k), abs=2e-3)


def brute_force_popularity(counts: np.ndarray, pairs: np.ndarray, k: int) -> tuple[float, float]:
    """Suggest the k most frequent items other than the query (equal counts: lower id first)."""
    order = sorted(range(len(counts)), key=lambda i: (-counts[i], i))
    ndcg = hits = 0.0
    for query, target in pairs:
        suggestions = [i for i in order if i != query][:k]
        if target in suggestions:
            hits += 1
            ndcg += 1 / math.log2(suggestions.index(target) + 2)
    return ndcg / len(pairs), hits / len(pairs)


@pytest.mark.parametrize("k", [1, 3, 10])
def test_popularity_baseline_equals_brute_force(k):
    rng = np.random.default_rng(k)
    counts = rng.integers(1, 8, 40)  # many ties, in no particular order
    queries = rng.integers(0, 40, 500)
    pairs = np.stack([queries, (queries + rng.integers(1, 40, 500)) % 40], axis=1)
    # Make the most popular items frequent queries and answers too.
    top_two = np.argsort(-counts, kind="stable")[:2]
    pairs[:25], pairs[25:50] = top_two, top_two[::-1]
    metrics = popularity_baseline(counts, pairs, k)
    ndcg, hit_rate = brute_force_popularity(counts, pairs, k)
    assert metrics.ndcg == pytest.approx(ndcg)
    assert metrics.hit_rate == pytest.approx(hit_rate)
    assert metrics.pairs == len(pairs)


def test_popularity_ranks_are_the_answers_places_in_the_list_without_the_query():
    counts = np.array([5, 9, 9, 1, 7])  # the list: 1, 2, 4, 0, 3 (equal counts: lower id first)
    pairs = np.array([[1, 2], [2, 1], [0, 3], [3, 0], [4, 1]])
    order = sorted(range(len(counts)), key=lambda i: (-counts[i], i))
    expected = [[i for i in order if i != query].index(answer) for query, answer in pairs]
    np.testing.assert_array_equal(popularity_ranks(counts, pairs), expected)
    assert expected == [0, 0, 3, 3, 0]


def test_popularity_baseline_by_hand():
    counts = np.array([50, 40, 30, 20])
    pairs = np.array([[0, 1], [1, 0], [0, 2], [3, 2], [1, 3]])
    # Lists without the query: for 0 -> [1, 2, 3]; 1 -> [0, 2, 3]; 3 -> [0, 1, 2].
    metrics = popularity_baseline(counts, pairs, k=2)
    assert metrics.hit_rate == pytest.approx(3 / 5)
    assert metrics.ndcg == pytest.approx((1 + 1 + 1 / math.log2(3)) / 5)


def test_top_k_agrees_with_sklearn_cosine_neighbours():
    rng = np.random.default_rng(1)
    embeddings = rng.normal(size=(500, 12))
    queries = rng.normal(size=(60, 12))
    ids, scores = top_k(embeddings, queries, k=10)
    assert ids.shape == scores.shape == (60, 10)
    distances, expected_ids = NearestNeighbors(n_neighbors=10, metric="cosine", algorithm="brute").fit(embeddings).kneighbors(queries)
    np.testing.assert_allclose(scores, 1 - distances, atol=1e-5)  # the same k best scores, best first
    true_scores = np.take_along_axis(cosine_scores(embeddings, queries), ids, axis=1)
    np.testing.assert_allclose(scores, true_scores, atol=1e-5)  # and they belong to the returned ids
    assert np.mean(ids == expected_ids) > 0.99


def test_top_k_respects_exclude():
    rng = np.random.default_rng(2)
    embeddings = rng.normal(size=(200, 8))
    queries = embeddings[:30]
    plain, _ = top_k(embeddings, queries, k=5)
    assert plain[:, 0].tolist() == list(range(30))  # an item's own vector is its nearest neighbour
    exclude = [np.array([q, *rng.choice(200, 10, replace=False)]) for q in range(30)]
    exclude[3] = np.array([], dtype=np.int64)
    ids, scores = top_k(embeddings, queries, k=5, exclude=exclude)
    all_scores = cosine_scores(embeddings, queries)
    for row in range(30):
        assert not set(ids[row].tolist()) & set(exclude[row].tolist())
        allowed = np.setdiff1d(np.arange(200), exclude[row])
        best = allowed[np.argsort(-all_scores[row, allowed], kind="stable")[:5]]
        np.testing.assert_allclose(scores[row], all_scores[row, best], atol=1e-5)
    assert ids[3, 0] == 3


def test_top_k_orders_ties_by_id_and_works_with_fewer_items_than_a_group():
    embeddings = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 0.0], [1.0, 1.0], [3.0, 0.0], [0.0, -1.0]])
    ids, scores = top_k(embeddings, np.array([[1.0, 0.0]]), k=4)
    assert ids.tolist() == [[0, 2, 4, 3]]  # three exact ties first, in id order
    np.testing.assert_allclose(scores[0], [1, 1, 1, np.sqrt(0.5)], atol=1e-6)
    ids, _ = top_k(embeddings, np.array([[1.0, 0.0]]), k=20)
    assert ids.shape == (1, 6) and sorted(ids[0].tolist()) == list(range(6))


def test_top_k_over_many_groups_matches_a_full_sort_and_ranks_nan_last():
    rng = np.random.default_rng(3)
    embeddings = rng.normal(size=(1000, 6)).astype(np.float32)  # 1000 items: 15 full groups and a tail
    queries = rng.normal(size=(40, 6)).astype(np.float32)
    ids, scores = top_k(embeddings, queries, k=10)
    reference = cosine_scores(embeddings, queries)
    np.testing.assert_array_equal(ids, np.argsort(-reference, axis=1, kind="stable")[:, :10])
    broken = embeddings.copy()
    broken[ids[0, 0]] = np.nan
    ids_nan, _ = top_k(broken, queries[:1], k=10)
    assert ids[0, 0] not in ids_nan[0] and ids_nan[0].tolist() == ids[0, 1:].tolist() + [ids_nan[0, -1]]


def test_pair_gains_are_the_per_pair_terms_whose_means_are_the_metrics():
    ranks = np.array([0, 1, 4, 5, 30])
    gains, hits = evaluation.pair_gains(ranks, k=5)
    np.testing.assert_allclose(gains, [1.0, 1 / math.log2(3), 1 / math.log2(6), 0.0, 0.0])
    assert hits.tolist() == [True, True, True, False, False]
    metrics = metrics_from_ranks(ranks, k=5)
    assert (metrics.ndcg, metrics.hit_rate) == (gains.mean(), hits.mean())
