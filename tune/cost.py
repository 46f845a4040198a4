"""What a trial costs, and the study's budget on it (``--max-epoch-seconds``, ``--max-trial-memory``).

Each trial reports its cost with every epoch (``tune/trainable.py``):

* ``seconds_per_epoch``: the training seconds of its fastest epoch (Keras ``fit`` alone; the
  validation scoring after it is not counted), leaving out the first ``WARMUP_EPOCHS`` epochs
  of every process once a later one was measured: those compile the model (XLA, Numba's loops;
  Keras traces the epoch's last, shorter run of steps in the second). The fastest rather than
  the mean, so that other load on a shared machine does not make a trial look costlier than it
  is. A trial that ran only warm-up epochs is judged on them, compile included.
* ``peak_memory_mib``: the peak resident memory of the trial's worker process (Linux's
  ``VmHWM``), the largest over the processes a restored trial ran in. Workers are reused from
  trial to trial, so each trial starts the peak afresh (``reset_peak_memory``); where the platform
  cannot, the driver does not reuse workers (``tune.driver.reuse_actors``).

A ``Budget`` enforces the limits three ways: a Ray Tune ``Stopper`` (``BudgetStopper``) ends a
trial once its measured cost exceeds them (memory at once, time after the warm-up epochs); the
searcher records each finished trial's constraint values (cost minus limit, feasible when <= 0)
with Optuna's ``Trial.set_constraint``, which the TPE sampler reads to model the trials within the
budget as the good ones (Optuna 5 deprecated the sampler's ``constraints_func`` for it); and the
evaluation picks the winner among the trials that meet the budget only.
"""

from __future__ import annotations

import math
import os
import resource
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ray.tune.stopper import Stopper

from track2vec.errors import ConfigError

SECONDS_PER_EPOCH = "seconds_per_epoch"
PEAK_MEMORY_MIB = "peak_memory_mib"
STEADY = "cost_steady"  # whether seconds_per_epoch left the compiling first epochs out


WARMUP_EPOCHS = 2  # epochs of a process that compile (see above)


@dataclass
class CostMeter:
    """A trial's cost so far; kept in its checkpoint's ``state.json`` (``TrialProgress.cost``)."""

    warmup_seconds: list[float] = field(default_factory=list)  # training seconds of warm-up epochs
    steady_seconds: list[float] = field(default_factory=list)  # and of the others
    peak_mib: float = 0.0

    def add_epoch(self, seconds: float, epoch_of_process: int) -> None:
        """Record an epoch's training seconds; ``epoch_of_process`` counts from 1 in each process."""
        (self.warmup_seconds if epoch_of_process <= WARMUP_EPOCHS else self.steady_seconds).append(float(seconds))
        self.peak_mib = max(self.peak_mib, peak_rss_mib())

    @property
    def steady(self) -> bool:
        return bool(self.steady_seconds)

    @property
    def seconds_per_epoch(self) -> float | None:
        measured = self.steady_seconds or self.warmup_seconds
        return min(measured) if measured else None

    def metrics(self) -> dict[str, Any]:
        return {SECONDS_PER_EPOCH: self.seconds_per_epoch, PEAK_MEMORY_MIB: self.peak_mib, STEADY: self.steady}


CLEAR_REFS = Path("/proc/self/clear_refs")  # Linux: writing "5" resets the process's VmHWM to its current RSS


def peak_memory_resettable() -> bool:
    """Whether a process here can start its peak resident memory afresh (Linux's ``clear_refs``)."""
    return os.access(CLEAR_REFS, os.W_OK)


def reset_peak_memory() -> None:
    """Start this process's peak resident memory afresh, at its present size: a trial in a reused
    worker then measures its own peak, not the largest of the trials before it."""
    CLEAR_REFS.write_text("5")


def peak_rss_mib() -> float:
    """This process' peak resident memory in MiB: ``VmHWM`` (Linux), else ``getrusage``'s maximum."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB elsewhere


@dataclass(frozen=True)
class Budget:
    """The study's limits on a trial's cost; None: no limit."""

    max_epoch_seconds: float | None = None
    max_trial_memory: float | None = None  # MiB
    _limits: tuple[tuple[str, float], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("max_epoch_seconds", "max_trial_memory"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or not math.isfinite(value) or value <= 0):
                raise ConfigError(f"{name}: expected a number > 0 or none, got {value!r}")
        limits = ((SECONDS_PER_EPOCH, self.max_epoch_seconds), (PEAK_MEMORY_MIB, self.max_trial_memory))
        object.__setattr__(self, "_limits", tuple((key, float(limit)) for key, limit in limits if limit is not None))

    @classmethod
    def of(cls, spec) -> Budget:
        """The budget of a ``tune.spec.StudySpec``."""
        return cls(spec.max_epoch_seconds, spec.max_trial_memory)

    @property
    def active(self) -> bool:
        return bool(self._limits)

    @property
    def limits(self) -> tuple[tuple[str, float], ...]:
        """(cost metric, limit) of each limit set."""
        return self._limits

    def constraints(self, costs: Mapping[str, Any]) -> list[float]:
        """Per limit, cost minus limit (feasible when <= 0); a cost not measured counts as within it."""
        return list(self.named_constraints(costs).values())

    def named_constraints(self, costs: Mapping[str, Any]) -> dict[str, float]:
        """``constraints`` by cost metric: what the searcher gives Optuna's ``Trial.set_constraint``."""
        values = {}
        for key, limit in self._limits:
            cost = costs.get(key)
            values[key] = float(cost) - limit if isinstance(cost, (int, float)) and math.isfinite(cost) else 0.0
        return values

    def exceeded(self, costs: Mapping[str, Any]) -> list[str]:
        """The limits ``costs`` break, in words (empty: it meets the budget)."""
        words = {SECONDS_PER_EPOCH: "s/epoch", PEAK_MEMORY_MIB: "MiB"}
        return [f"{costs[key]:.3g} {words[key]} > {limit:g}"
                for (key, limit), value in zip(self._limits, self.constraints(costs)) if value > 0]

    def describe(self) -> str:
        parts = []
        if self.max_epoch_seconds is not None:
            parts.append(f"at most {self.max_epoch_seconds:g} training seconds per epoch")
        if self.max_trial_memory is not None:
            parts.append(f"at most {self.max_trial_memory:g} MiB of peak memory per trial")
        return " and ".join(parts) if parts else "none"


class BudgetStopper(Stopper):
    """Stops a trial whose reported cost exceeds the budget. Warm-up epochs alone do not stop a
    trial on time (``STEADY``): the first epoch after them tells what the trial costs."""

    def __init__(self, budget: Budget) -> None:
        self.budget = budget

    def __call__(self, trial_id: str, result: dict) -> bool:
        over = [value > 0 for value in self.budget.constraints(result)]
        keys = [key for key, _ in self.budget.limits]
        if any(over_limit and key == PEAK_MEMORY_MIB for over_limit, key in zip(over, keys)):
            return True
        return any(over) and bool(result.get(STEADY))

    def stop_all(self) -> bool:
        return False
