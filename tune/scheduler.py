"""ASHA that survives ``Tuner.restore`` and does not let a rung's first arrivals through unjudged.

Tune does not save its scheduler with the experiment state: a restored ASHA starts
with empty rungs, so resumed and new trials would only be compared with each other.
This subclass rebuilds the rungs from the per-epoch values stored in the Optuna
study (which the searcher restores first), and never restarts a trial that the
Optuna study already finished (possible when the driver was killed between Optuna's
immediate write and Ray's periodic snapshot).

Asynchronous ASHA decides at once whether a trial reaching a rung goes on: it must
not be below the top ``1 / reduction_factor`` of the values recorded there before it.
The first trial at a rung has nothing to be compared with and always goes on, so with
Ray's ASHA a poor first trial of a small study can run to ``max_t`` (and, being complete,
become TPE's model of a good trial) while better ones are stopped. Here a
trial that reaches a rung with fewer than ``reduction_factor - 1`` values before it,
and has not been judged on that many at a lower rung, *waits*: Tune pauses it (its
checkpoint is kept, its CPU goes to the next trial) until that many others have
reached the rung, or until no other trial can. It is then judged by the same rule
against all of them, and resumes from its checkpoint or stops. So every trial is
judged on enough values once before it goes past the first rung; a trial judged so
goes past later rungs as in ASHA, without waiting (waiting would delay the promising
trials most), and is judged again at its later epochs once others reach the rung.

Neither the waiting list nor those judgements are saved: after ``Tuner.restore`` a
trial that was waiting resumes, and is judged again at its later epochs, against the
values recorded at the rung since, by the same rule.
"""

from __future__ import annotations

import math

from ray.tune.experiment import Trial
from ray.tune.schedulers import ASHAScheduler, TrialScheduler

from tune.adapters import ray_asha, ray_controller
from tune.searcher import PruningOptunaSearch

UNFINISHED = (Trial.PENDING, Trial.RUNNING, Trial.PAUSED)


class ResumableASHA(ASHAScheduler):
    def __init__(self, searcher: PruningOptunaSearch, **kwargs) -> None:
        super().__init__(brackets=1, **kwargs)
        self._searcher = searcher
        self._rungs_synced = False
        self._already_finished: set[str] | None = None
        self._waiting: dict[str, float] = {}  # paused trial -> the rung it waits at
        self._promoted: list[str] = []  # judged and going on: resumed before new trials, as in ASHA
        self._settled: set[tuple[str, float]] = set()  # (trial, rung) judged with enough values

    @property
    def _needed(self) -> int:
        """Values at a rung before a trial that make its judgement final."""
        return math.ceil(ray_asha.reduction_factor(self)) - 1

    def _rung(self, milestone: float) -> dict[str, float]:
        return dict(ray_asha.rungs(self))[milestone]

    def _others_at(self, trial_id: str, milestone: float) -> dict[str, float]:
        """The values recorded at the rung by trials other than ``trial_id``; settles it there if they suffice."""
        others = {other: value for other, value in self._rung(milestone).items() if other != trial_id}
        if len(others) >= self._needed:
            self._settled.add((trial_id, milestone))
        return others

    def _sync_rungs(self) -> None:
        if self._rungs_synced:
            return
        self._rungs_synced = True
        history = self._searcher.intermediate_values()
        for milestone, recorded in ray_asha.rungs(self):
            for trial_id, values in history.items():
                reached = [step for step in values if step >= milestone]
                if reached and trial_id not in recorded:
                    recorded[trial_id] = ray_asha.metric_sign(self) * values[min(reached)]

    def on_trial_add(self, tune_controller, trial: Trial) -> None:
        self._sync_rungs()
        ray_controller.end_without_waiting_for_epochs(tune_controller)  # the scheduler is what sees Tune's controller
        super().on_trial_add(tune_controller, trial)

    def on_trial_result(self, tune_controller, trial: Trial, result: dict) -> str:
        if trial.trial_id in self._promoted:  # resumed
            self._promoted.remove(trial.trial_id)
        passed = {milestone for milestone, recorded in ray_asha.rungs(self) if trial.trial_id in recorded}
        action = super().on_trial_result(tune_controller, trial, result)
        if action != TrialScheduler.CONTINUE:
            return action
        arrived = [milestone for milestone, recorded in ray_asha.rungs(self)
                   if trial.trial_id in recorded and milestone not in passed]
        if arrived and not self._judged_below(trial.trial_id, arrived[0]) \
                and self._must_wait(tune_controller, trial.trial_id, arrived[0]):
            self._waiting[trial.trial_id] = arrived[0]
            return TrialScheduler.PAUSE
        if self._below_a_rung_it_passed_early(trial.trial_id):
            ray_asha.count_stopped(self)
            return TrialScheduler.STOP
        return action

    def _judged_below(self, trial_id: str, milestone: float) -> bool:
        """Whether the trial was judged on enough values at a lower rung (it then goes on as in ASHA)."""
        return any(trial == trial_id and rung < milestone for trial, rung in self._settled)

    def _must_wait(self, tune_controller, trial_id: str, milestone: float) -> bool:
        """Whether the trial has too few values to be judged at the rung and more can still come."""
        others = len(self._rung(milestone)) - 1
        return others < self._needed and self._others_may_arrive(tune_controller, trial_id, milestone)

    def _others_may_arrive(self, tune_controller, trial_id: str, milestone: float) -> bool:
        """Whether a trial other than ``trial_id`` may still record a value at the rung."""
        if not tune_controller.search_alg.is_finished():
            return True  # the searcher has trials to suggest yet
        recorded = self._rung(milestone)
        return any(other.trial_id != trial_id and other.trial_id not in recorded and other.status in UNFINISHED
                   for other in tune_controller.get_trials())

    def _below_a_rung_it_passed_early(self, trial_id: str) -> bool:
        """Whether a rung the trial passed unjudged or on too few values now places it below the cutoff.

        That is a rung it passed as the first there after being judged at a lower one, or one it
        waited at until no other trial could come, or any rung after a restore (waiting is not saved).
        """
        for milestone, recorded in ray_asha.rungs(self):
            if trial_id not in recorded or (trial_id, milestone) in self._settled:
                continue
            others = self._others_at(trial_id, milestone)
            if list(recorded).index(trial_id) < self._needed:  # rungs keep arrival order
                cutoff = ray_asha.cutoff(self, others)
                if cutoff is not None and recorded[trial_id] < cutoff:
                    return True
        return False

    def _release_waiting(self, tune_controller) -> None:
        """Judge the waiting trials that can be judged now: stop them or queue them to resume."""
        for trial in list(tune_controller.get_trials()):
            milestone = self._waiting.get(trial.trial_id)
            if milestone is None:
                continue
            if trial.status in (Trial.TERMINATED, Trial.ERROR):  # stopped meanwhile (Ctrl-C, a failure)
                del self._waiting[trial.trial_id]
                continue
            if trial.status != Trial.PAUSED or self._must_wait(tune_controller, trial.trial_id, milestone):
                continue
            del self._waiting[trial.trial_id]
            cutoff = ray_asha.cutoff(self, self._others_at(trial.trial_id, milestone))
            if cutoff is not None and self._rung(milestone)[trial.trial_id] < cutoff:
                ray_asha.count_stopped(self)
                # Tune tells the searcher of a stopped paused trial without its result: tell it first.
                self._searcher.on_trial_complete(trial.trial_id, result=trial.last_result)
                tune_controller.stop_trial(trial)
                ray_controller.mark_for_snapshot(tune_controller, trial)
            else:
                self._promoted.append(trial.trial_id)

    def on_trial_error(self, tune_controller, trial: Trial) -> None:
        super().on_trial_error(tune_controller, trial)
        ray_controller.mark_for_snapshot(tune_controller, trial)

    def choose_trial_to_run(self, tune_controller) -> Trial | None:
        if self._already_finished is None:  # first call of this driver session
            self._already_finished = self._searcher.finished_trial_ids()
        if self._already_finished:
            for trial in list(tune_controller.get_trials()):
                if trial.status == Trial.PENDING and trial.trial_id in self._already_finished:
                    tune_controller.stop_trial(trial)
        self._release_waiting(tune_controller)
        trials = tune_controller.get_trials()
        paused = {trial.trial_id: trial for trial in trials if trial.status == Trial.PAUSED}
        self._promoted = [trial_id for trial_id in self._promoted if trial_id in paused]
        if self._promoted:
            return paused[self._promoted[0]]
        return (next((trial for trial in trials if trial.status == Trial.PENDING), None)
                or next((trial for trial in paused.values() if trial.trial_id not in self._waiting), None))

