"""Ray Tune's trial controller, as a scheduler sees it: have a trial's new status saved, and end a
study without waiting for its workers' epochs.

Tune re-snapshots a trial only on some transitions (while its actor is live): a trial that
errored, or was stopped while paused, would otherwise stay RUNNING or PAUSED in the saved
experiment state, and a study that ended would read back as unfinished. The scheduler gets
Tune's controller behind a wrapper that warns on every attribute it does not expose.

When a study ends while trials still train (Ctrl-C, SIGTERM, ``ray job stop``), Tune asks each trial's
worker to stop, waits five seconds, then gives each worker up to ten seconds from that request before
it kills it. A worker in the middle of an epoch cannot stop before the epoch ends (Ray runs the stop
request after the running training call), and that epoch is lost either way: the trial continues from
its last checkpoint. So the study kills those workers after the five seconds.
"""

from __future__ import annotations

import inspect

from ray.tune.execution.tune_controller import TrialRunnerWrapper, TuneController

from tune.adapters import probe


def mark_for_snapshot(tune_controller, trial) -> None:
    """Have Tune save ``trial``'s status with its next experiment snapshot (where Tune can: a study
    never fails for it; ``missing()`` tells a Ray that cannot)."""
    controller = getattr(tune_controller, "_tune_controller", tune_controller)  # past the warning wrapper
    mark = getattr(controller, "_mark_trial_to_checkpoint", None)
    if mark is not None:
        mark(trial)


# Seconds from the stop request until a worker still training is killed, once Tune's five have passed.
FORCED_STOP_GRACE_SECONDS = 0
_FORCED_STOP_GRACE = "_actor_force_cleanup_timeout"


def end_without_waiting_for_epochs(tune_controller) -> None:
    """Have Tune kill the workers still training when the study ends, after its five-second wait."""
    controller = getattr(tune_controller, "_tune_controller", tune_controller)  # past the warning wrapper
    if hasattr(controller, _FORCED_STOP_GRACE):
        setattr(controller, _FORCED_STOP_GRACE, FORCED_STOP_GRACE_SECONDS)


def missing() -> list[str]:
    """The attributes above that the installed Ray no longer has."""
    inner = object()
    return probe("ray.tune", {
        "TuneController._mark_trial_to_checkpoint": lambda: callable(TuneController._mark_trial_to_checkpoint),
        "TrialRunnerWrapper._tune_controller": lambda: TrialRunnerWrapper(inner, None).__dict__["_tune_controller"]
        is inner,
        f"TuneController.{_FORCED_STOP_GRACE}": lambda: f"self.{_FORCED_STOP_GRACE}: int =" in
        inspect.getsource(TuneController.__init__) and f"self.{_FORCED_STOP_GRACE}" in
        inspect.getsource(TuneController._cleanup_stopping_actors),
    })
