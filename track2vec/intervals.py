"""How sure a comparison is: paired bootstrap intervals of NDCG@k and HR@k over held-out pairs.

A metric measured on a few thousand test pairs would come out differently on another sample of
pairs, and two systems whose scores are close may swap places. Every system is ranked on the
same pairs, so the resampling is paired: one resample draws ``n`` pair indices with replacement
(``n`` = the number of pairs), and every system's metric and every difference between two
systems is the mean over those same pairs. What both systems find easy or hard then cancels in
their difference, which is why its interval is narrower than the two systems' intervals suggest.

An interval is the percentile interval: the ``(1 - confidence) / 2`` and ``(1 + confidence) / 2``
quantiles (NumPy's default, linear interpolation) of the resampled statistic. A difference whose
interval excludes 0 is one the test pairs support; one that includes 0 is within the noise of
the sample. Resample ``b`` draws its indices as the ``b``-th call ``rng.integers(0, n, n)`` of
``numpy.random.default_rng(seed)``, so a seed reproduces the intervals exactly.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from track2vec.errors import ConfigError
from track2vec.evaluation import pair_gains

DEFAULT_RESAMPLES = 1000
DEFAULT_CONFIDENCE = 0.95
RESAMPLE_BLOCK = 64  # resamples whose weights are built at once: memory is RESAMPLE_BLOCK x pairs floats


@dataclass(frozen=True)
class MetricWithInterval:
    """A metric on all the pairs (``value``) and its bootstrap interval [``low``, ``high``]."""

    value: float
    low: float
    high: float

    @property
    def excludes_zero(self) -> bool:
        """Whether the interval lies entirely above or below 0 (for a difference: a supported one)."""
        return self.low > 0.0 or self.high < 0.0

    def as_dict(self) -> dict:
        return {"value": self.value, "low": self.low, "high": self.high}

    @classmethod
    def from_dict(cls, values: Mapping) -> MetricWithInterval:
        return cls(float(values["value"]), float(values["low"]), float(values["high"]))


@dataclass(frozen=True)
class SystemIntervals:
    """One system's NDCG@k and HR@k with their intervals."""

    name: str
    ndcg: MetricWithInterval
    hit_rate: MetricWithInterval

    def as_dict(self) -> dict:
        return {"ndcg": self.ndcg.as_dict(), "hit_rate": self.hit_rate.as_dict()}


@dataclass(frozen=True)
class PairedDifference:
    """System ``first`` minus system ``second``, pair by pair, with intervals from the same resamples."""

    first: str
    second: str
    ndcg: MetricWithInterval
    hit_rate: MetricWithInterval

    def as_dict(self) -> dict:
        return {"first": self.first, "second": self.second, "ndcg": self.ndcg.as_dict(),
                "hit_rate": self.hit_rate.as_dict()}


@dataclass(frozen=True)
class BootstrapIntervals:
    """The systems' and the differences' intervals, with what it takes to reproduce them."""

    k: int
    pairs: int
    resamples: int
    seed: int
    confidence: float
    systems: tuple[SystemIntervals, ...]
    differences: tuple[PairedDifference, ...]

    def system(self, name: str) -> SystemIntervals:
        for system in self.systems:
            if system.name == name:
                return system
        raise KeyError(name)

    def difference(self, first: str, second: str) -> PairedDifference:
        for difference in self.differences:
            if (difference.first, difference.second) == (first, second):
                return difference
        raise KeyError((first, second))

    def as_dict(self) -> dict:
        return {"method": "paired percentile bootstrap", "k": self.k, "pairs": self.pairs,
                "resamples": self.resamples, "seed": self.seed, "confidence": self.confidence,
                "systems": {system.name: system.as_dict() for system in self.systems},
                "differences": [difference.as_dict() for difference in self.differences]}

    @classmethod
    def from_dict(cls, values: Mapping) -> BootstrapIntervals:
        """Read back :meth:`as_dict` (e.g. from JSON); a missing or malformed entry raises ``KeyError``,
        ``TypeError`` or ``ValueError``."""
        metric = MetricWithInterval.from_dict
        systems = tuple(SystemIntervals(name, metric(system["ndcg"]), metric(system["hit_rate"]))
                        for name, system in values["systems"].items())
        differences = tuple(PairedDifference(d["first"], d["second"], metric(d["ndcg"]), metric(d["hit_rate"]))
                            for d in values["differences"])
        return cls(int(values["k"]), int(values["pairs"]), int(values["resamples"]), int(values["seed"]),
                   float(values["confidence"]), systems, differences)


def paired_bootstrap(ranks: Mapping[str, np.ndarray], k: int = 10, differences: Sequence[tuple[str, str]] = (),
                     resamples: int = DEFAULT_RESAMPLES, seed: int = 0,
                     confidence: float = DEFAULT_CONFIDENCE) -> BootstrapIntervals:
    """Intervals of NDCG@k and HR@k for every system in ``ranks`` and every ``(first, second)`` difference.

    ``ranks`` maps a system's name to the 0-based rank of the true item for each held-out pair
    (as :func:`track2vec.evaluation.rank_targets` gives them); all systems over the same pairs, in
    the same order. Bad input is a :class:`ConfigError`.
    """
    names, rank_arrays = _checked_ranks(ranks)
    _check_settings(k, resamples, seed, confidence)
    for pair in differences:
        if len(pair) != 2 or any(name not in names for name in pair):
            raise ConfigError(f"a difference names two of the systems ({', '.join(names)}), got {tuple(pair)!r}")
    per_system = [pair_gains(array, k) for array in rank_arrays]
    columns = [column for gains, hits in per_system for column in (gains, hits)]
    for first, second in differences:
        (first_gains, first_hits), (second_gains, second_hits) = per_system[names.index(first)], per_system[names.index(second)]
        columns += [first_gains - second_gains, first_hits.astype(np.float64) - second_hits]
    values = np.column_stack(columns).astype(np.float64)
    statistics = _resampled_means(values, resamples, seed)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(statistics, [tail, 1.0 - tail], axis=0)
    point = values.mean(axis=0)
    metrics = [MetricWithInterval(float(point[c]), float(low[c]), float(high[c])) for c in range(values.shape[1])]
    systems = tuple(SystemIntervals(name, metrics[2 * s], metrics[2 * s + 1]) for s, name in enumerate(names))
    offset = 2 * len(names)
    paired = tuple(PairedDifference(first, second, metrics[offset + 2 * d], metrics[offset + 2 * d + 1])
                   for d, (first, second) in enumerate(differences))
    return BootstrapIntervals(int(k), len(rank_arrays[0]), int(resamples), int(seed), float(confidence), systems, paired)


def _resampled_means(values: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    """[resamples, columns]: the column means of ``values`` over each resample of its rows.

    A resample is a row of weights (how often each pair was drawn), so a block of resamples is
    one matrix product with ``values``.
    """
    n = len(values)
    rng = np.random.default_rng(seed)
    statistics = np.empty((resamples, values.shape[1]), dtype=np.float64)
    for start in range(0, resamples, RESAMPLE_BLOCK):
        rows = min(RESAMPLE_BLOCK, resamples - start)
        drawn = rng.integers(0, n, size=(rows, n)) + n * np.arange(rows)[:, None]
        weights = np.bincount(drawn.ravel(), minlength=rows * n).reshape(rows, n).astype(np.float64)
        statistics[start:start + rows] = weights @ values / n
    return statistics


def _checked_ranks(ranks: Mapping[str, np.ndarray]) -> tuple[list[str], list[np.ndarray]]:
    if not isinstance(ranks, Mapping) or not ranks:
        raise ConfigError("the bootstrap needs the ranks of at least one system (a mapping of name to ranks)")
    names, arrays = [], []
    for name, values in ranks.items():
        if not isinstance(name, str):
            raise ConfigError(f"a system's name must be a string, got {name!r}")
        array = np.asarray(values)
        if array.ndim != 1 or not (np.issubdtype(array.dtype, np.integer) or array.size == 0):
            raise ConfigError(f"the ranks of {name!r} must be a 1-D array of integers, got shape {array.shape} "
                              f"and dtype {array.dtype}")
        if array.size == 0:
            raise ConfigError(f"the ranks of {name!r} are empty: there are no pairs to resample")
        if array.min() < 0:
            raise ConfigError(f"the ranks of {name!r} must be 0-based (>= 0), got {array.min()}")
        if arrays and len(array) != len(arrays[0]):
            raise ConfigError(f"every system must be ranked on the same pairs: {names[0]!r} has {len(arrays[0])} "
                              f"ranks, {name!r} {len(array)}")
        names.append(name)
        arrays.append(array.astype(np.int64))
    return names, arrays


def _check_settings(k: int, resamples: int, seed: int, confidence: float) -> None:
    for label, value, least in (("k", k, 1), ("resamples", resamples, 1), ("seed", seed, 0)):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < least:
            raise ConfigError(f"{label} must be an integer >= {least}, got {value!r}")
    if not isinstance(confidence, numbers.Real) or not 0.0 < confidence < 1.0:
        raise ConfigError(f"confidence must be between 0 and 1 (exclusive), got {confidence!r}")
