"""ASHA that survives ``Tuner.restore`` and judges a rung's first arrivals again.

Tune does not save its scheduler with the experiment state: a restored ASHA starts
with empty rungs, so resumed and new trials would only be compared with each other.
This subclass rebuilds the rungs from the per-epoch values stored in the Optuna
study (which the searcher restores first), and never restarts a trial that the
Optuna study already finished (possible when the driver was killed between Optuna's
immediate write and Ray's periodic snapshot).

Asynchronous ASHA decides at once whether a trial reaching a rung goes on: it must
not be below the top ``1 / reduction_factor`` of the values recorded there before it.
The first trial at a rung has nothing to be compared with and always goes on, so in a
study of a dozen trials a poor first trial used to run to ``max_t`` while better ones
were stopped. Here a trial that passed a rung with fewer than ``reduction_factor - 1``
values before it is judged again at each of its later epochs, against the values
recorded there since, by the same rule: the decision no longer depends on who came
first. Once enough values are there to judge it, it is settled and not judged again.
"""

from __future__ import annotations

import math

from ray.tune.experiment import Trial
from ray.tune.schedulers import ASHAScheduler, TrialScheduler

from tune.searcher import PruningOptunaSearch


class ResumableASHA(ASHAScheduler):
    def __init__(self, searcher: PruningOptunaSearch, **kwargs) -> None:
        super().__init__(brackets=1, **kwargs)
        self._searcher = searcher
        self._rungs_synced = False
        self._already_finished: set[str] | None = None
        self._settled: set[tuple[str, float]] = set()  # (trial, rung) judged with enough values

    def _sync_rungs(self) -> None:
        if self._rungs_synced:
            return
        self._rungs_synced = True
        history = self._searcher.intermediate_values()
        for milestone, recorded in self._brackets[0]._rungs:
            for trial_id, values in history.items():
                reached = [step for step in values if step >= milestone]
                if reached and trial_id not in recorded:
                    recorded[trial_id] = self._metric_op * values[min(reached)]

    def on_trial_add(self, tune_controller, trial: Trial) -> None:
        self._sync_rungs()
        super().on_trial_add(tune_controller, trial)

    def on_trial_result(self, tune_controller, trial: Trial, result: dict) -> str:
        action = super().on_trial_result(tune_controller, trial, result)
        if action == TrialScheduler.CONTINUE and self._below_a_rung_it_passed_early(trial.trial_id):
            self._num_stopped += 1
            action = TrialScheduler.STOP
        return action

    def _below_a_rung_it_passed_early(self, trial_id: str) -> bool:
        """Whether a rung the trial passed unjudged or on too few values now places it below the cutoff."""
        bracket = self._brackets[0]
        needed = math.ceil(bracket.rf) - 1  # values before it that make a judgement final
        for milestone, recorded in bracket._rungs:
            if trial_id not in recorded or (trial_id, milestone) in self._settled:
                continue
            arrived_after = list(recorded).index(trial_id)  # rungs keep arrival order
            others = {other: value for other, value in recorded.items() if other != trial_id}
            if arrived_after < needed:
                cutoff = bracket.cutoff(others)
                if cutoff is not None and recorded[trial_id] < cutoff:
                    return True
            if len(others) >= needed:
                self._settled.add((trial_id, milestone))
        return False

    def on_trial_error(self, tune_controller, trial: Trial) -> None:
        super().on_trial_error(tune_controller, trial)
        # Ray 2.60 re-snapshots a trial whose actor died only while the actor is live: without
        # this, the saved state keeps the errored trial RUNNING (read back as unfinished).
        mark = getattr(tune_controller, "_mark_trial_to_checkpoint", None)
        if mark is not None:
            mark(trial)

    def choose_trial_to_run(self, tune_controller) -> Trial | None:
        if self._already_finished is None:  # first call of this driver session
            self._already_finished = self._searcher.finished_trial_ids()
        if self._already_finished:
            for trial in list(tune_controller.get_trials()):
                if trial.status == Trial.PENDING and trial.trial_id in self._already_finished:
                    tune_controller.stop_trial(trial)
        return super().choose_trial_to_run(tune_controller)
