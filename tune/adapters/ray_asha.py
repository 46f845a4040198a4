"""Ray Tune's ``ASHAScheduler``: its rungs, cutoff and stop count, which it keeps private.

``tune.scheduler.ResumableASHA`` runs one bracket and reads and refills that bracket's rungs
(a list of ``(milestone, {trial id: value})``, in arrival order), asks it for the cutoff of a
set of values, and counts the trials it stops.
"""

from __future__ import annotations

from ray.tune.schedulers import ASHAScheduler

from tune.adapters import probe


def _bracket(scheduler: ASHAScheduler):
    return scheduler._brackets[0]  # one bracket: the scheduler is built with brackets=1


def rungs(scheduler: ASHAScheduler) -> list[tuple[float, dict[str, float]]]:
    """The bracket's rungs, lowest milestone last, each ``(milestone, {trial id: value})`` (live, not a copy)."""
    return _bracket(scheduler)._rungs


def reduction_factor(scheduler: ASHAScheduler) -> float:
    return _bracket(scheduler).rf


def cutoff(scheduler: ASHAScheduler, values: dict[str, float]) -> float | None:
    """The value a trial must reach to go on, given the ``values`` recorded at a rung (None: too few)."""
    return _bracket(scheduler).cutoff(values)


def metric_sign(scheduler: ASHAScheduler) -> float:
    """1.0 when the metric is maximised, -1.0 when minimised: recorded values carry this sign."""
    return scheduler._metric_op


def count_stopped(scheduler: ASHAScheduler) -> None:
    """Count one more trial stopped by the scheduler (its own stops count themselves)."""
    scheduler._num_stopped += 1


def stopped(scheduler: ASHAScheduler) -> int:
    return scheduler._num_stopped


def missing() -> list[str]:
    """The attributes above that the installed Ray no longer has, or has in another shape."""
    scheduler = ASHAScheduler(time_attr="epoch", metric="m", mode="max", max_t=9, grace_period=1,
                              reduction_factor=3, brackets=1)
    found = probe("ASHAScheduler", {
        "_brackets": lambda: len(scheduler._brackets) == 1,
        "_metric_op": lambda: scheduler._metric_op == 1.0,
        "_num_stopped": lambda: scheduler._num_stopped == 0,
    })
    if found:
        return found
    bracket = scheduler._brackets[0]
    return probe("ASHAScheduler._brackets[0]", {
        "_rungs": lambda: [milestone for milestone, recorded in bracket._rungs] == [9, 3, 1]
        and all(isinstance(recorded, dict) for _, recorded in bracket._rungs),
        "rf": lambda: bracket.rf == 3,
        "cutoff": lambda: bracket.cutoff({"a": 1.0, "b": 2.0, "c": 3.0}) is not None
        and bracket.cutoff({}) is None,
    })
