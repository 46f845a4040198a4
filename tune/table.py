"""The evaluation table and the summaries of a study, as text: CSV, Markdown, lines, ``status`` JSON.

Rendering only: the rows come from ``tune.reader``, the winner and its comparison series
from ``tune.evaluation``.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

from track2vec.blend import Blend
from track2vec.intervals import MetricWithInterval, PairedDifference

from tune.comparison import BEST_TRIAL, RUNNER_UP, SPLIT_LABELS, SPLITS, TEST, VALIDATION, WINNER, Comparison, label
from tune.evaluation import Evaluation
from tune.intervals import StudyIntervals, verdict
from tune.reader import COMPLETED, ERRORED, RUNNING, STOPPED, TrialRow
from tune.repeats import MEAN_BY, RepeatedConfiguration, Repeats, SeedInterval
from tune.search_space import PAIR_SAMPLING, PARAMS

TRIALS_CSV, TRIALS_MD = "trials.csv", "trials.md"

COLUMNS = [  # (csv name, header)
    ("trial_id", "trial"), ("optuna_trial", "optuna #"), ("status", "status"), ("epochs", "epochs"),
    *[(name, name) for name in PARAMS],
    ("best_val_ndcg_at_10", "best val NDCG@10"), ("best_epoch", "best epoch"), ("best_scoring", "scoring"),
    ("best_val_hr_at_10", "best val HR@10"), ("last_val_ndcg_at_10", "last val NDCG@10"),
    ("last_val_hr_at_10", "last val HR@10"), ("loss", "loss"), ("accuracy", "accuracy"),
    ("pairs_per_second", "pairs/s"), ("wall_seconds", "wall s"), ("cost", "cost: s/epoch, peak MiB"),
    ("host_pid", "host:pid"),
    ("test_ndcg_at_10", "test NDCG@10"), ("test_hr_at_10", "test HR@10"),
]
# The columns that fit a terminal.
COMPACT = {"trial_id", "status", "epochs", "architecture", "dim", "window", "direction", "artist_vectors", "negatives",
           "batch_size", "alpha", "subsample", "learning_rate", "best_val_ndcg_at_10", "best_scoring", "best_val_hr_at_10",
           "wall_seconds", "cost"}
WINNER_MARK = " ★"
# With repeats: each repeated configuration's validation NDCG@10 over its new seeds. The CSV has the
# numbers; Markdown and HTML show them in one cell, "mean ± half-width (seeds)".
REPEAT_COLUMN = ("repeats_val_ndcg_at_10", "val NDCG@10 over seeds, mean ± 95%")
REPEAT_CSV_COLUMNS = [("repeats_mean_val_ndcg_at_10", "mean"), ("repeats_val_ndcg_low", "low"),
                      ("repeats_val_ndcg_high", "high"), ("repeats_seeds", "seeds")]
# A trial's cost (tune/cost.py): the CSV has the numbers and whether they meet the study's budget;
# Markdown and HTML show them in one cell, "0.42 s · 850 MiB", marked where over the budget.
COST_CSV_COLUMNS = [("seconds_per_epoch", "s/epoch"), ("peak_memory_mib", "peak MiB"), ("over_budget", "over budget")]
OVER_BUDGET_MARK = " (over budget)"


@dataclass(frozen=True)
class Cost:
    """A row's cost cell."""

    seconds_per_epoch: float | None
    peak_memory_mib: float | None
    over_budget: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.seconds_per_epoch is None and self.peak_memory_mib is None:
            return "–"
        seconds = "–" if self.seconds_per_epoch is None else f"{self.seconds_per_epoch:.3g} s"
        memory = "–" if self.peak_memory_mib is None else f"{self.peak_memory_mib:,.0f} MiB"
        return f"{seconds} · {memory}" + (OVER_BUDGET_MARK if self.over_budget else "")


def columns(repeats: Repeats | None, compact: bool = False, csv_columns: bool = False) -> list[tuple[str, str]]:
    """The table's columns: ``COLUMNS`` (``COMPACT`` ones only if ``compact``) and, with repeats, theirs
    after the best validation NDCG@10 (the CSV's numbers, or the one cell of Markdown and HTML)."""
    chosen = [column for column in COLUMNS if column[0] in COMPACT] if compact else list(COLUMNS)
    if repeats is not None and repeats.configurations:
        at = [name for name, _ in chosen].index("best_val_ndcg_at_10") + 1
        chosen[at:at] = REPEAT_CSV_COLUMNS if csv_columns else [REPEAT_COLUMN]
    if csv_columns:
        at = [name for name, _ in chosen].index("cost")
        chosen[at:at + 1] = COST_CSV_COLUMNS
    return chosen


def row_values(row: TrialRow, winner_id: str | None, comparison: Comparison,
               repeated: RepeatedConfiguration | None = None) -> dict[str, Any]:
    """The row's cell values by column name; the winner alone has test scores (its own, where the winner
    is an ensemble of trials); ``repeated``: the row's configuration's repeats, where it has some."""
    own = BEST_TRIAL if BEST_TRIAL in comparison else WINNER
    test = comparison.score(own, TEST) if row.trial_id == winner_id else None
    over_seeds = repeated.interval if repeated is not None else None
    return {
        "trial_id": row.trial_id, "optuna_trial": row.optuna_number, "status": row.status, "epochs": row.epochs,
        **_acting(row.params),
        "best_val_ndcg_at_10": row.best_val_ndcg, "best_epoch": row.best_epoch, "best_scoring": row.best_scoring,
        "best_val_hr_at_10": row.best_val_hr,
        "last_val_ndcg_at_10": row.last_val_ndcg, "last_val_hr_at_10": row.last_val_hr,
        "loss": row.loss, "accuracy": row.accuracy, "pairs_per_second": row.pairs_per_second,
        "wall_seconds": row.wall_seconds, "host_pid": row.hosts,
        "cost": Cost(row.seconds_per_epoch, row.peak_memory_mib, row.over_budget),
        "seconds_per_epoch": row.seconds_per_epoch, "peak_memory_mib": row.peak_memory_mib,
        "over_budget": "; ".join(row.over_budget) or None,
        "test_ndcg_at_10": test.ndcg if test else None, "test_hr_at_10": test.hit_rate if test else None,
        REPEAT_COLUMN[0]: over_seeds,
        "repeats_mean_val_ndcg_at_10": over_seeds.mean if over_seeds else None,
        "repeats_val_ndcg_low": over_seeds.low if over_seeds else None,
        "repeats_val_ndcg_high": over_seeds.high if over_seeds else None,
        "repeats_seeds": over_seeds.seeds if over_seeds else None,
    }


def _acting(params: dict[str, Any]) -> dict[str, Any]:
    """A trial's hyperparameters, the pair sampling settings left blank for a count-softmax trial: it does not
    read them, whether its space fixed them or Optuna drew them (a space searching it beside a pair model)."""
    if params.get("architecture") != "count-softmax":
        return params
    return {name: None if name in PAIR_SAMPLING else value for name, value in params.items()}


def format_cell(name: str, value: Any) -> str:
    """A table cell: hyperparameters and metrics each in their own number format."""
    if value is None or value == "":
        return "–"
    if isinstance(value, (SeedInterval, Cost)):
        return value.describe()
    if isinstance(value, float):
        if name in ("subsample", "learning_rate", "lr_at_batch_1024"):
            return f"{value:.2e}"
        if name == "pairs_per_second":
            return f"{value:,.0f}"
        if name in ("wall_seconds", "alpha"):
            return f"{value:.2f}" if name == "alpha" else f"{value:.1f}"
        return f"{value:.4f}"
    return str(value)


def _winner_id(evaluation: Evaluation) -> str | None:
    return evaluation.winner.trial_id if evaluation.winner else None


def _values(evaluation: Evaluation, row: TrialRow, winner_id: str | None = None,
            comparison: Comparison | None = None) -> dict[str, Any]:
    repeated = evaluation.repeats.by_trial().get(row.trial_id) if evaluation.repeats else None
    return row_values(row, winner_id or _winner_id(evaluation), comparison or evaluation.comparison, repeated)


def records(evaluation: Evaluation, winner_id: str | None = None,
            comparison: Comparison | None = None) -> list[dict[str, Any]]:
    """The CSV's rows as dicts (column name -> value, None where empty); ``winner_id`` and ``comparison``
    stand in for the evaluation's (e.g. those of the study's export, for an evaluation without a corpus)."""
    chosen = columns(evaluation.repeats, csv_columns=True)
    return [{name: values[name] for name, _ in chosen}
            for values in (_values(evaluation, row, winner_id, comparison) for row in evaluation.rows)]


def to_csv(evaluation: Evaluation) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([name for name, _ in columns(evaluation.repeats, csv_columns=True)])
    for record in records(evaluation):
        writer.writerow(["" if value is None else value for value in record.values()])
    return out.getvalue()


def to_markdown(evaluation: Evaluation, limit: int | None = None, compact: bool = False) -> str:
    """The table in Markdown; ``compact`` keeps the columns that fit a terminal."""
    chosen = columns(evaluation.repeats, compact)
    lines = ["| " + " | ".join(header for _, header in chosen) + " |",
             "|" + "|".join("---" for _ in chosen) + "|"]
    winner_id = _winner_id(evaluation)
    for row in evaluation.rows[:limit]:
        values = _values(evaluation, row)
        mark = WINNER_MARK if row.trial_id == winner_id else ""
        cells = [format_cell(name, values[name]) + (mark if name == "trial_id" else "") for name, _ in chosen]
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
        f"({counts[COMPLETED]} completed, {counts[STOPPED]} stopped early by ASHA"
        f"{' or the budget' if spec.has_budget else ''}, {counts[ERRORED]} errored, "
        f"{counts[RUNNING]} running/unfinished); max {spec.max_epochs} epochs, data {spec.data}.",
    ]
    if spec.has_budget:
        lines.append(budget_line(evaluation))
    winner = evaluation.winner
    if winner is None:
        if spec.has_budget and evaluation.over_budget:
            lines.append("No trial that meets the budget has finished an epoch: nothing to export.")
        else:
            lines.append("No trial has finished an epoch yet: nothing to export.")
        return lines
    repeated = evaluation.repeats.by_trial().get(winner.trial_id) if evaluation.repeats else None
    run = evaluation.winner_run or winner
    # An ensemble's scoring is its own (said on its line below); the trial's line names the trial's.
    if len(evaluation.ensemble) > 1:
        scoring = f", ranking by {run.best_scoring}." if run.best_scoring else "."
    else:
        scoring = f", ranking by {evaluation.winner_scoring.describe()}." if evaluation.winner_scoring else "."
    if repeated is None:
        lines.append(
            f"Winner (chosen on validation only): trial {winner.trial_id}, best validation NDCG@10 "
            f"{winner.best_val_ndcg:.4f} / HR@10 {winner.best_val_hr:.4f} at epoch {winner.best_epoch} of "
            f"{winner.epochs}" + scoring)
    else:
        lines.append(
            f"Winner (chosen on validation only, by the {MEAN_BY}): the configuration of trial {winner.trial_id}, "
            f"{repeated.interval.describe()}; its vectors are those of its best seed, {run.seed} (repeat trial "
            f"{run.trial_id}): validation NDCG@10 {run.best_val_ndcg:.4f} / HR@10 {run.best_val_hr:.4f} at epoch "
            f"{run.best_epoch} of {run.epochs}" + scoring)
    if len(evaluation.ensemble) > 1:
        others = ", ".join(member.trial_id for member in evaluation.ensemble[1:])
        validation = comparison.series.get(WINNER, {}).get(VALIDATION)
        lines.append(f"The winner is an ensemble, chosen on validation: its vectors side by side with those of trial(s) "
                     f"{others} (one model, {evaluation.winner_embeddings.shape[1]} dimensions, scoring the sum of "
                     f"theirs; embeddings only)" + (f", validation NDCG@10 {validation.ndcg:.4f}" if validation else "")
                     + f", ranking by {evaluation.winner_scoring.describe()}.")
    test = comparison.series.get(WINNER, {}).get(TEST)
    if test is not None:
        lines.append(f"Winner on the held-out test pairs (scored once): NDCG@10 {test.ndcg:.4f}, "
                     f"HR@10 {test.hit_rate:.4f}.")
    lines += [comparison_line(comparison, series) for series in comparison.series if series != WINNER]
    if evaluation.blend is not None:
        lines.append(blend_line(evaluation.blend))
    if evaluation.repeats is not None:
        lines += repeat_lines(evaluation.repeats, winner.trial_id)
    if evaluation.intervals is not None:
        lines += interval_lines(evaluation.intervals)
    return lines


def blend_line(blend: Blend) -> str:
    """What the blend (``track2vec.blend.Blend``) ranks by, every choice of it made on validation."""
    counts = "log(1 + SR)" + (f" + {blend.ar_weight:g} × log(1 + AR)" if blend.ar_weight else "")
    return (f"The blend ranks by the winner's vectors under {blend.scoring.describe()} plus {blend.weight:g} × "
            f"({counts}), its scoring and weights chosen on validation.")


def budget_line(evaluation: Evaluation) -> str:
    """The budget, the trials over it, and the winner it displaced."""
    from tune.cost import Budget

    over = evaluation.over_budget
    line = (f"Budget: {Budget.of(evaluation.spec).describe()}; {len(over)} trial(s) over it "
            "(stopped once measured, never the winner)")
    best = evaluation.best_over_budget
    if best is not None:
        line += (f"; without the budget trial {best.trial_id} would win (validation NDCG@10 "
                 f"{best.best_val_ndcg:.4f}; {', '.join(best.over_budget)})")
    return line + "."


def repeat_lines(repeats: Repeats, winner_id: str | None) -> list[str]:
    """The repeated configurations, best mean first, each with its mean, interval and every seed's value."""
    plan = repeats.plan
    lines = [f"Repeats: the top {plan.top} configuration(s) by validation NDCG@10, each trained again for its best "
             f"epoch count with {plan.repeats} new seed(s) ({', '.join(map(str, plan.seeds))}); validation NDCG@10 "
             f"over the seeds, mean ± 95% t interval:"]
    for configuration in repeats.configurations:
        runs = ", ".join(f"seed {run.seed}: {run.best_val_ndcg:.4f}" for run in
                         sorted(configuration.runs, key=lambda run: run.seed if run.seed is not None else 0))
        mark = WINNER_MARK if configuration.trial_id == winner_id else ""
        lines.append(f"- trial {configuration.trial_id}{mark} ({configuration.configuration.epochs} epochs): "
                     f"{configuration.interval.describe()}; {runs}")
    missing = len(plan.configurations) - len(repeats.configurations)
    if missing:
        lines.append(f"- {missing} configuration(s) have no finished repeat yet")
    return lines


def _interval(metric: MetricWithInterval, signed: bool = False) -> str:
    sign = "+" if signed else ""
    return f"{metric.value:{sign}.4f} [{metric.low:{sign}.4f}, {metric.high:{sign}.4f}]"


def difference_line(difference: PairedDifference, second: str, first: str = "Winner") -> str:
    """``Winner − <second>: NDCG@10 +0.0100 [...], HR@10 ...: <what the interval says>.``"""
    return (f"{first} − {second}: NDCG@10 {_interval(difference.ndcg, signed=True)}, "
            f"HR@10 {_interval(difference.hit_rate, signed=True)}: {verdict(difference)}.")


def interval_lines(intervals: StudyIntervals) -> list[str]:
    """Every series' test NDCG@10 and HR@10 with its interval, then the paired differences."""
    bootstrap = intervals.bootstrap
    lines = [f"Test NDCG@10 and HR@10 with {bootstrap.confidence:.0%} intervals (paired bootstrap: "
             f"{bootstrap.resamples} resamples of the {bootstrap.pairs:,} test pairs, seed {bootstrap.seed}):"]
    for system in bootstrap.systems:
        name = label(system.name)
        if system.name == RUNNER_UP:
            name += f", trial {intervals.runner_up}, scored on test for these intervals only"
        lines.append(f"- {name}: NDCG@10 {_interval(system.ndcg)}, HR@10 {_interval(system.hit_rate)}")
    if intervals.versus_runner_up is not None:
        lines.append(difference_line(intervals.versus_runner_up, f"runner-up (trial {intervals.runner_up})"))
    if intervals.versus_best_baseline is not None:
        lines.append(difference_line(intervals.versus_best_baseline,
                                     f"best baseline on validation ({label(intervals.best_baseline)})"))
    if intervals.blend_versus_counts is not None:
        lines.append(difference_line(intervals.blend_versus_counts, "its count term alone (what the embeddings add)",
                                     first="Blend"))
    return lines


def trials_markdown(evaluation: Evaluation) -> str:
    """``trials.md``: the summary, then every trial."""
    summary = summary_lines(evaluation)
    return "\n\n".join(["# " + summary[0], *summary[1:], to_markdown(evaluation)]) + "\n"


def status_report(evaluation: Evaluation, optuna_counts: dict[str, int],
                  exported: Comparison | None = None, exported_intervals: StudyIntervals | None = None) -> dict[str, Any]:
    """A JSON-able summary for ``status --json``; ``exported``: the scores in the study's export,
    ``exported_intervals`` their intervals."""
    counts = evaluation.counts()
    # Under a budget the best so far is the best trial that meets it: the one that can win.
    best = next((row for row in evaluation.rows if row.meets_budget), None)
    best = best if best is not None and best.best_val_ndcg is not None else None
    return {
        "study": evaluation.study.name,
        "path": evaluation.study.path,
        "trials": evaluation.spec.trials,
        **{key.replace(" ", "_"): value for key, value in counts.items()},
        "best": None if best is None else {"trial_id": best.trial_id, "best_val_ndcg_at_10": best.best_val_ndcg,
                                          "epochs": best.epochs, "status": best.status, "params": best.params},
        "optuna": optuna_counts,
        "exported_scores": exported.as_dict() if exported else None,
        "exported_intervals": exported_intervals.as_dict() if exported_intervals else None,
        "repeats": evaluation.repeats.as_dict() if evaluation.repeats else None,
    }


def status_lines(evaluation: Evaluation, optuna_counts: dict[str, int], limit: int,
                 exported: Comparison | None = None, exported_intervals: StudyIntervals | None = None) -> list[str]:
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
    if exported_intervals:
        lines += [f"    {line}" for line in interval_lines(exported_intervals)]
    if evaluation.repeats is not None:
        lines += [f"  {line}" for line in repeat_lines(evaluation.repeats, None)]
    if evaluation.rows:
        lines += ["", to_markdown(evaluation, limit=limit, compact=True)]
    return lines


def dumps(value: Any) -> str:
    return json.dumps(value, indent=2, default=str)
