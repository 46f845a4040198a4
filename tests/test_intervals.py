"""Paired bootstrap intervals: against a plain loop, their guarantees, reproducibility, bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from track2vec.errors import ConfigError
from track2vec.intervals import BootstrapIntervals, paired_bootstrap


def brute_force(ranks: dict[str, list[int]], k: int, differences, resamples: int, seed: int, confidence: float) -> dict:
    """The bootstrap as a loop over resamples and pairs: {(system or (first, second), metric): (value, low, high)}."""
    n = len(next(iter(ranks.values())))
    rng = np.random.default_rng(seed)
    draws = [rng.integers(0, n, n).tolist() for _ in range(resamples)]

    def per_pair(name: str, metric: str) -> list[float]:
        if metric == "ndcg":
            return [1 / math.log2(rank + 2) if rank < k else 0.0 for rank in ranks[name]]
        return [1.0 if rank < k else 0.0 for rank in ranks[name]]

    def quantile(ordered: list[float], q: float) -> float:  # linear interpolation between order statistics
        position = q * (len(ordered) - 1)
        below = math.floor(position)
        above = min(below + 1, len(ordered) - 1)
        return ordered[below] + (ordered[above] - ordered[below]) * (position - below)

    def summary(values: list[float]) -> tuple[float, float, float]:
        statistics = sorted(sum(values[i] for i in draw) / n for draw in draws)
        tail = (1 - confidence) / 2
        return sum(values) / n, quantile(statistics, tail), quantile(statistics, 1 - tail)

    expected = {}
    for metric in ("ndcg", "hit_rate"):
        for name in ranks:
            expected[name, metric] = summary(per_pair(name, metric))
        for first, second in differences:
            values = [a - b for a, b in zip(per_pair(first, metric), per_pair(second, metric))]
            expected[(first, second), metric] = summary(values)
    return expected


def observed(result) -> dict:
    found = {}
    for metric in ("ndcg", "hit_rate"):
        for system in result.systems:
            found[system.name, metric] = getattr(system, metric)
        for difference in result.differences:
            found[(difference.first, difference.second), metric] = getattr(difference, metric)
    return {key: (value.value, value.low, value.high) for key, value in found.items()}


def geometric_ranks(seed: int, n: int, success: float) -> np.ndarray:
    return np.random.default_rng(seed).geometric(success, n) - 1


@pytest.mark.parametrize("resamples, confidence", [(200, 0.95), (65, 0.9), (1, 0.95)])  # 65: two blocks, one partial
def test_the_vectorised_bootstrap_equals_a_loop_over_resamples_and_pairs(resamples, confidence):
    rng = np.random.default_rng(11)
    ranks = {"winner": rng.integers(0, 12, 37).tolist(), "runner-up": rng.integers(0, 12, 37).tolist(),
             "popularity": rng.integers(0, 40, 37).tolist()}
    differences = [("winner", "runner-up"), ("winner", "popularity")]
    result = paired_bootstrap({name: np.array(values) for name, values in ranks.items()}, k=5,
                              differences=differences, resamples=resamples, seed=3, confidence=confidence)
    expected = brute_force(ranks, 5, differences, resamples, 3, confidence)
    found = observed(result)
    assert found.keys() == expected.keys()
    for key in expected:
        np.testing.assert_allclose(found[key], expected[key], rtol=1e-12, atol=1e-15, err_msg=str(key))
    assert (result.k, result.pairs, result.resamples, result.seed, result.confidence) == (5, 37, resamples, 3, confidence)


def test_every_interval_contains_its_point_estimate():
    ranks = {f"system {i}": geometric_ranks(i, 2000, 0.05 + 0.02 * i) for i in range(4)}
    result = paired_bootstrap(ranks, differences=[("system 3", "system 2"), ("system 0", "system 1")], seed=5)
    for interval in [*result.systems, *result.differences]:
        for metric in (interval.ndcg, interval.hit_rate):
            assert metric.low <= metric.value <= metric.high
            assert metric.low < metric.high  # 2,000 pairs of differing ranks: the metrics vary between resamples


def test_identical_systems_differ_by_exactly_zero_with_a_zero_width_interval():
    ranks = geometric_ranks(0, 500, 0.1)
    result = paired_bootstrap({"a": ranks, "b": ranks.copy()}, differences=[("a", "b")], seed=1)
    difference = result.difference("a", "b")
    for metric in (difference.ndcg, difference.hit_rate):
        assert (metric.value, metric.low, metric.high) == (0.0, 0.0, 0.0)
        assert not metric.excludes_zero


def test_a_clearly_better_system_has_a_difference_interval_that_excludes_zero():
    better = geometric_ranks(1, 300, 0.5)  # mostly rank 0 or 1
    worse = np.random.default_rng(2).integers(0, 50, 300)  # uniform over 50 ranks: rarely in the top 10
    result = paired_bootstrap({"better": better, "worse": worse}, differences=[("better", "worse"), ("worse", "better")])
    ahead, behind = result.difference("better", "worse"), result.difference("worse", "better")
    assert ahead.ndcg.low > 0 and ahead.hit_rate.low > 0 and ahead.ndcg.excludes_zero
    assert behind.ndcg.high < 0 and behind.hit_rate.high < 0 and behind.hit_rate.excludes_zero
    assert ahead.ndcg.value == pytest.approx(result.system("better").ndcg.value - result.system("worse").ndcg.value)


def test_systems_that_always_or_never_hit_have_degenerate_hit_rate_intervals():
    result = paired_bootstrap({"always": np.zeros(50, dtype=np.int64), "never": np.full(50, 10)}, k=10)
    assert result.system("always").hit_rate.as_dict() == {"value": 1.0, "low": 1.0, "high": 1.0}
    assert result.system("always").ndcg.as_dict() == {"value": 1.0, "low": 1.0, "high": 1.0}
    assert result.system("never").ndcg.as_dict() == {"value": 0.0, "low": 0.0, "high": 0.0}


def test_a_seed_reproduces_the_intervals_and_another_seed_moves_only_the_intervals():
    ranks = {"a": geometric_ranks(3, 400, 0.1), "b": geometric_ranks(4, 400, 0.12)}
    first = paired_bootstrap(ranks, differences=[("a", "b")], seed=7)
    assert paired_bootstrap(ranks, differences=[("a", "b")], seed=7) == first
    other = paired_bootstrap(ranks, differences=[("a", "b")], seed=8)
    assert other.system("a").ndcg.value == first.system("a").ndcg.value
    assert other.system("a").ndcg.low != first.system("a").ndcg.low
    assert other.seed == 8 and other.resamples == 1000


def test_as_dict_is_json_with_what_reproduces_the_intervals():
    ranks = {"winner": geometric_ranks(5, 100, 0.2), "popularity": geometric_ranks(6, 100, 0.05)}
    result = paired_bootstrap(ranks, differences=[("winner", "popularity")], resamples=50, seed=2)
    data = json.loads(json.dumps(result.as_dict()))
    assert {key: data[key] for key in ("k", "pairs", "resamples", "seed", "confidence")} == \
        {"k": 10, "pairs": 100, "resamples": 50, "seed": 2, "confidence": 0.95}
    assert list(data["systems"]) == ["winner", "popularity"]
    assert data["systems"]["winner"]["ndcg"] == result.system("winner").ndcg.as_dict()
    assert data["differences"] == [{"first": "winner", "second": "popularity",
                                    "ndcg": result.difference("winner", "popularity").ndcg.as_dict(),
                                    "hit_rate": result.difference("winner", "popularity").hit_rate.as_dict()}]
    assert BootstrapIntervals.from_dict(data) == result  # the JSON form reads back whole


@pytest.mark.parametrize("ranks, options, message", [
    ({"a": np.arange(5), "b": np.arange(6)}, {}, "same pairs"),
    ({"a": np.array([], dtype=np.int64)}, {}, "empty"),
    ({"a": []}, {}, "empty"),
    ({}, {}, "at least one system"),
    ({"a": np.arange(5)}, {"resamples": 0}, "resamples must be an integer >= 1"),
    ({"a": np.arange(5)}, {"resamples": 2.5}, "resamples must be an integer >= 1"),
    ({"a": np.arange(5)}, {"k": 0}, "k must be an integer >= 1"),
    ({"a": np.arange(5)}, {"seed": -1}, "seed must be an integer >= 0"),
    ({"a": np.arange(5)}, {"confidence": 1.0}, "confidence must be between 0 and 1"),
    ({"a": np.array([0, -1, 2])}, {}, "0-based"),
    ({"a": np.array([0.5, 1.0])}, {}, "1-D array of integers"),
    ({"a": np.zeros((2, 2), dtype=np.int64)}, {}, "1-D array of integers"),
    ({"a": np.arange(5)}, {"differences": [("a", "missing")]}, "a difference names two of the systems"),
    ({1: np.arange(5)}, {}, "name must be a string"),
])
def test_bad_input_is_a_one_line_config_error(ranks, options, message):
    with pytest.raises(ConfigError, match=message) as caught:
        paired_bootstrap(ranks, **options)
    assert "\n" not in str(caught.value)
