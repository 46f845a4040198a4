"""The report's data step: everything its figures and page show, read from a study, as plain dataclasses.

The trials come from the study reader (``tune.reader``, with their cost), their per-epoch curves from their
``result.json``, the repeats from ``tune.repeats``, the winner, its comparison series and their
test intervals from the export's ``model.json``. The
report does not export by itself: exporting a study that is still running would make its own
final export fail, so a study without an export is refused with a hint.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from track2vec.errors import ConfigError
from track2vec.export import INFO_FILE

from tune import PROG
from tune.comparison import Comparison
from tune.intervals import StudyIntervals
from tune.reader import TrialRow, read_curve, read_rows
from tune.repeats import Repeats, read_repeats
from tune.spec import StudySpec
from tune.study import EXPORT_DIR, Study


@dataclass(frozen=True)
class Winner:
    """The exported winner, as ``model.json`` describes it."""

    trial_id: str
    optuna_trial: int | None = None
    best_epoch: int | None = None
    epochs_run: int | None = None
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    vectors: dict[str, Any] = field(default_factory=dict)  # whose vectors: {"trial_id", "seed", "from"}


@dataclass
class ReportData:
    """Everything the report shows."""

    study_dir: Path
    spec: StudySpec
    rows: list[TrialRow]  # best validation NDCG@10 first
    winner: Winner
    comparison: Comparison  # the winner and its comparison series, as exported
    curves: dict[str, list[tuple[int, float]]]  # trial id -> [(epoch, validation NDCG@10)]
    corpus_stats: dict[str, int] = field(default_factory=dict)
    unexported_trials: list[str] = field(default_factory=list)  # trials the export did not see
    intervals: StudyIntervals | None = None  # the exported test intervals (None in older exports)
    repeats: Repeats | None = None

    @property
    def name(self) -> str:
        return self.spec.name or self.study_dir.name

    @property
    def winner_id(self) -> str:
        return self.winner.trial_id

    @property
    def rungs(self) -> list[float]:
        return asha_rungs(self.spec)


def load_report_data(study_dir: Path) -> ReportData:
    """Read a local, exported study directory. Raises ``Track2VecError`` for a directory that is
    no study or a study without an export."""
    study_dir = Path(study_dir).absolute()
    study = Study(str(study_dir.parent), study_dir.name)
    spec = study.load_spec()
    model_json = study_dir / EXPORT_DIR / INFO_FILE
    if not model_json.is_file():
        raise ConfigError(
            f"study {study_dir.name!r} has no export yet ({model_json}); run "
            f"`{PROG} export --name {study_dir.name} --storage {study_dir.parent}` first "
            f"(a running study exports itself when it finishes)"
        )
    try:
        model = json.loads(model_json.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConfigError(f"{model_json}: unreadable ({error})") from None
    rows = read_rows(study, spec)
    exported = model.get("trial_ids")
    return ReportData(
        study_dir=study_dir, spec=spec, rows=rows,
        winner=Winner(model["trial_id"], model.get("optuna_trial"), model.get("best_epoch"), model.get("epochs_run"),
                      model.get("hyperparameters", {}), model.get("vectors") or {}),
        comparison=Comparison.from_metrics(model.get("metrics", {})),
        curves={row.trial_id: read_curve(study, row.trial_id) for row in rows},
        corpus_stats=dict(spec.corpus_stats or model.get("data", {}).get("stats", {})),
        unexported_trials=sorted({row.trial_id for row in rows} - set(exported)) if exported is not None else [],
        intervals=StudyIntervals.from_export(model.get("intervals")),
        repeats=read_repeats(study),
    )


def asha_rungs(spec: StudySpec) -> list[float]:
    """The epochs at which ASHA compares trials (as Ray's ASHA computes them), below max epochs."""
    grace, factor, max_t = spec.grace_period, spec.reduction_factor, spec.max_epochs
    count = int(math.log(max_t / grace) / math.log(factor) + 1)
    return [grace * factor ** k for k in range(count) if grace * factor ** k < max_t]


def trial_order(data: ReportData) -> tuple[list[int], list[TrialRow], str]:
    """(trial numbers, rows, axis label): the trials in the order they started, numbered by
    Optuna's trial number when every row has one, else by their row in the table."""
    if data.rows and all(row.optuna_number is not None for row in data.rows):
        ordered = sorted(data.rows, key=lambda row: row.optuna_number)
        return [row.optuna_number for row in ordered], ordered, "trial (Optuna trial number, in order of start)"
    return list(range(len(data.rows))), list(data.rows), "trial (row of the evaluation table)"


def best_so_far(values: list[float | None]) -> list[float | None]:
    """Running maximum; None until the first value."""
    best: float | None = None
    out = []
    for value in values:
        if value is not None and (best is None or value > best):
            best = value
        out.append(best)
    return out


def counts_by_status(data: ReportData) -> dict[str, int]:
    """Trials per status, in the order they first appear in the table."""
    counts: dict[str, int] = {}
    for row in data.rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    return counts


@dataclass(frozen=True)
class CostPoint:
    """One trial in the quality-against-cost figure: its best validation NDCG@10 and a cost."""

    trial_id: str
    cost: float
    ndcg: float
    meets_budget: bool


COST_AXES = (("seconds_per_epoch", "training seconds per epoch"), ("peak_memory_mib", "peak memory per trial (MiB)"))


def cost_points(data: ReportData, cost: str) -> list[CostPoint]:
    """The trials with a validation score and a measured ``cost`` (a ``TrialRow`` attribute of ``COST_AXES``)."""
    return [CostPoint(row.trial_id, float(getattr(row, cost)), row.best_val_ndcg, row.meets_budget)
            for row in data.rows if row.best_val_ndcg is not None and getattr(row, cost) is not None]


def pareto_front(points: list[CostPoint]) -> list[CostPoint]:
    """The points no other point beats on both counts (as cheap or cheaper and at least as good, better on
    one), cheapest first: for each cost, the best quality any cheaper trial reaches."""
    front: list[CostPoint] = []
    for point in sorted(points, key=lambda p: (p.cost, -p.ndcg)):
        if not front or point.ndcg > front[-1].ndcg:
            front.append(point)
    return front
