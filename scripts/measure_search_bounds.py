#!/usr/bin/env python
"""Do the default search space's bounds leave out only trials that could not win?

Reads finished studies (their Optuna storage: every trial's parameters and per-epoch validation
NDCG@10) and sorts their trials two ways: *good* ones ran all ``max_epochs`` epochs and came within
``--good-within`` of their study's best validation NDCG@10; *poor* ones scored under ``--poor-below``
of their study's best first epoch. For each bound of today's default space that a study's trials can
fall outside (``alpha``'s and ``subsample``'s floors, ``lr_at_batch_1024``'s range), and for all of
them together, it prints how many trials lie outside, and how many of those were good and how many
poor. A trial of a study that searched ``learning_rate`` itself is placed by the rate of 1,024 pairs
it implies (``learning_rate * sqrt(1024 / batch_size)``), so studies from before the square-root rule
are read alike. It also prints the span of the good trials' rates, plain and per 1,024 pairs.

Validation only: the studies' test scores are never read.

Usage::

    .venv/bin/python scripts/measure_search_bounds.py --storage /root/track2vec-studies \\
        --names ecom-a,kosarak-b,nowplaying-c [--good-within 0.03] [--poor-below 0.7]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from track2vec.errors import Track2VecError  # noqa: E402

from tune import optuna_store  # noqa: E402
from tune.search_space import LR_AT_REFERENCE, build_space, learning_rate_at, lr_at_reference_of  # noqa: E402
from tune.study import Study  # noqa: E402


@dataclass(frozen=True)
class TrialPoint:
    """One trial: what the bounds look at, and how it did."""

    study: str
    params: dict
    good: bool
    poor: bool

    @property
    def learning_rate(self) -> float:
        if "learning_rate" in self.params:
            return float(self.params["learning_rate"])
        return learning_rate_at(self.lr_at_reference, self.params["batch_size"])

    @property
    def lr_at_reference(self) -> float:
        if LR_AT_REFERENCE in self.params:
            return float(self.params[LR_AT_REFERENCE])
        return lr_at_reference_of(self.params["learning_rate"], self.params["batch_size"])


def study_points(storage: str, name: str, good_within: float, poor_below: float) -> list[TrialPoint]:
    """The trials of one study that reported at least one epoch."""
    study = Study(storage, name)
    spec = study.load_spec()
    trials = [trial for trial in optuna_store.load(study, spec).trials if trial.intermediate_values]
    if not trials:
        raise Track2VecError(f"{study.path}: no trial reported an epoch")
    best = max(max(trial.intermediate_values.values()) for trial in trials)
    best_first = max(trial.intermediate_values.get(1, 0.0) for trial in trials)
    return [TrialPoint(name, dict(trial.params),
                       good=(max(trial.intermediate_values) >= spec.max_epochs
                             and max(trial.intermediate_values.values()) >= (1 - good_within) * best),
                       poor=trial.intermediate_values.get(1, 0.0) < poor_below * best_first)
            for trial in trials]


def bounds() -> dict[str, Callable[[TrialPoint], bool]]:
    """Each bound of today's default space, as a test that a trial lies outside it."""
    space = build_space()
    alpha, subsample, rate = (space.distributions[name] for name in ("alpha", "subsample", LR_AT_REFERENCE))
    return {
        f"alpha below {alpha.low:g}": lambda point: point.params["alpha"] < alpha.low,
        f"subsample below {subsample.low:g}": lambda point: point.params["subsample"] < subsample.low,
        f"{LR_AT_REFERENCE} outside {rate.low:g}-{rate.high:g}":
            lambda point: not rate.low <= point.lr_at_reference <= rate.high,
    }


def summary(points: list[TrialPoint]) -> list[str]:
    """The lines printed: totals, then each bound and all of them together."""
    tests = bounds()
    good = [point for point in points if point.good]
    lines = [f"{len(points)} trials of {len({point.study for point in points})} studies: {len(good)} good, "
             f"{sum(point.poor for point in points)} poor"]
    if good:
        plain = [point.learning_rate for point in good]
        scaled = [point.lr_at_reference for point in good]
        lines.append(f"good trials' learning_rate {min(plain):.2e}-{max(plain):.2e} ({max(plain) / min(plain):.0f}x), "
                     f"{LR_AT_REFERENCE} {min(scaled):.2e}-{max(scaled):.2e} ({max(scaled) / min(scaled):.0f}x)")
    each = list(tests.values())
    tests["all bounds together"] = lambda point: any(test(point) for test in each)
    for label, outside in tests.items():
        left_out = [point for point in points if outside(point)]
        lines.append(f"{label:40s} leaves out {len(left_out):3d}: {sum(p.good for p in left_out)} good, "
                     f"{sum(p.poor for p in left_out)} poor")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--storage", required=True, help="the directory that holds the studies")
    parser.add_argument("--names", required=True, help="study names, comma-separated")
    parser.add_argument("--good-within", type=float, default=0.03, help="good: within this share of the study's best")
    parser.add_argument("--poor-below", type=float, default=0.7,
                        help="poor: first epoch under this share of the study's best first epoch")
    args = parser.parse_args(argv)
    try:
        points = [point for name in args.names.split(",") if name
                  for point in study_points(str(Path(args.storage).resolve()), name, args.good_within, args.poor_below)]
    except Track2VecError as error:
        print(f"measure_search_bounds: error: {error}", file=sys.stderr)
        return 2
    print("\n".join(summary(points)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
