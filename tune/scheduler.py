"""ASHA that survives ``Tuner.restore``.

Tune does not save its scheduler with the experiment state: a restored ASHA starts
with empty rungs, so resumed and new trials would only be compared with each other.
This subclass rebuilds the rungs from the per-epoch values stored in the Optuna
study (which the searcher restores first), and never restarts a trial that the
Optuna study already finished (possible when the driver was killed between Optuna's
immediate write and Ray's periodic snapshot).
"""

from __future__ import annotations

from ray.tune.experiment import Trial
from ray.tune.schedulers import ASHAScheduler

from tune.searcher import PruningOptunaSearch


class ResumableASHA(ASHAScheduler):
    def __init__(self, searcher: PruningOptunaSearch, **kwargs) -> None:
        super().__init__(brackets=1, **kwargs)
        self._searcher = searcher
        self._rungs_synced = False
        self._already_finished: set[str] | None = None

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
