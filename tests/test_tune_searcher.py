"""The pruning-aware searcher and the resumable ASHA, driven by hand (no Ray cluster)."""

from __future__ import annotations

from types import SimpleNamespace

import optuna
import pytest
from optuna.trial import TrialState
from ray.tune.schedulers import TrialScheduler

from tune.adapters import ray_asha
from tune.scheduler import ResumableASHA
from tune.search_space import build_space
from tune.searcher import RAY_TRIAL_ID, PruningOptunaSearch, make_sampler

MAX_EPOCHS = 3


def searcher(storage=None) -> PruningOptunaSearch:
    space = build_space()
    return PruningOptunaSearch(
        space.distributions, metric="val_ndcg_at_10", objective="best_val_ndcg_at_10", step_attr="epoch",
        max_steps=MAX_EPOCHS, sampler=make_sampler(0, 12), study_name="s", storage=storage,
        trial_config=space.trial_config,
    )


def result(epoch: int, value: float, best: float | None = None) -> dict:
    return {"epoch": epoch, "val_ndcg_at_10": value, "best_val_ndcg_at_10": best if best is not None else value,
            "training_iteration": epoch}


def frozen(search: PruningOptunaSearch, trial_id: str) -> optuna.trial.FrozenTrial:
    return next(t for t in search.study.get_trials() if t.user_attrs[RAY_TRIAL_ID] == trial_id)


def test_trial_stopped_before_max_epochs_is_pruned_with_its_last_value():
    search = searcher()
    config = search.suggest("a")
    # every searched parameter, and the learning rate that the sampled rate of 1,024 pairs gives its batch
    assert set(config) == set(build_space().distributions) | {"learning_rate"}
    assert config["learning_rate"] == pytest.approx(config["lr_at_batch_1024"] * (config["batch_size"] / 1024) ** 0.5)
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
    """The parts of Tune's controller a scheduler uses; the searcher has suggested every trial."""

    def __init__(self, trials):
        self.trials, self.stopped = trials, []
        self.search_alg = SimpleNamespace(is_finished=lambda: True)

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
    scheduler = asha(search)

    # a restored driver: "a" finished but Ray's snapshot still had it pending
    pending = SimpleNamespace(trial_id="a", status="PENDING")
    fresh = SimpleNamespace(trial_id="d", status="PENDING")
    controller = FakeController([pending, fresh])
    scheduler.on_trial_add(controller, pending)
    scheduler.on_trial_add(controller, fresh)
    assert scheduler.choose_trial_to_run(controller) is fresh
    assert controller.stopped == ["a"]

    rungs = dict(ray_asha.rungs(scheduler))
    assert set(rungs[1]) == {"a", "b", "c"} and set(rungs[3]) == {"a", "b"}
    # a new trial is compared with the trials of the first session
    assert scheduler.on_trial_result(controller, fresh, result(1, 0.15)) == TrialScheduler.STOP


def asha(search: PruningOptunaSearch, max_t: int = MAX_EPOCHS) -> ResumableASHA:
    return ResumableASHA(search, time_attr="epoch", metric="val_ndcg_at_10", mode="max",
                         max_t=max_t, grace_period=1, reduction_factor=3)


def test_asha_pauses_a_rungs_first_arrivals_until_others_can_judge_them():
    search = searcher()
    scheduler = asha(search, max_t=9)
    trials = {name: SimpleNamespace(trial_id=name, status="PENDING", last_result={}) for name in "abcde"}
    controller = FakeController(list(trials.values()))
    for name, trial in trials.items():
        search.suggest(name)
        scheduler.on_trial_add(controller, trial)

    def report(name: str, epoch: int, value: float) -> str:
        trial = trials[name]
        trial.status, trial.last_result = "RUNNING", result(epoch, value)
        search.on_trial_result(name, trial.last_result)
        action = scheduler.on_trial_result(controller, trial, trial.last_result)
        trial.status = {TrialScheduler.PAUSE: "PAUSED", TrialScheduler.STOP: "TERMINATED"}.get(action, "RUNNING")
        return action

    # plain ASHA lets the first trial at a rung go on unjudged, and the second on one value
    assert report("a", 1, 0.20) == TrialScheduler.PAUSE
    assert report("b", 1, 0.30) == TrialScheduler.PAUSE
    assert scheduler.choose_trial_to_run(controller) is trials["c"]  # the waiting ones stay paused
    assert report("c", 1, 0.10) == TrialScheduler.STOP  # two values before it: judged at once
    # now "a" and "b" are judged against the two others: "a" stops, "b" resumes before new trials
    assert scheduler.choose_trial_to_run(controller) is trials["b"]
    assert controller.stopped == ["a"]
    assert frozen(search, "a").state == TrialState.PRUNED and frozen(search, "a").value == pytest.approx(0.20)

    assert report("b", 2, 0.31) == TrialScheduler.CONTINUE
    # judged at rung 1, "b" goes past rung 3 as in ASHA although it is the first there
    assert report("b", 3, 0.32) == TrialScheduler.CONTINUE
    assert report("d", 1, 0.05) == TrialScheduler.STOP
    assert scheduler.choose_trial_to_run(controller) is trials["e"]
    assert report("e", 1, 0.50) == TrialScheduler.CONTINUE
    assert report("e", 2, 0.55) == TrialScheduler.CONTINUE
    assert report("e", 3, 0.60) == TrialScheduler.CONTINUE
    # "b" passed rung 3 with no value before it: judged again at its next epoch, it is below "e"
    assert report("b", 4, 0.33) == TrialScheduler.STOP
    assert ray_asha.stopped(scheduler) == 4


def test_asha_judges_a_trial_that_resumed_unjudged_after_a_restore_at_its_later_epochs():
    search = searcher()
    search.suggest("a")
    search.on_trial_result("a", result(1, 0.20))  # "a" was waiting at rung 1 when the driver was killed
    scheduler = asha(search, max_t=9)  # the restored driver's scheduler: nothing waits
    trials = {name: SimpleNamespace(trial_id=name, status="PENDING", last_result={}) for name in "abc"}
    controller = FakeController(list(trials.values()))
    for trial in trials.values():
        scheduler.on_trial_add(controller, trial)

    def report(name: str, epoch: int, value: float) -> str:
        return scheduler.on_trial_result(controller, trials[name], result(epoch, value))

    assert report("b", 1, 0.30) == TrialScheduler.PAUSE  # one value before it ("a")
    assert report("c", 1, 0.28) == TrialScheduler.CONTINUE  # judged on two values
    # plain ASHA would let "a" run on to max_t; judged again, it is below "b" and "c"
    assert report("a", 2, 0.21) == TrialScheduler.STOP


def test_asha_keeps_a_lone_first_arrival_waiting_while_the_searcher_has_trials_to_suggest():
    search = searcher()
    scheduler = asha(search, max_t=9)
    trial = SimpleNamespace(trial_id="a", status="RUNNING", last_result=result(1, 0.2))
    controller = FakeController([trial])
    suggested_all = [False]
    controller.search_alg = SimpleNamespace(is_finished=lambda: suggested_all[0])
    scheduler.on_trial_add(controller, trial)

    assert scheduler.on_trial_result(controller, trial, trial.last_result) == TrialScheduler.PAUSE
    assert scheduler.choose_trial_to_run(controller) is None  # Tune is still saving it: it stays RUNNING a while
    trial.status = "PAUSED"
    assert scheduler.choose_trial_to_run(controller) is None  # the next trial is still to come
    suggested_all[0] = True  # the study's last trial was "a": nothing else can reach the rung
    assert scheduler.choose_trial_to_run(controller) is trial
