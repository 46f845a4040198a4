"""A trial's cost, the budget on it, the Pareto front, the training sample and the warm-start points,
without Ray (the studies that use them are in tests/test_tune_budget_transfer.py)."""

from __future__ import annotations

import numpy as np
import optuna
import pytest

from track2vec.corpus import build_corpus
from track2vec.corpus_sample import sample_training
from track2vec.data.loaders import load_playlists
from track2vec.errors import ConfigError
from tune.cost import (PEAK_MEMORY_MIB, SECONDS_PER_EPOCH, STEADY, Budget, BudgetStopper, CostMeter, peak_memory_resettable,
                       peak_rss_mib, reset_peak_memory)
from tune.report.data import CostPoint, pareto_front
from tune.searcher import make_sampler
from tune.search_space import build_space
from tune.warm_start import _inside, _with_rate_per_reference


def test_cost_per_epoch_leaves_the_compiling_epochs_out_once_a_later_one_is_measured():
    meter = CostMeter()
    meter.add_epoch(9.0, epoch_of_process=1)
    assert meter.seconds_per_epoch == 9.0 and not meter.steady  # only a warm-up epoch: judged on it
    meter.add_epoch(4.0, epoch_of_process=2)
    assert meter.seconds_per_epoch == 4.0 and not meter.steady
    meter.add_epoch(0.7, epoch_of_process=3)
    meter.add_epoch(0.9, epoch_of_process=4)
    assert meter.seconds_per_epoch == 0.7 and meter.steady  # the fastest steady epoch
    meter.add_epoch(8.0, epoch_of_process=1)  # a restored trial compiles again: a warm-up epoch
    assert meter.seconds_per_epoch == 0.7
    metrics = meter.metrics()
    assert metrics[SECONDS_PER_EPOCH] == 0.7 and metrics[STEADY] is True
    assert metrics[PEAK_MEMORY_MIB] == meter.peak_mib >= peak_rss_mib() * 0.5 > 0


def test_budget_constraints_and_what_exceeds_it():
    budget = Budget(max_epoch_seconds=1.5, max_trial_memory=2048)
    assert budget.active and not Budget().active
    costs = {SECONDS_PER_EPOCH: 3.0, PEAK_MEMORY_MIB: 1000.0}
    assert budget.constraints(costs) == [1.5, -1048.0]
    assert budget.exceeded(costs) == ["3 s/epoch > 1.5"]
    assert budget.exceeded({SECONDS_PER_EPOCH: 1.0, PEAK_MEMORY_MIB: 4096.0}) == ["4.1e+03 MiB > 2048"]
    assert budget.exceeded({}) == []  # not measured: never counted against a trial
    assert Budget(max_trial_memory=100).constraints(costs) == [900.0]
    with pytest.raises(ConfigError):
        Budget(max_epoch_seconds=0)


def test_the_stopper_stops_on_memory_at_once_and_on_time_after_the_warm_up():
    stopper = BudgetStopper(Budget(max_epoch_seconds=1.0, max_trial_memory=500))
    assert not stopper("t", {SECONDS_PER_EPOCH: 5.0, PEAK_MEMORY_MIB: 100.0, STEADY: False})  # compile included
    assert stopper("t", {SECONDS_PER_EPOCH: 5.0, PEAK_MEMORY_MIB: 100.0, STEADY: True})
    assert stopper("t", {SECONDS_PER_EPOCH: 0.1, PEAK_MEMORY_MIB: 600.0, STEADY: False})
    assert not stopper("t", {SECONDS_PER_EPOCH: 0.5, PEAK_MEMORY_MIB: 400.0, STEADY: True})
    assert not stopper.stop_all()


def test_tpe_and_optuna_read_the_constraints_the_searcher_records():
    budget = Budget(max_epoch_seconds=1.0, max_trial_memory=500)
    study = optuna.create_study(direction="maximize", sampler=make_sampler(0, 8))
    over, within = study.ask(), study.ask()
    for trial, costs in ((over, {SECONDS_PER_EPOCH: 3.5, PEAK_MEMORY_MIB: 100.0}),
                         (within, {SECONDS_PER_EPOCH: 0.5, PEAK_MEMORY_MIB: 100.0})):
        for key, value in budget.named_constraints(costs).items():  # as the searcher does
            trial.set_constraint(key, value)
    study.tell(over, 0.9)
    study.tell(within, 0.5)
    assert study.trials[0].constraints == {SECONDS_PER_EPOCH: 2.5, PEAK_MEMORY_MIB: -400.0}
    assert study.best_trial.number == within.number  # Optuna's best is the best feasible one
    from optuna.samplers._tpe.sampler import _split_trials  # TPE models the feasible trial as the good one

    below, above = _split_trials(study, study.get_trials(), 1)
    assert [trial.number for trial in below] == [within.number]


def test_the_pareto_front_is_the_best_quality_at_each_cost_or_less():
    points = [CostPoint("a", 1.0, 0.10, True), CostPoint("b", 2.0, 0.08, True), CostPoint("c", 3.0, 0.20, False),
              CostPoint("d", 0.5, 0.05, True), CostPoint("e", 3.0, 0.15, True)]
    assert [point.trial_id for point in pareto_front(points)] == ["d", "a", "c"]
    assert pareto_front([]) == []


@pytest.fixture(scope="module")
def tiny_corpus():
    return build_corpus(load_playlists("builtin:tiny", 0), 2, 10_000, 10_000, 0)


def test_a_sample_keeps_the_vocabulary_and_the_held_out_pairs(tiny_corpus):
    corpus = tiny_corpus
    sample = sample_training(corpus, 0.25, seed=0)
    assert sample.n_playlists == round(0.25 * corpus.n_playlists) == sample.stats["sampled_playlists"]
    assert sample.stats["training_tokens"] == len(sample.tokens) < len(corpus.tokens) / 2
    np.testing.assert_array_equal(sample.validation_pairs, corpus.validation_pairs)
    np.testing.assert_array_equal(sample.test_pairs, corpus.test_pairs)
    assert sample.vocabulary is corpus.vocabulary and sample.fingerprint == corpus.fingerprint
    # every sampled playlist is one of the corpus' training playlists, whole and in order
    whole = {tuple(corpus.tokens[a:b]) for a, b in zip(corpus.offsets[:-1], corpus.offsets[1:])}
    parts = [tuple(sample.tokens[a:b]) for a, b in zip(sample.offsets[:-1], sample.offsets[1:])]
    assert set(parts) <= whole and sample.offsets[-1] == len(sample.tokens)
    # seeded: the same seed draws the same playlists, another seed others
    np.testing.assert_array_equal(sample_training(corpus, 0.25, seed=0).tokens, sample.tokens)
    assert not np.array_equal(sample_training(corpus, 0.25, seed=1).tokens, sample.tokens)
    assert sample_training(corpus, 1.0, seed=0) is corpus
    assert sample_training(corpus, 1e-9, seed=0).n_playlists == 1
    for bad in (0, -0.1, 1.5, True):
        with pytest.raises(ConfigError):
            sample_training(corpus, bad, seed=0)


def test_warm_start_values_outside_the_new_range_are_left_to_optuna():
    space = build_space({"dim": {"min": 8, "max": 32}, "architecture": {"choices": ["sgns", "softmax"]}}, source="t")
    assert _inside(space.distributions["dim"], 16) and not _inside(space.distributions["dim"], 64)
    assert _inside(space.distributions["architecture"], "sgns")
    assert not _inside(space.distributions["architecture"], "tied-cosine")


def test_a_warm_start_from_a_study_that_searched_the_rate_itself_carries_the_rate_per_1024_pairs():
    """A study before the square-root rule recorded learning_rate and batch_size only: the point the new space
    searches, lr_at_batch_1024, is the rate they imply, so the earlier winner's rate is run, not resampled."""
    earlier = {"learning_rate": 0.02, "batch_size": 4096, "lr_at_batch_1024": None}
    assert _with_rate_per_reference(earlier)["lr_at_batch_1024"] == pytest.approx(0.01)
    both = {"learning_rate": 0.02, "batch_size": 4096, "lr_at_batch_1024": 0.005}
    assert _with_rate_per_reference(both) == both  # a study with the rule keeps its own value
    assert _with_rate_per_reference({"learning_rate": None, "batch_size": 4096}) == {"learning_rate": None,
                                                                                       "batch_size": 4096}


def test_warm_start_points_are_enqueued_once_even_when_the_study_is_opened_again(tmp_path):
    from tune.searcher import PruningOptunaSearch

    space = build_space({"dim": {"min": 8, "max": 32}}, source="t")
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(tmp_path / "optuna.journal")))
    for _ in range(2):  # a study restarted before Ray saved anything builds its searcher again
        search = PruningOptunaSearch(space.distributions, metric="m", objective="b", step_attr="epoch", max_steps=2,
                                     sampler=make_sampler(0, 4), study_name="s", storage=storage,
                                     points_to_evaluate=[{"dim": 12}, {"dim": 30}])
    waiting = search.study.get_trials(states=(optuna.trial.TrialState.WAITING,))
    assert sorted(trial.system_attrs["fixed_params"]["dim"] for trial in waiting) == [12, 30]
    assert search.suggest("t1")["dim"] == 12 and search.suggest("t2")["dim"] == 30


def test_a_reused_worker_starts_each_trial_with_its_own_peak_memory():
    """A trial that follows a larger one in the same worker must not report the larger one's peak."""
    if not peak_memory_resettable():
        pytest.skip("this platform cannot reset a process's peak memory (the driver then does not reuse workers)")
    large = np.ones(64 * 2**20 // 8)  # 64 MiB, touched
    large_peak = peak_rss_mib()
    del large
    reset_peak_memory()
    assert peak_rss_mib() < large_peak - 48
