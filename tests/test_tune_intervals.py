"""The study's intervals (tune/intervals.py): which series and differences, and how they read in the table."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from track2vec.intervals import MetricWithInterval, PairedDifference
from tune.comparison import Comparison, Score
from tune.evaluation import Evaluation
from tune.intervals import StudyIntervals, best_baseline, study_intervals, verdict
from tune.reader import TrialRow
from tune.search_space import PARAMS
from tune.spec import StudySpec
from tune.study import Study
from tune.table import interval_lines, status_report, summary_lines


def comparison(popularity: float, sr: float, ar: float) -> Comparison:
    found = Comparison()
    found.add("winner", "val", Score(0.2, 0.4))
    for name, ndcg in (("popularity", popularity), ("sr", sr), ("ar", ar)):
        found.add(name, "val", Score(ndcg, 0.3))
    return found


def brute_force_interval(values: list[float], resamples: int, seed: int) -> tuple[float, float, float]:
    """Mean and 95% percentile interval of ``values`` over resamples of the pairs, one pair at a time."""
    rng = np.random.default_rng(seed)
    n = len(values)
    statistics = sorted(sum(values[i] for i in rng.integers(0, n, n).tolist()) / n for _ in range(resamples))

    def quantile(q: float) -> float:
        position = q * (resamples - 1)
        below = math.floor(position)
        return statistics[below] + (statistics[min(below + 1, resamples - 1)] - statistics[below]) * (position - below)

    return sum(values) / n, quantile(0.025), quantile(0.975)


def gains(ranks: np.ndarray) -> list[float]:
    return [1 / math.log2(rank + 2) if rank < 10 else 0.0 for rank in ranks.tolist()]


def test_the_best_baseline_is_chosen_on_validation():
    assert best_baseline(comparison(0.05, 0.21, 0.20)) == "sr"
    assert best_baseline(comparison(0.05, 0.19, 0.20)) == "ar"
    assert best_baseline(comparison(0.05, 0.2, 0.2)) == "sr"  # a tie: the first
    assert best_baseline(Comparison()) is None


def test_study_intervals_are_the_brute_force_bootstrap_of_the_series_test_ranks():
    rng = np.random.default_rng(1)
    ranks = {"winner": rng.geometric(0.15, 120) - 1, "popularity": rng.geometric(0.05, 120) - 1,
             "runner_up": rng.geometric(0.14, 120) - 1, "sr": rng.geometric(0.12, 120) - 1,
             "ar": rng.geometric(0.1, 120) - 1, "blend": rng.geometric(0.16, 120) - 1}
    found = study_intervals(ranks, comparison(0.05, 0.19, 0.20), runner_up="t2", seed=7)
    assert (found.runner_up, found.best_baseline, found.bootstrap.seed, found.bootstrap.resamples) == ("t2", "ar", 7, 1000)
    # every series, winner first; the two differences and no others
    assert [system.name for system in found.bootstrap.systems] == ["winner", "runner_up", "blend", "popularity", "sr", "ar"]
    assert [(d.first, d.second) for d in found.bootstrap.differences] == [("winner", "runner_up"), ("winner", "ar")]
    for name in ("winner", "ar"):
        ndcg = found.bootstrap.system(name).ndcg
        assert (ndcg.value, ndcg.low, ndcg.high) == pytest.approx(brute_force_interval(gains(ranks[name]), 1000, 7))
    versus = found.versus_best_baseline.ndcg
    paired = [a - b for a, b in zip(gains(ranks["winner"]), gains(ranks["ar"]))]
    assert (versus.value, versus.low, versus.high) == pytest.approx(brute_force_interval(paired, 1000, 7))
    assert found.versus_runner_up is found.bootstrap.difference("winner", "runner_up")


def test_without_a_runner_up_or_a_winner():
    ranks = {"winner": np.arange(30) % 12, "popularity": np.arange(30) % 20}
    found = study_intervals(ranks, comparison(0.05, 0.19, 0.20), runner_up="t2", seed=0)
    # the best baseline on validation (AR) was not ranked on test: no difference with it, nor a runner-up
    assert found.runner_up is None and found.versus_runner_up is None and found.versus_best_baseline is None
    assert study_intervals({"popularity": np.arange(30)}, comparison(0.05, 0.19, 0.2), None, 0) is None


def test_the_json_form_reads_back():
    rng = np.random.default_rng(2)
    ranks = {"winner": rng.geometric(0.2, 50) - 1, "runner_up": rng.geometric(0.2, 50) - 1,
             "sr": rng.geometric(0.1, 50) - 1}
    found = study_intervals(ranks, comparison(0.05, 0.2, 0.1), "t9", 3)
    data = json.loads(json.dumps(found.as_dict()))
    assert data["runner_up_trial"] == "t9" and data["best_baseline"] == "sr" and data["seed"] == 3
    assert StudyIntervals.from_dict(data) == found


def evaluation_with(intervals: StudyIntervals) -> Evaluation:
    params = {**dict.fromkeys(PARAMS), "dim": 16}
    winner = TrialRow("w1", "completed", 3, params, best_val_ndcg=0.2, best_val_hr=0.4, best_epoch=2)
    found = comparison(0.05, 0.19, 0.20)
    return Evaluation(Study("/studies", "s"), StudySpec(name="s", trials=1, max_epochs=3), [winner], winner,
                      comparison=found, intervals=intervals)


def test_the_summary_says_whether_a_difference_is_within_the_noise():
    n = 400
    winner = np.where(np.arange(n) % 2 == 0, 0, 50)  # hits half the pairs at rank 0
    runner_up = winner.copy()  # the same, but misses 10 of the winner's hits and hits 10 other pairs
    runner_up[np.arange(n) % 40 == 0], runner_up[np.arange(n) % 40 == 1] = 50, 0
    ranks = {"winner": winner, "runner_up": runner_up, "ar": np.full(n, 50)}  # AR never hits
    intervals = study_intervals(ranks, comparison(0.05, 0.19, 0.20), "r2", 0)
    assert intervals.versus_runner_up.ndcg.low < 0 < intervals.versus_runner_up.ndcg.high
    lines = summary_lines(evaluation_with(intervals))
    assert lines[-len(interval_lines(intervals)):] == interval_lines(intervals)
    text = "\n".join(lines)
    assert "paired bootstrap: 1000 resamples of the 400 test pairs, seed 0" in text
    assert "- winner: NDCG@10 0.5000 [" in text
    assert "- runner-up (second by validation), trial r2, scored on test for these intervals only" in text
    (versus_runner_up,) = [line for line in lines if line.startswith("Winner − runner-up (trial r2)")]
    assert "within the noise of the test pairs" in versus_runner_up
    (versus_ar,) = [line for line in lines if line.startswith("Winner − best baseline on validation (AR baseline")]
    assert "NDCG@10 +0.5000 [" in versus_ar and "the winner is better on the test pairs" in versus_ar


def test_the_blend_is_compared_with_its_count_term_alone():
    """What the embeddings add in the blended mode: blend − counts, paired, in the intervals and the summary."""
    n = 300
    rng = np.random.default_rng(4)
    counts = rng.geometric(0.12, n) - 1
    blend = np.where(np.arange(n) % 3 == 0, 0, counts)  # the counts' ranks, with a third of the pairs at rank 0
    ranks = {"winner": rng.geometric(0.1, n) - 1, "blend": blend, "counts": counts, "sr": rng.geometric(0.1, n) - 1}
    intervals = study_intervals(ranks, comparison(0.05, 0.21, 0.20), None, 0)
    assert [system.name for system in intervals.bootstrap.systems] == ["winner", "blend", "counts", "sr"]
    assert [(d.first, d.second) for d in intervals.bootstrap.differences] == [("winner", "sr"), ("blend", "counts")]
    difference = intervals.blend_versus_counts.ndcg
    paired = [a - b for a, b in zip(gains(blend), gains(counts))]
    assert (difference.value, difference.low, difference.high) == pytest.approx(brute_force_interval(paired, 1000, 0))
    (line,) = [line for line in interval_lines(intervals) if line.startswith("Blend − its count term alone")]
    assert "the blend is better on the test pairs" in line
    assert study_intervals({k: v for k, v in ranks.items() if k != "counts"}, comparison(0.05, 0.21, 0.2), None,
                           0).blend_versus_counts is None


@pytest.mark.parametrize("low, high, says", [(0.01, 0.03, "the winner is better"), (-0.03, -0.01, "the winner is worse"),
                                             (-0.01, 0.01, "within the noise")])
def test_the_verdict_reads_the_ndcg_interval(low, high, says):
    metric = MetricWithInterval((low + high) / 2, low, high)
    assert verdict(PairedDifference("winner", "sr", metric, metric)).startswith(says)


def test_status_json_carries_the_exported_intervals():
    ranks = {"winner": np.arange(40) % 15, "sr": np.arange(40) % 25}
    intervals = study_intervals(ranks, comparison(0.05, 0.3, 0.2), None, 0)
    report = json.loads(json.dumps(status_report(evaluation_with(None), {}, None, intervals)))
    assert report["exported_intervals"]["best_baseline"] == "sr"
    assert report["exported_intervals"]["systems"]["winner"]["ndcg"] == intervals.bootstrap.system("winner").ndcg.as_dict()
    assert status_report(evaluation_with(None), {})["exported_intervals"] is None


@pytest.mark.parametrize("damaged", [None, "text", {}, {"systems": {}}, {"k": 10, "pairs": 1, "resamples": 1,
                                                                       "seed": 0, "confidence": 0.95, "systems": [1],
                                                                       "differences": []}])
def test_an_export_without_or_with_damaged_intervals_reads_as_none(damaged):
    assert StudyIntervals.from_export(damaged) is None
