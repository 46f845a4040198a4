"""Scoring: ranks under every similarity and popularity weight, the choice on validation, and recommend's agreement."""

from __future__ import annotations

import numpy as np
import pytest

from track2vec.errors import ConfigError, DataError
from track2vec.evaluation import best_scoring, evaluate_scorings, evaluate_with, metrics_from_ranks, rank_targets
from track2vec.export import read_export, write_export
from track2vec.recommend import Recommender
from track2vec.scoring import POPULARITY_WEIGHTS, Scoring, Vectors, score_table
from track2vec.vocabulary import Vocabulary

RANDOM = np.random.default_rng(11)
V, DIM = 60, 6
TARGETS = RANDOM.normal(size=(V, DIM)).astype(np.float32)
CONTEXTS = RANDOM.normal(size=(V, DIM)).astype(np.float32)
COUNTS = np.sort(RANDOM.integers(1, 500, V))[::-1].copy()
PAIRS = np.array([(a, b) for a, b in RANDOM.integers(0, V, (300, 2)) if a != b])


def brute_force_scores(method: str, weight: float) -> np.ndarray:
    """[V, V] in float64: score of candidate j for query q."""
    if method == "cosine":
        unit = TARGETS / np.linalg.norm(TARGETS, axis=1, keepdims=True)
        similarity = unit.astype(np.float64) @ unit.astype(np.float64).T
    elif method == "target-context":
        similarity = TARGETS.astype(np.float64) @ CONTEXTS.astype(np.float64).T
    else:  # symmetric: the target-context logit both ways
        forward = TARGETS.astype(np.float64) @ CONTEXTS.astype(np.float64).T
        similarity = forward + forward.T
    return similarity + weight * np.log(COUNTS.astype(np.float64))[None, :]


def brute_force_rank(scores: np.ndarray, query: int, answer: int) -> int:
    """How many candidates (not the query, not the answer) score strictly more than the answer."""
    ahead = scores[query] > scores[query, answer]
    ahead[[query, answer]] = False
    return int(ahead.sum())


@pytest.mark.parametrize("method", ["cosine", "target-context", "symmetric"])
def test_ranks_under_every_popularity_weight_equal_brute_force(method, monkeypatch):
    import track2vec.evaluation as evaluation

    monkeypatch.setattr(evaluation, "RANK_TILE", (7, 16))  # several tiles of queries and of items
    table = score_table(method, TARGETS, COUNTS, CONTEXTS)
    weights = (0.0, 0.5, 1.5)
    ranks = rank_targets(table, PAIRS, weights)
    for column, weight in enumerate(weights):
        scores = brute_force_scores(method, weight)
        expected = [brute_force_rank(scores, q, a) for q, a in PAIRS]
        assert (ranks[:, column] == expected).mean() > 0.99  # float32 against float64: rare near-ties differ
        assert np.abs(ranks[:, column] - expected).max() <= 1


def test_several_weights_at_once_equal_one_at_a_time():
    table = score_table("target-context", TARGETS, COUNTS, CONTEXTS)
    together = rank_targets(table, PAIRS, POPULARITY_WEIGHTS)
    for column, weight in enumerate(POPULARITY_WEIGHTS):
        np.testing.assert_array_equal(together[:, column], rank_targets(table, PAIRS, (weight,))[:, 0])


def test_a_diverged_model_finds_nothing():
    broken = TARGETS.copy()
    broken[3] = np.nan
    ranks = rank_targets(score_table("target-context", broken, COUNTS, CONTEXTS), np.array([[3, 5], [4, 5]]))
    assert ranks[0, 0] == V and ranks[1, 0] < V


def test_the_best_scoring_on_validation_is_the_argmax_and_target_context_needs_context_vectors():
    results = evaluate_scorings(TARGETS, COUNTS, PAIRS, CONTEXTS)
    assert len(results) == 3 * len(POPULARITY_WEIGHTS)
    best = best_scoring(results)
    assert best.metrics.ndcg == max(result.metrics.ndcg for result in results)
    table = score_table(best.scoring.method, TARGETS, COUNTS, CONTEXTS)
    assert evaluate_with(table, PAIRS, best.scoring.popularity_weight).ndcg == pytest.approx(best.metrics.ndcg)
    assert {r.scoring.method for r in evaluate_scorings(TARGETS, COUNTS, PAIRS, None)} == {"cosine"}


def test_only_vectors_with_context_vectors_can_rank_by_the_context_scorings():
    rng = np.random.default_rng(0)
    tied = Vectors(rng.normal(size=(5, 3)).astype(np.float32))
    separate = Vectors(tied.embeddings, rng.normal(size=(5, 3)).astype(np.float32))
    assert [tied.can_score(m) for m in ("cosine", "target-context", "symmetric")] == [True, False, False]
    assert all(separate.can_score(m) for m in ("cosine", "target-context", "symmetric"))


def test_popularity_weight_moves_popular_items_up():
    # Identical vectors: only the popularity term separates the candidates.
    same = np.ones((V, DIM), dtype=np.float32)
    table = score_table("cosine", same, COUNTS)
    popular, rare = np.array([[10, 0]]), np.array([[10, V - 1]])  # ids are ordered by count
    assert rank_targets(table, popular, (1.0,))[0, 0] == 0
    assert rank_targets(table, rare, (1.0,))[0, 0] == V - 2
    assert rank_targets(table, rare, (0.0,))[0, 0] == 0  # without it, all tie (ties favour the answer)


@pytest.mark.parametrize("values", [{"method": "dot"}, {"popularity_weight": -1.0}, {"popularity_weight": "x"}])
def test_bad_scorings_are_config_errors(values):
    with pytest.raises(ConfigError):
        Scoring.from_dict(values)


def test_target_context_needs_the_sgns_architecture():
    from track2vec.config import TrainConfig

    with pytest.raises(ConfigError, match="sgns"):
        TrainConfig(architecture="tied-cosine", scoring="target-context")
    assert TrainConfig(architecture="tied-cosine").scoring_methods() == ("cosine",)
    with pytest.raises(ConfigError, match="context vectors"):
        TrainConfig(architecture="tied-cosine", scoring="symmetric")
    assert TrainConfig(architecture="sgns").scoring_methods() == ("cosine", "target-context", "symmetric")
    assert TrainConfig(popularity_weight=0.5).popularity_weights() == (0.5,)


def _export(tmp_path, scoring: Scoring, contexts: np.ndarray | None = CONTEXTS):
    items = np.array([f"track_{i}" for i in range(V)])
    vocabulary = Vocabulary(items, COUNTS.astype(np.int64), np.array([f"artist_{i % 7}" for i in range(V)]))
    return write_export(tmp_path / "export", TARGETS, vocabulary, {"scoring": scoring.as_dict()},
                        context_embeddings=contexts)


@pytest.mark.parametrize("scoring", [Scoring("target-context", 1.25), Scoring("symmetric", 0.75), Scoring("cosine", 0.5),
                                     Scoring("cosine", 0.0)])
def test_recommend_ranks_candidates_exactly_as_the_evaluation_does(tmp_path, scoring):
    path = _export(tmp_path, scoring)
    export = read_export(path)
    assert export.scoring == scoring
    recommender = Recommender.from_export(path)
    table = export.score_table()
    for query in range(0, V, 7):
        suggestions = recommender.complete([f"track_{query}"], k=10)
        ids = [int(s.item.removeprefix("track_")) for s in suggestions]
        # The evaluation's rank of each suggestion for this query is its position in the list.
        pairs = np.array([[query, item] for item in ids])
        np.testing.assert_array_equal(rank_targets(table, pairs, (scoring.popularity_weight,))[:, 0], range(10))
        # And every item the evaluation ranks in the top 10 is suggested.
        everything = np.array([[query, item] for item in range(V) if item != query])
        ranks = rank_targets(table, everything, (scoring.popularity_weight,))[:, 0]
        assert set(everything[ranks < 10, 1].tolist()) == set(ids)


@pytest.mark.parametrize("method", ["target-context", "symmetric"])
def test_an_export_asking_for_context_scoring_without_context_vectors_is_refused(tmp_path, method):
    path = _export(tmp_path, Scoring(method, 1.0), contexts=None)
    with pytest.raises(DataError, match="context_embeddings.npy"):
        read_export(path)


def test_an_export_without_a_scoring_is_read_as_cosine(tmp_path):
    items = np.array([f"track_{i}" for i in range(V)])
    path = write_export(tmp_path / "old", TARGETS, Vocabulary(items, COUNTS.astype(np.int64)), {})
    assert read_export(path).scoring == Scoring("cosine", 0.0)
    ranks = rank_targets(read_export(path).score_table(), PAIRS)[:, 0]
    np.testing.assert_array_equal(metrics_from_ranks(ranks).ndcg, evaluate_with(score_table("cosine", TARGETS, COUNTS), PAIRS).ndcg)


@pytest.mark.parametrize("method", ["target-context", "symmetric"])
def test_a_learnt_context_bias_is_part_of_the_context_scores(tmp_path, monkeypatch, method):
    import track2vec.evaluation as evaluation

    monkeypatch.setattr(evaluation, "RANK_TILE", (9, 13))
    bias = RANDOM.normal(size=V).astype(np.float32)
    table = score_table(method, TARGETS, COUNTS, CONTEXTS, bias)
    scores = brute_force_scores(method, 0.5) + bias[None, :]
    expected = [brute_force_rank(scores, q, a) for q, a in PAIRS]
    ranks = rank_targets(table, PAIRS, (0.5,))[:, 0]
    assert (ranks == expected).mean() > 0.99 and np.abs(ranks - expected).max() <= 1
    items = np.array([f"track_{i}" for i in range(V)])
    path = write_export(tmp_path / "biased", TARGETS, Vocabulary(items, COUNTS.astype(np.int64)),
                        {"scoring": Scoring(method, 0.5).as_dict()}, context_embeddings=CONTEXTS,
                        context_bias=bias)
    np.testing.assert_array_equal(read_export(path).context_bias, bias)
    suggested = Recommender.from_export(path).complete(["track_4"], k=10)
    pairs = np.array([[4, int(s.item.removeprefix("track_"))] for s in suggested])
    np.testing.assert_array_equal(rank_targets(read_export(path).score_table(), pairs, (0.5,))[:, 0], range(10))
