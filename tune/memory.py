"""The memory a trial can have, and the search space capped so that its largest trial fits in it.

A trial may have the least of: the study's ``--max-trial-memory`` budget, and what the cluster
offers, that is the Ray ``memory`` resource of the smallest node that can host a trial shared by
the trials it runs at once (its CPUs over ``--cpus-per-trial``). If the space's largest corner
(every size parameter at its maximum, every architecture and optimizer it may choose) is
estimated (``track2vec.memory``) to need more, the maxima are lowered, the parameters of the
larger term first (``dim`` for the tables, then ``batch_size`` and ``negatives`` for a step),
until it fits. The capped ranges go into the study's overrides, so ``study.json`` records them
and a resumed study searches the same space; ``run`` says in one line what it capped and why.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import optuna.distributions as od

from track2vec.config import TrainConfig
from track2vec.corpus import Corpus
from track2vec.errors import ConfigError
from track2vec.memory import estimate_peak_mib, step_bytes, table_bytes
from track2vec.vocabulary import artist_ids

from tune.search_space import SearchSpace

TABLE_PARAMS = ("dim",)
STEP_PARAMS = ("batch_size", "negatives", "shared_rows")
CHOICE_PARAMS = ("architecture", "optimizer", "artist_vectors")  # the corner takes the costliest choice


@dataclass(frozen=True)
class MemoryLimit:
    mib: float
    source: str  # in words: where the limit comes from
    strict: bool = True  # a budget the user set (a space that cannot fit is refused); the cluster's offer is not


@dataclass(frozen=True)
class MemoryCap:
    """What was capped: the maxima before and after, the limit, and the capped corner's estimate."""

    limit: MemoryLimit
    before: dict[str, int]
    after: dict[str, int]
    estimate_mib: float

    @property
    def fits(self) -> bool:
        return self.estimate_mib <= self.limit.mib

    def describe(self) -> str:
        changes = ", ".join(f"{name} <= {self.after[name]:,} (was {self.before[name]:,})" for name in self.after)
        if not self.fits:
            capped = f"capped {changes}, the smallest sizes, yet " if changes else ""
            return (f"memory: {capped}a trial is estimated at {self.estimate_mib:,.0f} MiB, more than the "
                    f"{self.limit.mib:,.0f} MiB a trial can have ({self.limit.source}); fewer trials at once "
                    "(--cpus-per-trial) leave each more")
        return (f"memory: capped {changes} so that the largest trial fits the {self.limit.mib:,.0f} MiB a trial "
                f"can have ({self.limit.source}; estimated {self.estimate_mib:,.0f} MiB)")


def trial_memory_limit(max_trial_memory: float | None, cpus_per_trial: float, nodes: list[dict[str, Any]]
                       ) -> MemoryLimit | None:
    """The least of the budget and the cluster's offer; ``nodes``: the ``Resources`` of the alive nodes."""
    limits = []
    if max_trial_memory is not None:
        limits.append(MemoryLimit(float(max_trial_memory), "--max-trial-memory"))
    offers = []
    for resources in nodes:
        cpus, memory = resources.get("CPU", 0), resources.get("memory", 0)
        if memory > 0 and cpus >= cpus_per_trial > 0:
            trials_at_once = max(1, int(cpus // cpus_per_trial))
            offers.append((memory / 2**20 / trials_at_once, memory / 2**20, trials_at_once))
    if offers:
        per_trial, memory, trials_at_once = min(offers)
        limits.append(MemoryLimit(per_trial, f"the cluster: {memory:,.0f} MiB of Ray memory on its smallest node "
                                             f"for {trials_at_once} trial(s) at once", strict=False))
    return min(limits, key=lambda limit: limit.mib) if limits else None


def cap_to_memory(space: SearchSpace, corpus: Corpus, limit: MemoryLimit) -> tuple[dict[str, dict], MemoryCap | None]:
    """The overrides that cap ``space`` to ``limit`` ({} when its largest corner fits), and what was capped.

    When even the smallest values of the capped parameters do not fit, a strict limit (the user's budget)
    raises ConfigError; the cluster's offer caps to those smallest values and says it may not be enough
    (Ray does not enforce it, and the machine may have more than Ray counts).
    """
    groups = artist_ids(corpus.vocabulary)
    sizes = (len(corpus.vocabulary), corpus.nbytes, 0 if groups is None else int(groups.max()) + 1)
    bounds = {name: _bounds(space, name) for name in (*TABLE_PARAMS, *STEP_PARAMS)}
    highs = {name: bound[1] for name, bound in bounds.items() if bound}
    if _corner_mib(space, highs, sizes) <= limit.mib:
        return {}, None
    tables, step = _terms(space, highs, sizes)
    order = (*TABLE_PARAMS, *STEP_PARAMS) if tables >= step else (*STEP_PARAMS, *TABLE_PARAMS)
    capped = dict(highs)
    for name in order:
        if name not in space.distributions:
            continue
        low, high = bounds[name]
        # The estimate grows with each size: the first value that fits, from the top, is the largest.
        fitting = next((value for value in reversed(_candidates(low, high))
                        if _corner_mib(space, {**capped, name: value}, sizes) <= limit.mib), None)
        capped[name] = low if fitting is None else fitting
        if fitting is not None:
            break
    estimate = _corner_mib(space, capped, sizes)
    if estimate > limit.mib and limit.strict:
        raise ConfigError(f"no configuration of the search space fits the {limit.mib:,.0f} MiB a trial can have "
                          f"({limit.source}): its smallest sizes need about {estimate:,.0f} MiB; lower dim, "
                          "batch_size or negatives in --config, or give trials more memory")
    changed = {name: value for name, value in capped.items() if value != highs[name]}
    overrides = {}
    for name, value in changed.items():
        distribution = space.distributions[name]
        overrides[name] = {"min": distribution.low, "max": value, "log": distribution.log}
    return overrides, MemoryCap(limit, {name: highs[name] for name in changed}, changed, estimate)


def _bounds(space: SearchSpace, name: str) -> tuple[int, int] | None:
    if name in space.fixed:
        return int(space.fixed[name]), int(space.fixed[name])
    distribution = space.distributions.get(name)
    if isinstance(distribution, od.IntDistribution):
        return distribution.low, distribution.high
    return None


def _candidates(low: int, high: int) -> list[int]:
    """Values to try between low and high: every one when few, else about 200 spread evenly."""
    if high - low <= 256:
        return list(range(low, high + 1))
    step = (high - low) / 200
    return sorted({low, high, *(int(low + i * step) for i in range(201))})


def _corner_configs(space: SearchSpace, sizes: dict[str, int]):
    """Every combination of the choices at the corner (the searched architectures, optimizers...)."""
    options = []
    for name in CHOICE_PARAMS:
        if name in space.fixed:
            options.append([(name, space.fixed[name])])
        elif isinstance(space.distributions.get(name), od.CategoricalDistribution):
            options.append([(name, choice) for choice in space.distributions[name].choices])
    for combination in itertools.product(*options):
        choices = dict(combination)
        if choices.get("architecture") == "count-softmax" and space.count_rows_batch is not None:
            yield TrainConfig(**choices, **{**sizes, "batch_size": space.count_rows_batch})
        else:
            yield TrainConfig(**choices, **sizes)


def _corner_mib(space: SearchSpace, sizes: dict[str, int], corpus_sizes: tuple[int, int, int]) -> float:
    vocabulary_size, corpus_bytes, n_groups = corpus_sizes
    return max(estimate_peak_mib(config, vocabulary_size, corpus_bytes, n_groups)
               for config in _corner_configs(space, sizes))


def _terms(space: SearchSpace, sizes: dict[str, int], corpus_sizes: tuple[int, int, int]) -> tuple[int, int]:
    """(tables, step) bytes of the costliest corner configuration."""
    vocabulary_size, _, n_groups = corpus_sizes
    return max((table_bytes(config, vocabulary_size, n_groups), step_bytes(config, vocabulary_size))
               for config in _corner_configs(space, sizes))
