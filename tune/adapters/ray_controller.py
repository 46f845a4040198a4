"""Ray Tune's trial controller, as a scheduler sees it: have a trial's new status saved.

Tune re-snapshots a trial only on some transitions (while its actor is live): a trial that
errored, or was stopped while paused, would otherwise stay RUNNING or PAUSED in the saved
experiment state, and a study that ended would read back as unfinished. The scheduler gets
Tune's controller behind a wrapper that warns on every attribute it does not expose.
"""

from __future__ import annotations

from ray.tune.execution.tune_controller import TrialRunnerWrapper, TuneController

from tune.adapters import probe


def mark_for_snapshot(tune_controller, trial) -> None:
    """Have Tune save ``trial``'s status with its next experiment snapshot (where Tune can: a study
    never fails for it; ``missing()`` tells a Ray that cannot)."""
    controller = getattr(tune_controller, "_tune_controller", tune_controller)  # past the warning wrapper
    mark = getattr(controller, "_mark_trial_to_checkpoint", None)
    if mark is not None:
        mark(trial)


def missing() -> list[str]:
    """The attributes above that the installed Ray no longer has."""
    inner = object()
    return probe("ray.tune", {
        "TuneController._mark_trial_to_checkpoint": lambda: callable(TuneController._mark_trial_to_checkpoint),
        "TrialRunnerWrapper._tune_controller": lambda: TrialRunnerWrapper(inner, None).__dict__["_tune_controller"]
        is inner,
    })
