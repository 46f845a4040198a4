"""The evaluation table and the summaries of a study, as text: CSV, Markdown, lines, ``status`` JSON.

Rendering only: the rows come from ``tune.reader``, the winner and its comparison series
from ``tune.evaluation``.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from tune.comparison import SPLIT_LABELS, SPLITS, TEST, WINNER, Comparison, label
from tune.evaluation import Evaluation
from tune.reader import COMPLETED, ERRORED, RUNNING, STOPPED, TrialRow
from tune.search_space import PARAMS

TRIALS_CSV, TRIALS_MD = "trials.csv", "trials.md"

COLUMNS = [  # (csv name, header)
    ("trial_id", "trial"), ("optuna_trial", "optuna #"), ("status", "status"), ("epochs", "epochs"),
    *[(name, name) for name in PARAMS],
    ("best_val_ndcg_at_10", "best val NDCG@10"), ("best_epoch", "best epoch"), ("best_scoring", "scoring"),
    ("best_val_hr_at_10", "best val HR@10"), ("last_val_ndcg_at_10", "last val NDCG@10"),
    ("last_val_hr_at_10", "last val HR@10"), ("loss", "loss"), ("accuracy", "accuracy"),
    ("pairs_per_second", "pairs/s"), ("wall_seconds", "wall s"), ("host_pid", "host:pid"),
    ("test_ndcg_at_10", "test NDCG@10"), ("test_hr_at_10", "test HR@10"),
]
# The columns that fit a terminal.
COMPACT = {"trial_id", "status", "epochs", "architecture", "dim", "window", "direction", "negatives", "batch_size",
           "alpha", "subsample", "learning_rate", "best_val_ndcg_at_10", "best_scoring", "best_val_hr_at_10",
           "wall_seconds"}
WINNER_MARK = " ★"


def row_values(row: TrialRow, winner_id: str | None, comparison: Comparison) -> dict[str, Any]:
    """The row's cell values by column name; the winner alone has test scores."""
    test = comparison.score(WINNER, TEST) if row.trial_id == winner_id else None
    return {
        "trial_id": row.trial_id, "optuna_trial": row.optuna_number, "status": row.status, "epochs": row.epochs,
        **row.params,
        "best_val_ndcg_at_10": row.best_val_ndcg, "best_epoch": row.best_epoch, "best_scoring": row.best_scoring,
        "best_val_hr_at_10": row.best_val_hr,
        "last_val_ndcg_at_10": row.last_val_ndcg, "last_val_hr_at_10": row.last_val_hr,
        "loss": row.loss, "accuracy": row.accuracy, "pairs_per_second": row.pairs_per_second,
        "wall_seconds": row.wall_seconds, "host_pid": row.hosts,
        "test_ndcg_at_10": test.ndcg if test else None, "test_hr_at_10": test.hit_rate if test else None,
    }


def format_cell(name: str, value: Any) -> str:
    """A table cell: hyperparameters and metrics each in their own number format."""
    if value is None or value == "":
        return "–"
    if isinstance(value, float):
        if name in ("subsample", "learning_rate"):
            return f"{value:.2e}"
        if name == "pairs_per_second":
            return f"{value:,.0f}"
        if name in ("wall_seconds", "alpha"):
            return f"{value:.2f}" if name == "alpha" else f"{value:.1f}"
        return f"{value:.4f}"
    return str(value)


def _winner_id(evaluation: Evaluation) -> str | None:
    return evaluation.winner.trial_id if evaluation.winner else None


def to_csv(evaluation: Evaluation) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([name for name, _ in COLUMNS])
    for row in evaluation.rows:
        values = row_values(row, _winner_id(evaluation), evaluation.comparison)
        writer.writerow(["" if values[name] is None else values[name] for name, _ in COLUMNS])
    return out.getvalue()


def to_markdown(evaluation: Evaluation, limit: int | None = None, compact: bool = False) -> str:
    """The table in Markdown; ``compact`` keeps the columns that fit a terminal."""
    columns = [column for column in COLUMNS if column[0] in COMPACT] if compact else COLUMNS
    lines = ["| " + " | ".join(header for _, header in columns) + " |",
             "|" + "|".join("---" for _ in columns) + "|"]
    winner_id = _winner_id(evaluation)
    for row in evaluation.rows[:limit]:
        values = row_values(row, winner_id, evaluation.comparison)
        mark = WINNER_MARK if row.trial_id == winner_id else ""
        cells = [format_cell(name, values[name]) + (mark if name == "trial_id" else "") for name, _ in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def comparison_line(comparison: Comparison, series: str) -> str:
    """One series' scores in words: per split, or its one number."""
    name = label(series)
    by_split = comparison.series[series]
    if not set(by_split) & set(SPLITS):
        score = comparison.score(series, SPLITS[0])
        return f"{name[0].upper()}{name[1:]}: NDCG@10 {score.ndcg:.4f}, HR@10 {score.hit_rate:.4f}."
    parts = [f"{SPLIT_LABELS[split]} NDCG@10 {by_split[split].ndcg:.4f}, HR@10 {by_split[split].hit_rate:.4f}"
             for split in SPLITS if split in by_split]
    return f"{name[0].upper()}{name[1:]}: " + "; ".join(parts) + "."


def summary_lines(evaluation: Evaluation) -> list[str]:
    spec, counts, comparison = evaluation.spec, evaluation.counts(), evaluation.comparison
    lines = [
        f"Study {evaluation.study.name!r}: {len(evaluation.rows)} of {spec.trials} trials "
        f"({counts[COMPLETED]} completed, {counts[STOPPED]} stopped early by ASHA, {counts[ERRORED]} errored, "
        f"{counts[RUNNING]} running/unfinished); max {spec.max_epochs} epochs, data {spec.data}.",
    ]
    winner = evaluation.winner
    if winner is None:
        lines.append("No trial has finished an epoch yet: nothing to export.")
        return lines
    lines.append(
        f"Winner (chosen on validation only): trial {winner.trial_id}, best validation NDCG@10 "
        f"{winner.best_val_ndcg:.4f} / HR@10 {winner.best_val_hr:.4f} at epoch {winner.best_epoch} of {winner.epochs}"
        + (f", ranking by {evaluation.winner_scoring.describe()}." if evaluation.winner_scoring else ".")
    )
    test = comparison.series.get(WINNER, {}).get(TEST)
    if test is not None:
        lines.append(f"Winner on the held-out test pairs (scored once): NDCG@10 {test.ndcg:.4f}, "
                     f"HR@10 {test.hit_rate:.4f}.")
    lines += [comparison_line(comparison, series) for series in comparison.series if series != WINNER]
    return lines


def trials_markdown(evaluation: Evaluation) -> str:
    """``trials.md``: the summary, then every trial."""
    summary = summary_lines(evaluation)
    return "\n\n".join(["# " + summary[0], *summary[1:], to_markdown(evaluation)]) + "\n"


def status_report(evaluation: Evaluation, optuna_counts: dict[str, int],
                  exported: Comparison | None = None) -> dict[str, Any]:
    """A JSON-able summary for ``status --json``; ``exported``: the scores in the study's export."""
    counts = evaluation.counts()
    best = evaluation.rows[0] if evaluation.rows and evaluation.rows[0].best_val_ndcg is not None else None
    return {
        "study": evaluation.study.name,
        "path": evaluation.study.path,
        "trials": evaluation.spec.trials,
        **{key.replace(" ", "_"): value for key, value in counts.items()},
        "best": None if best is None else {"trial_id": best.trial_id, "best_val_ndcg_at_10": best.best_val_ndcg,
                                          "epochs": best.epochs, "status": best.status, "params": best.params},
        "optuna": optuna_counts,
        "exported_scores": exported.as_dict() if exported else None,
    }


def status_lines(evaluation: Evaluation, optuna_counts: dict[str, int], limit: int,
                 exported: Comparison | None = None) -> list[str]:
    """``status``' text: trials by status, Optuna's states, the best so far, the export's scores, the top of the table."""
    study, report = evaluation.study, status_report(evaluation, optuna_counts)
    lines = [f"study {study.name!r} in {study.path}: {len(evaluation.rows)} of {evaluation.spec.trials} trials started",
             "  " + ", ".join(f"{count} {state}" for state, count in evaluation.counts().items())]
    if optuna_counts:
        lines.append("  Optuna: " + ", ".join(f"{count} {state.lower()}" for state, count in optuna_counts.items()))
    best = report["best"]
    if best:
        lines.append(f"  best so far: trial {best['trial_id']} ({best['status']}, {best['epochs']} epochs): "
                     f"validation NDCG@10 {best['best_val_ndcg_at_10']:.4f}")
    if exported:
        lines.append("  the export's winner beside the baselines (export/model.json):")
        lines += [f"    {comparison_line(exported, series)}" for series in exported.series]
    if evaluation.rows:
        lines += ["", to_markdown(evaluation, limit=limit, compact=True)]
    return lines


def dumps(value: Any) -> str:
    return json.dumps(value, indent=2, default=str)
