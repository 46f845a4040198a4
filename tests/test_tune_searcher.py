"""The pruning-aware searcher and the resumable ASHA, driven by hand (no Ray cluster)."""

from __future__ import annotations

from types import SimpleNamespace

import optuna
import pytest
from optuna.trial import TrialState
from ray.tune.schedulers import TrialScheduler

from tune.scheduler import ResumableASHA
from tune.search_space import build_space
from tune.searcher import RAY_TRIAL_ID, PruningOptunaSearch, make_sampler

MAX_EPOCHS = 3


def searcher(storage=None) -> PruningOptunaSearch:
    return PruningOptunaSearch(
        build_space().distributions, metric="val_ndcg_at_10", objective="best_val_ndcg_at_10", step_attr="epoch",
        max_steps=MAX_EPOCHS, sampler=make_sampler(0, 12), study_name="s", storage=storage,
    )


def result(epoch: int, value: float, best: float | None = None) -> dict:
    return {"epoch": epoch, "val_ndcg_at_10": value, "best_val_ndcg_at_10": best if best is not None else value,
            "training_iteration": epoch}


def frozen(search: PruningOptunaSearch, trial_id: str) -> optuna.trial.FrozenTrial:
    return next(t for t in search.study.get_trials() if t.user_attrs[RAY_TRIAL_ID] == trial_id)


def test_trial_stopped_before_max_epochs_is_pruned_with_its_last_value():
    search = searcher()
    config = search.suggest("a")
    assert set(config) == set(build_space().distributions)
    search.on_trial_result("a", result(1, 0.10))
    # Tune passes the result that made ASHA stop the trial only to on_trial_complete
    search.on_trial_complete("a", result(2, 0.05, best=0.10))
    trial = frozen(search, "a")
    assert trial.state == TrialState.PRUNED
    assert trial.intermediate_values == {1: 0.10, 2: 0.05}
    assert trial.value == pytest.approx(0.05)  # Optuna records the last intermediate value


def test_trial_reaching_max_epochs_is_complete_with_its_best_value():
    search = searcher()
    search.suggest("b")
    for epoch, value in [(1, 0.1), (2, 0.3)]:
        search.on_trial_result("b", result(epoch, value, best=0.3 if epoch == 2 else 0.1))
    search.on_trial_complete("b", result(3, 0.2, best=0.3))
    trial = frozen(search, "b")
    assert trial.state == TrialState.COMPLETE and trial.value == pytest.approx(0.3)
    assert sorted(trial.intermediate_values) == [1, 2, 3]


def test_errored_trial_fails_and_repeated_steps_keep_the_first_value():
    search = searcher()
    search.suggest("c")
    search.on_trial_result("c", result(1, 0.1))
    search.on_trial_result("c", result(1, 0.9))  # a restored trial repeating an epoch
    assert frozen(search, "c").intermediate_values == {1: 0.1}
    search.on_trial_complete("c", error=True)
    assert frozen(search, "c").state == TrialState.FAIL
    search.on_trial_complete("c", result(3, 0.2))  # a second completion is ignored
    assert frozen(search, "c").state == TrialState.FAIL


def test_restore_fails_optuna_trials_that_tune_never_recorded(tmp_path):
    storage = optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'optuna.db'}")
    search = searcher(storage)
    search.suggest("kept")
    search.save(str(tmp_path / "searcher.pkl"))
    search.suggest("lost")  # asked after Ray's last snapshot, then the driver died
    restored = searcher(storage)
    restored.restore(str(tmp_path / "searcher.pkl"))
    states = {t.user_attrs[RAY_TRIAL_ID]: t.state for t in restored.study.get_trials()}
    assert states == {"kept": TrialState.RUNNING, "lost": TrialState.FAIL}
    restored.on_trial_result("kept", result(1, 0.2))
    restored.on_trial_complete("kept", result(3, 0.3))
    assert frozen(restored, "kept").state == TrialState.COMPLETE


class FakeController:
    def __init__(self, trials):
        self.trials, self.stopped = trials, []

    def get_trials(self):
        return self.trials

    def stop_trial(self, trial):
        self.stopped.append(trial.trial_id)
        trial.status = "TERMINATED"


def test_asha_rebuilds_its_rungs_from_the_study_and_skips_finished_trials():
    search = searcher()
    for trial_id, values in {"a": [0.30, 0.35, 0.40], "b": [0.20, 0.25, 0.26], "c": [0.10]}.items():
        search.suggest(trial_id)
        for epoch, value in enumerate(values[:-1], start=1):
            search.on_trial_result(trial_id, result(epoch, value))
        search.on_trial_complete(trial_id, result(len(values), values[-1]))
    scheduler = ResumableASHA(search, time_attr="epoch", metric="val_ndcg_at_10", mode="max",
                              max_t=MAX_EPOCHS, grace_period=1, reduction_factor=3)

    # a restored driver: "a" finished but Ray's snapshot still had it pending
    pending = SimpleNamespace(trial_id="a", status="PENDING")
    fresh = SimpleNamespace(trial_id="d", status="PENDING")
    controller = FakeController([pending, fresh])
    scheduler.on_trial_add(controller, pending)
    scheduler.on_trial_add(controller, fresh)
    assert scheduler.choose_trial_to_run(controller) is fresh
    assert controller.stopped == ["a"]

    rungs = dict(scheduler._brackets[0]._rungs)
    assert set(rungs[1]) == {"a", "b", "c"} and set(rungs[3]) == {"a", "b"}
    # a new trial is compared with the trials of the first session
    assert scheduler.on_trial_result(controller, fresh, result(1, 0.15)) == TrialScheduler.STOP


def test_asha_judges_a_rungs_first_arrivals_again_once_others_reach_it():
    scheduler = ResumableASHA(searcher(), time_attr="epoch", metric="val_ndcg_at_10", mode="max",
                              max_t=9, grace_period=1, reduction_factor=3)
    trials = {name: SimpleNamespace(trial_id=name, status="RUNNING") for name in "abcdef"}
    controller = FakeController(list(trials.values()))
    for trial in trials.values():
        scheduler.on_trial_add(controller, trial)

    def report(name: str, epoch: int, value: float) -> str:
        return scheduler.on_trial_result(controller, trials[name], result(epoch, value))

    assert report("a", 1, 0.20) == TrialScheduler.CONTINUE  # first at the rung: nothing to compare with
    assert report("a", 2, 0.21) == TrialScheduler.CONTINUE
    assert report("b", 1, 0.30) == TrialScheduler.CONTINUE
    # plain ASHA would let "a" run on to max_t; judged again, it is below "b"
    assert report("a", 3, 0.22) == TrialScheduler.STOP
    assert report("c", 1, 0.28) == TrialScheduler.CONTINUE  # judged on 2 values before it: settled
    assert report("d", 1, 0.50) == TrialScheduler.CONTINUE
    assert report("e", 1, 0.45) == TrialScheduler.CONTINUE
    assert report("c", 2, 0.29) == TrialScheduler.CONTINUE  # later, better arrivals do not stop it
    assert report("f", 1, 0.10) == TrialScheduler.STOP  # plain ASHA's rule for later arrivals
    assert scheduler._num_stopped == 2
