"""Ray Tune's ``result.json`` logger, kept from dropping a trial's newest lines when the trial starts
again under the same driver.

When a trial starts, Ray's ``JsonLoggerCallback`` copies the trial's ``result.json`` back from the
study's storage over the driver's staging copy. That is right when the driver is new (a resumed
study), but when a paused or restarted trial starts again in the same driver, the storage copy can
lack the lines written since the last sync, and the copy throws them away. A reused worker (the
driver's default where it can, ``tune.driver.reuse_actors``) starts the paused trial at once, before any sync,
so the race is lost every time. The curves, the report and the tests read ``result.json``.
"""

from __future__ import annotations

from ray.tune.logger import JsonLoggerCallback

from tune.adapters import probe


class AppendingJsonLogger(JsonLoggerCallback):
    """Ray's JSON logger that keeps appending to a trial's file that this driver has open."""

    def log_trial_start(self, trial) -> None:
        if trial in self._trial_files:  # written by this driver: the staging copy is the newest
            self.update_config(trial, trial.config)
            return
        super().log_trial_start(trial)


def missing() -> list[str]:
    logger = JsonLoggerCallback()
    return probe("JsonLoggerCallback", {
        "_trial_files": lambda: isinstance(logger._trial_files, dict),
        "update_config": lambda: callable(logger.update_config),
        "log_trial_start": lambda: callable(JsonLoggerCallback.log_trial_start),
    })
