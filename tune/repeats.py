"""Repeats: the study's top configurations trained again with new seeds, and the winner by their mean.

A study's winner is the maximum over trials and epochs of runs with one seed each. After the
search, ``--repeats N`` (or ``track2vec-tune repeat``) retrains the ``top`` configurations with
the best validation NDCG@10 with ``N`` new seeds each, for the trial's best epoch count, as
trials of a Ray experiment of their own (``<study>/repeats``, no early stopping). The winner is
then the configuration with the best *mean* validation NDCG@10 over its new seeds; the search
trial's own value is left out of the mean, since it was selected for being high. The export
holds the vectors of that configuration's best seed (by validation).

The seeds are the study's seed plus 1, ..., N: the same for every configuration, so that
configurations are compared on the same seeds. ``plan.json`` in the repeats' directory
records the plan (configurations, epochs, seeds).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from typing import Any

from track2vec.errors import ConfigError

from tune.reader import ERRORED, TrialRow
from tune.trainable import EPOCHS_KEY, SEED_KEY, SOURCE_KEY

PLAN_FILE = "plan.json"
CONFIDENCE = 0.95
MEAN_BY = "mean validation NDCG@10 over the new seeds"


@dataclass(frozen=True)
class Configuration:
    """A search trial's configuration as its repeats train it: hyperparameters and epoch count."""

    trial_id: str
    params: dict[str, Any]
    epochs: int  # the search trial's best epoch


@dataclass(frozen=True)
class RepeatPlan:
    """What the repeats train: every configuration with every seed."""

    repeats: int
    top: int
    seeds: tuple[int, ...]
    configurations: tuple[Configuration, ...]

    def points(self) -> list[dict[str, Any]]:
        """One trial config per (configuration, seed), configuration by configuration."""
        return [{**configuration.params, SEED_KEY: seed, EPOCHS_KEY: configuration.epochs,
                 SOURCE_KEY: configuration.trial_id}
                for configuration in self.configurations for seed in self.seeds]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> RepeatPlan:
        values = json.loads(text)
        configurations = tuple(Configuration(str(c["trial_id"]), dict(c["params"]), int(c["epochs"]))
                               for c in values["configurations"])
        return cls(int(values["repeats"]), int(values["top"]), tuple(int(s) for s in values["seeds"]), configurations)


def repeat_seeds(study_seed: int, repeats: int) -> tuple[int, ...]:
    """The new seeds: the study's seed plus 1, ..., ``repeats``."""
    return tuple(study_seed + number for number in range(1, repeats + 1))


def make_plan(rows: list[TrialRow], study_seed: int, repeats: int, top: int) -> RepeatPlan:
    """Repeat the ``top`` trials with the best validation NDCG@10 (``rows`` are best first) among those
    that meet the study's budget (the others cannot win)."""
    if repeats < 1 or top < 1:
        raise ConfigError(f"repeats need --repeats >= 1 and --top >= 1, got {repeats} and {top}")
    chosen = [row for row in rows if row.status != ERRORED and row.best_val_ndcg is not None and row.best_epoch
              and row.meets_budget][:top]
    if not chosen:
        raise ConfigError("no trial of the study has finished an epoch: nothing to repeat")
    configurations = tuple(Configuration(row.trial_id, {name: value for name, value in row.params.items()
                                                        if value is not None}, int(row.best_epoch))
                           for row in chosen)
    return RepeatPlan(repeats, top, repeat_seeds(study_seed, repeats), configurations)


@dataclass(frozen=True)
class SeedInterval:
    """The mean over seeds of one configuration's validation NDCG@10, with a t interval (None below 2 seeds)."""

    mean: float
    low: float | None
    high: float | None
    seeds: int

    @property
    def half_width(self) -> float | None:
        return None if self.high is None else self.high - self.mean

    def describe(self) -> str:
        if self.half_width is None:
            return f"{self.mean:.4f} ({self.seeds} seed)"
        return f"{self.mean:.4f} ± {self.half_width:.4f} ({self.seeds} seeds)"

    def as_dict(self) -> dict:
        return {"mean": self.mean, "low": self.low, "high": self.high, "seeds": self.seeds,
                "confidence": CONFIDENCE, "method": "t interval over seeds"}


def seed_interval(values: list[float]) -> SeedInterval:
    """Mean and 95% t interval (Student's t with n - 1 degrees of freedom) of values from n seeds."""
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return SeedInterval(mean, None, None, n)
    from scipy.stats import t

    deviation = math.sqrt(sum((value - mean) ** 2 for value in values) / (n - 1))
    half = float(t.ppf((1 + CONFIDENCE) / 2, n - 1)) * deviation / math.sqrt(n)
    return SeedInterval(mean, mean - half, mean + half, n)


@dataclass(frozen=True)
class RepeatedConfiguration:
    """One configuration's repeats: each seed's run, their mean and interval, and the best run."""

    configuration: Configuration
    runs: tuple[TrialRow, ...]  # the repeats with a finished epoch, best validation NDCG@10 first
    interval: SeedInterval

    @property
    def trial_id(self) -> str:
        return self.configuration.trial_id

    @property
    def best_run(self) -> TrialRow:
        return self.runs[0]

    def as_dict(self) -> dict:
        return {"trial_id": self.trial_id, "epochs": self.configuration.epochs,
                "val_ndcg_at_10": self.interval.as_dict(),
                "runs": [{"trial_id": run.trial_id, "seed": run.seed, "best_val_ndcg_at_10": run.best_val_ndcg,
                          "best_epoch": run.best_epoch, "status": run.status} for run in self.runs]}


@dataclass(frozen=True)
class Repeats:
    """A study's repeats, read back: the plan and its configurations, best mean first."""

    plan: RepeatPlan
    configurations: tuple[RepeatedConfiguration, ...]  # those with a finished run, best mean first
    rows: tuple[TrialRow, ...]  # every repeat trial

    def by_trial(self) -> dict[str, RepeatedConfiguration]:
        return {configuration.trial_id: configuration for configuration in self.configurations}

    def as_dict(self) -> dict:
        return {"repeats": self.plan.repeats, "top": self.plan.top, "seeds": list(self.plan.seeds),
                "chosen_by": MEAN_BY, "configurations": [c.as_dict() for c in self.configurations]}


def summarise(plan: RepeatPlan, rows: list[TrialRow]) -> Repeats:
    """Group the repeat trials by configuration; a configuration without a finished run is left out."""
    configurations = []
    for configuration in plan.configurations:
        runs = [row for row in rows if row.source_trial == configuration.trial_id and row.status != ERRORED
                and row.best_val_ndcg is not None]
        runs.sort(key=lambda row: (-row.best_val_ndcg, row.seed if row.seed is not None else 0))
        if runs:
            configurations.append(RepeatedConfiguration(configuration, tuple(runs),
                                                        seed_interval([row.best_val_ndcg for row in runs])))
    configurations.sort(key=lambda c: -c.interval.mean)
    return Repeats(plan, tuple(configurations), tuple(rows))


def candidates(rows: list[TrialRow], repeats: Repeats | None) -> list[tuple[TrialRow, TrialRow]]:
    """(configuration's search row, row whose vectors to use) in order of preference.

    Without repeats: every row, best validation NDCG@10 first, with its own vectors. With repeats:
    the repeated configurations by mean validation NDCG@10, each with its best seed's vectors,
    then the rows not repeated, in their order.
    """
    if repeats is None or not repeats.configurations:
        return [(row, row) for row in rows]
    by_id = {row.trial_id: row for row in rows}
    repeated = [(by_id[c.trial_id], c.best_run) for c in repeats.configurations if c.trial_id in by_id]
    done = {row.trial_id for row, _ in repeated}
    return repeated + [(row, row) for row in rows if row.trial_id not in done]


def ensemble_candidates(rows: list[TrialRow], repeats: Repeats | None) -> list[tuple[TrialRow, TrialRow]]:
    """What the winner's ensemble is offered, in order: the winner's vectors (``candidates``' first), then every
    other seed of the repeated configurations (best mean first, each one's best seed first), then the other
    candidates. A new seed of a configuration errs differently from its other seeds, so each seed is a member of
    its own (BENCHMARKS.md, "Ensembles of a study's trials"). Without repeats: ``candidates``."""
    ordered = candidates(rows, repeats)
    if repeats is None or not repeats.configurations:
        return ordered
    first = ordered[0]
    by_id = {row.trial_id: row for row in rows}
    seeds = [(by_id[c.trial_id], run) for c in repeats.configurations if c.trial_id in by_id
             for run in c.runs if run is not first[1]]
    repeated = {c.trial_id for c in repeats.configurations}
    return [first, *seeds, *[(row, run) for row, run in ordered[1:] if row.trial_id not in repeated]]


def load_plan(study) -> RepeatPlan | None:
    """The plan of the study's repeats (``<study>/repeats/plan.json``), or None without repeats."""
    location = study.repeats()
    if not location.has_file(PLAN_FILE):
        return None
    try:
        return RepeatPlan.from_json(location.read_text(PLAN_FILE))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ConfigError(f"{location.path}/{PLAN_FILE}: unreadable ({type(error).__name__}: {error})") from None


def save_plan(study, plan: RepeatPlan) -> None:
    study.repeats().write_text(PLAN_FILE, plan.to_json())


def read_repeats(study) -> Repeats | None:
    """The study's repeats as far as they ran (also while they run), or None without repeats."""
    from tune.reader import read_repeat_rows

    plan = load_plan(study)
    return None if plan is None else summarise(plan, read_repeat_rows(study))
