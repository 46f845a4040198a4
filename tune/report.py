"""The study report: one self-contained HTML page, ``<study>/report.html``.

It reads what a finished (or interrupted, then exported) study left in its directory:

* ``export/trials.csv`` and ``export/model.json``: the evaluation table, the winner, its
  test scores and the baselines (written by ``track2vec-tune export`` or at the end of ``run``);
* ``trial_<id>/result.json``: one line per epoch of every trial (the learning curves);
* ``optuna.db``: the Optuna study, for the hyperparameter importances.

The page holds five sections: learning curves of validation NDCG@10 (ASHA-stopped trials
dashed and ending in an ``x``, winner highlighted), best-so-far validation NDCG@10 by
trial number, hyperparameter importances (Optuna's fANOVA evaluator), the winner against
the popularity baseline and the generator's oracle on validation and test, and the
evaluation table. The figures are PNGs embedded as ``data:`` URIs (the page needs no
network) and are also written beside it as ``report_<figure>.png``.

The report does not export by itself: exporting a study that is still running would make
its own final export fail, so a study without an export is refused with a hint.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from track2vec.errors import ConfigError
from tune.spec import StudySpec
from tune.study import EXPORT_DIR, Study
from tune.table import format_cell

REPORT_FILE = "report.html"
TRIALS_CSV = "trials.csv"
MODEL_JSON = "model.json"
RESULT_FILE = "result.json"
METRIC = "val_ndcg_at_10"

# Statuses as tune.table writes them in trials.csv.
COMPLETED, STOPPED, ERRORED, RUNNING = "completed", "stopped early", "errored", "running"

# How each status is drawn: (colour, line style, end marker, legend label).
STYLES: dict[str, tuple[str, str, str, str]] = {
    COMPLETED: ("tab:blue", "-", "o", "completed"),
    STOPPED: ("tab:orange", "--", "x", "stopped early by ASHA"),
    ERRORED: ("tab:red", ":", "X", "errored"),
    RUNNING: ("tab:gray", "-.", ">", "running / unfinished"),
}
WINNER_COLOUR = "tab:green"
BASELINE_COLOUR = "0.35"
ORACLE_COLOUR = "tab:purple"
FIGURE_SIZE = (10.0, 4.8)
DPI = 110


@dataclass
class StudyData:
    """Everything the report shows, read from a study directory."""

    study_dir: Path
    spec: StudySpec
    rows: list[dict[str, Any]]  # trials.csv, best first; numbers parsed, "" -> None
    model: dict[str, Any]  # export/model.json
    curves: dict[str, list[tuple[int, float]]]  # trial id -> [(epoch, validation NDCG@10)]
    unexported_trials: list[str] = field(default_factory=list)  # trial dirs missing from trials.csv

    @property
    def name(self) -> str:
        return self.spec.name or self.study_dir.name

    @property
    def metrics(self) -> dict[str, float]:
        return self.model.get("metrics", {})

    @property
    def winner_id(self) -> str:
        return self.model["trial_id"]


# ---------------------------------------------------------------------------------------
# Reading the study


def load_study_data(study_dir: Path) -> StudyData:
    """Read ``study.json``, the export and the per-epoch results of a local study directory.

    Raises ``Track2VecError`` when the directory is no study or has not been exported yet.
    """
    study_dir = Path(study_dir).absolute()
    study = Study(str(study_dir.parent), study_dir.name)
    spec = study.load_spec()
    export = study_dir / EXPORT_DIR
    if not (export / TRIALS_CSV).is_file() or not (export / MODEL_JSON).is_file():
        raise ConfigError(
            f"study {study_dir.name!r} has no export yet ({export}/{TRIALS_CSV} and {MODEL_JSON}); run "
            f"`track2vec-tune export --name {study_dir.name} --storage {study_dir.parent}` first "
            f"(a running study exports itself when it finishes)"
        )
    rows = read_trials_csv(export / TRIALS_CSV)
    try:
        model = json.loads((export / MODEL_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConfigError(f"{export / MODEL_JSON}: unreadable ({error})") from None
    curves = {row["trial_id"]: read_curve(study_dir / f"trial_{row['trial_id']}") for row in rows}
    listed = {row["trial_id"] for row in rows}
    unexported = sorted(path.name.removeprefix("trial_") for path in study_dir.glob("trial_*")
                        if path.is_dir() and path.name.removeprefix("trial_") not in listed)
    return StudyData(study_dir, spec, rows, model, curves, unexported)


# Columns that stay text even when they look like numbers (trial id "53433e27" is not 5.3e31).
TEXT_COLUMNS = frozenset({"trial_id", "status", "architecture", "optimizer", "host_pid"})


def read_trials_csv(path: Path) -> list[dict[str, Any]]:
    """The evaluation table, with numeric cells parsed and empty cells as None."""
    with open(path, newline="", encoding="utf-8") as handle:
        return [{name: _parse(text, name in TEXT_COLUMNS) for name, text in row.items()}
                for row in csv.DictReader(handle)]


def _parse(text: str | None, is_text: bool = False) -> Any:
    if text is None or text == "":
        return None
    if is_text:
        return text
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def read_curve(trial_dir: Path) -> list[tuple[int, float]]:
    """(epoch, validation NDCG@10) of every epoch a trial reported, from its ``result.json``.

    A resumed trial may report an epoch twice: the last report wins.
    """
    path = Path(trial_dir) / RESULT_FILE
    if not path.is_file():
        return []
    by_epoch: dict[int, float] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            result = json.loads(line)
        except ValueError:  # a line cut by an interrupted write
            continue
        epoch, value = result.get("epoch"), result.get(METRIC)
        if isinstance(epoch, (int, float)) and isinstance(value, (int, float)) and math.isfinite(value):
            by_epoch[int(epoch)] = float(value)
    return sorted(by_epoch.items())


def asha_rungs(spec: StudySpec) -> list[float]:
    """The epochs at which ASHA compares trials (as Ray's ASHA computes them), below max epochs."""
    grace, factor, max_t = spec.grace_period, spec.reduction_factor, spec.max_epochs
    if not grace or not factor or not max_t or factor <= 1:
        return []
    count = int(math.log(max_t / grace) / math.log(factor) + 1)
    return [grace * factor ** k for k in range(count) if grace * factor ** k < max_t]


# ---------------------------------------------------------------------------------------
# Figures


def _new_figure(size: tuple[float, float] = FIGURE_SIZE) -> tuple[Figure, Any]:
    figure = Figure(figsize=size, dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.grid(True, alpha=0.3)
    return figure, axes


def plot_learning_curves(data: StudyData) -> Figure:
    """Validation NDCG@10 per epoch, one line per trial (``gid`` = trial id).

    Stopped-early trials are dashed and end in an ``x``; the winner is thick and green with
    a star at its best epoch; baselines and ASHA's rungs are drawn as line collections, so
    ``axes.lines`` holds exactly the trials' curves.
    """
    figure, axes = _new_figure()
    winner = data.winner_id
    statuses_drawn: set[str] = set()
    drawn = 0
    for row in reversed(data.rows):  # best last, so on top
        points = data.curves.get(row["trial_id"], [])
        if not points:
            continue
        epochs, values = zip(*points)
        status = row["status"] if row["status"] in STYLES else RUNNING
        colour, style, marker, _ = STYLES[status]
        is_winner = row["trial_id"] == winner
        line = axes.plot(
            epochs, values, linestyle=style, marker=marker, markevery=[len(epochs) - 1],
            color=WINNER_COLOUR if is_winner else colour, linewidth=2.8 if is_winner else 1.4,
            markersize=9 if is_winner else 7, markeredgewidth=2, alpha=1.0 if is_winner else 0.75,
            zorder=4 if is_winner else 2,
        )[0]
        line.set_gid(row["trial_id"])
        line.set_label(f"_trial {row['trial_id']} ({status})")  # leading "_": not in the legend
        if not is_winner:
            statuses_drawn.add(status)
        drawn += 1
        if is_winner and row.get("best_epoch") is not None and row.get("best_val_ndcg_at_10") is not None:
            axes.scatter([row["best_epoch"]], [row["best_val_ndcg_at_10"]], marker="*", s=260,
                         color=WINNER_COLOUR, edgecolor="black", zorder=5)
            axes.annotate(f"winner {winner}\n{row['best_val_ndcg_at_10']:.4f}",
                          (row["best_epoch"], row["best_val_ndcg_at_10"]), xytext=(-12, 10), ha="right",
                          textcoords="offset points", fontsize=9, color="darkgreen", zorder=6,
                          bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none",
                                "alpha": 0.8})
    handles = [Line2D([], [], color=WINNER_COLOUR, linewidth=2.8, marker="*", markersize=12,
                      markeredgecolor="black", label=f"winner ({winner})")]
    for status in STYLES:
        if status in statuses_drawn:
            colour, style, marker, label = STYLES[status]
            handles.append(Line2D([], [], color=colour, linestyle=style, marker=marker, markeredgewidth=2,
                                  label=label))
    handles += _reference_lines(axes, data)
    rungs = asha_rungs(data.spec)
    if rungs:
        axes.vlines(rungs, 0, 1, transform=axes.get_xaxis_transform(), colors="0.6", linestyles=(0, (1, 3)),
                    linewidth=1, zorder=1)
        handles.append(Line2D([], [], color="0.6", linestyle=(0, (1, 3)), label="ASHA rung (epoch)"))
    last_epoch = max([data.spec.max_epochs or 1] + [epoch for curve in data.curves.values()
                                                             for epoch, _ in curve])
    axes.set_xlim(0.7, last_epoch + 0.3)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("epoch")
    axes.set_ylabel("validation NDCG@10")
    axes.set_title(f"Learning curves of {drawn} trials: validation NDCG@10 per epoch")
    _legend_outside(axes, handles)
    return figure


def _legend_outside(axes, handles: list) -> None:
    """The legend to the right of the plot, where it hides no data."""
    axes.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8.5, frameon=False)


def _reference_lines(axes, data: StudyData) -> list[Line2D]:
    """Horizontal popularity-baseline and oracle lines (collections); their legend handles."""
    handles = []
    references = [("popularity_val_ndcg_at_10", BASELINE_COLOUR, "popularity baseline (validation)"),
                  ("oracle_ndcg_at_10", ORACLE_COLOUR, "generator oracle (best possible)")]
    for key, colour, label in references:
        value = data.metrics.get(key)
        if value is None:
            continue
        axes.hlines([value], 0, 1, transform=axes.get_yaxis_transform(), colors=colour,
                    linestyles=(0, (6, 2, 1, 2)), linewidth=1.3, zorder=1, gid=key)
        handles.append(Line2D([], [], color=colour, linestyle=(0, (6, 2, 1, 2)), label=f"{label}: {value:.4f}"))
    return handles


def trial_order(data: StudyData) -> tuple[list[int], list[dict[str, Any]], str]:
    """(trial numbers, rows, axis label): the trials in the order they started, numbered by
    Optuna's trial number when every row has one, else by their order in trials.csv."""
    if data.rows and all(row.get("optuna_trial") is not None for row in data.rows):
        ordered = sorted(data.rows, key=lambda row: row["optuna_trial"])
        return [row["optuna_trial"] for row in ordered], ordered, "trial (Optuna trial number, in order of start)"
    return list(range(len(data.rows))), list(data.rows), "trial (row of trials.csv)"


def best_so_far(values: list[float | None]) -> list[float | None]:
    """Running maximum; None until the first value."""
    best: float | None = None
    out = []
    for value in values:
        if value is not None and (best is None or value > best):
            best = value
        out.append(best)
    return out


def plot_best_so_far(data: StudyData) -> Figure:
    """Best validation NDCG@10 found so far against the trial number (in order of start).

    The running best is the line with ``gid`` ``"best-so-far"``; each trial's best epoch is a
    point, coloured by status (``gid`` ``"trials-<status>"``), the winner's a star (``gid`` ``"winner"``).
    """
    figure, axes = _new_figure()
    numbers, ordered, xlabel = trial_order(data)
    bests = [row.get("best_val_ndcg_at_10") for row in ordered]
    running = best_so_far(bests)
    drawn = [(n, value) for n, value in zip(numbers, running) if value is not None]
    if drawn:
        line = axes.plot(*zip(*drawn), drawstyle="steps-post", color="black", linewidth=2,
                         label="best so far", zorder=3)[0]
        line.set_gid("best-so-far")
    for status, (colour, _, marker, label) in STYLES.items():
        points = [(n, row["best_val_ndcg_at_10"]) for n, row in zip(numbers, ordered)
                  if row["status"] == status and row.get("best_val_ndcg_at_10") is not None
                  and row["trial_id"] != data.winner_id]
        if points:
            axes.scatter(*zip(*points), color=colour, marker=marker if marker != "x" else "X", s=55,
                         edgecolor="white" if marker != "x" else None, linewidth=0.5,
                         label=f"trial's best epoch: {label}", zorder=4, gid=f"trials-{status}")
    winner = next(((n, row) for n, row in zip(numbers, ordered) if row["trial_id"] == data.winner_id), None)
    if winner and winner[1].get("best_val_ndcg_at_10") is not None:
        axes.scatter([winner[0]], [winner[1]["best_val_ndcg_at_10"]], marker="*", s=280, color=WINNER_COLOUR,
                     edgecolor="black", zorder=5, label=f"winner ({data.winner_id})", gid="winner")
    handles, _ = axes.get_legend_handles_labels()
    handles += _reference_lines(axes, data)
    if numbers:
        axes.set_xlim(min(numbers) - 0.5, max(numbers) + 0.5)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel(xlabel)
    axes.set_ylabel("validation NDCG@10")
    axes.set_title("Best validation NDCG@10 so far, by trial")
    _legend_outside(axes, handles)
    return figure


# Importances ---------------------------------------------------------------------------


@dataclass
class Importances:
    """Optuna's importances on one basis, or why they could not be computed."""

    basis: str  # "completed" or "first rung"
    description: str  # what the objective is, for legends and the page
    trials: int  # trials the evaluator saw
    values: dict[str, float] | None = None  # hyperparameter -> importance (sums to 1)
    reason: str | None = None  # set when values is None


def param_importances(data: StudyData) -> list[Importances]:
    """Optuna's fANOVA importances (``get_param_importances``, seed 0) on two bases:

    * ``completed``: the Optuna study as stored in ``optuna.db``, i.e. completed trials with
      their best validation NDCG@10 (Optuna's own default; ASHA leaves few such trials);
    * ``first rung``: every trial with a result at ASHA's first rung (the grace period), with
      its validation NDCG@10 at that epoch, the value ASHA compares, so stopped trials count.

    Never raises: a basis that cannot be computed carries the reason instead.
    """
    grace = int(data.spec.grace_period or 1)
    descriptions = {"completed": "completed trials: best validation NDCG@10 (Optuna objective)",
                    "first rung": f"all trials: validation NDCG@10 at epoch {grace} (ASHA's first rung)"}
    try:
        study = _load_optuna_study(data)
    except Exception as error:  # missing, locked or unreadable database
        reason = f"the Optuna study could not be read ({_one_line(error)})"
        return [Importances(basis, text, 0, reason=reason) for basis, text in descriptions.items()]
    return [_importances("completed", descriptions["completed"], study),
            _importances("first rung", descriptions["first rung"], _first_rung_study(study, grace))]


def _load_optuna_study(data: StudyData):
    from tune import optuna_store

    return optuna_store.load(Study(str(data.study_dir.parent), data.study_dir.name), data.spec.optuna_storage)


def _first_rung_study(study, epoch: int):
    """An in-memory copy of ``study`` whose trials' values are their validation NDCG@10 at ``epoch``."""
    import optuna

    copy = optuna.create_study(direction="maximize")
    for frozen in study.get_trials(deepcopy=False):
        value = frozen.intermediate_values.get(epoch)
        if value is None or not math.isfinite(value) or not frozen.params:
            continue
        copy.add_trial(optuna.trial.create_trial(params=frozen.params, distributions=frozen.distributions,
                                                 value=value, state=optuna.trial.TrialState.COMPLETE))
    return copy


def _importances(basis: str, description: str, study) -> Importances:
    import optuna
    from optuna.trial import TrialState

    count = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    result = Importances(basis, description, count)
    if count < 2:
        result.reason = f"needs at least 2 trials, the study has {count}"
        return result
    try:
        evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
        values = optuna.importance.get_param_importances(study, evaluator=evaluator)
    except Exception as error:  # e.g. no hyperparameter varies across the trials
        result.reason = f"Optuna could not compute them from {count} trials ({_one_line(error)})"
        return result
    if not values:
        result.reason = f"no hyperparameter varies across the {count} trials"
    else:
        result.values = dict(values)
    return result


def _one_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def plot_importances(importances: list[Importances]) -> Figure | None:
    """Horizontal bars, one row per hyperparameter and one colour per basis; None if none computed.

    Each computed basis is one bar container labelled with its basis ('completed' or 'first
    rung'); bar ``i`` of every container belongs to ``axes.get_yticklabels()[i]``.
    """
    computed = [result for result in importances if result.values]
    if not computed:
        return None
    widest = max(computed, key=lambda result: result.trials).values  # order by the basis with most trials
    params = sorted({name for result in computed for name in result.values},
                    key=lambda name: (widest.get(name, 0.0), name))
    height = 0.8 / len(computed)
    figure, axes = _new_figure((10.0, max(3.4, 0.3 * len(params) * len(computed) + 2.0)))
    axes.grid(False, axis="y")
    colours = {"completed": "tab:blue", "first rung": "tab:orange"}
    handles = []
    for index, result in enumerate(computed):
        offsets = [i - (index - (len(computed) - 1) / 2) * height for i in range(len(params))]  # first on top
        bars = axes.barh(offsets, [result.values.get(name, 0.0) for name in params], height=height * 0.92,
                         color=colours.get(result.basis, f"C{index}"), label=result.basis)
        axes.bar_label(bars, fmt="%.2f", padding=3, fontsize=8)
        handles.append(Line2D([], [], color=colours.get(result.basis, f"C{index}"), linewidth=8,
                              label=f"{result.description} ({result.trials} trials)"))
    axes.set_yticks(range(len(params)), params)
    axes.set_xlim(0, max(max(result.values.values()) for result in computed) * 1.15 + 0.02)
    axes.set_xlabel("importance (fANOVA: share of the variance of the objective; sums to 1)")
    axes.set_ylabel("hyperparameter")
    axes.set_title("Hyperparameter importances (Optuna, fANOVA evaluator)")
    figure.legend(handles=handles, loc="outside lower center", fontsize=8.5, frameon=False)
    return figure


# Winner against the baselines --------------------------------------------------------------


def comparison_values(data: StudyData) -> dict[str, dict[str, dict[str, float]]]:
    """{metric: {series: {split: value}}} from model.json; series 'winner' and 'popularity baseline'."""
    metrics = data.metrics
    out: dict[str, dict[str, dict[str, float]]] = {}
    for metric, suffix in (("NDCG@10", "ndcg_at_10"), ("HR@10", "hr_at_10")):
        series: dict[str, dict[str, float]] = {}
        for name, prefix in (("winner", "winner"), ("popularity baseline", "popularity")):
            values = {split: metrics[f"{prefix}_{key}_{suffix}"] for split, key in
                      (("validation", "val"), ("test", "test")) if f"{prefix}_{key}_{suffix}" in metrics}
            if values:
                series[name] = values
        if series:
            out[metric] = series
    return out


def plot_winner_vs_baselines(data: StudyData) -> Figure:
    """Grouped bars: NDCG@10 and HR@10 of the winner and the popularity baseline on validation
    and test; the generator's oracle (one number, not per split) as a horizontal line.

    Every bar container is labelled 'winner' or 'popularity baseline'; its bars are in the
    order of the x tick labels ('validation', 'test').
    """
    values = comparison_values(data)
    figure = Figure(figsize=(10.0, 4.8), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    panels = figure.subplots(1, max(1, len(values)), squeeze=False)[0]
    colours = {"winner": WINNER_COLOUR, "popularity baseline": BASELINE_COLOUR}
    for axes, (metric, series) in zip(panels, values.items()):
        axes.grid(True, axis="y", alpha=0.3)
        splits = [split for split in ("validation", "test") if any(split in v for v in series.values())]
        width = 0.8 / len(series)
        for index, (name, by_split) in enumerate(series.items()):
            offsets = [i + (index - (len(series) - 1) / 2) * width for i in range(len(splits))]
            label = f"winner ({data.winner_id})" if name == "winner" else name
            bars = axes.bar(offsets, [by_split.get(split, math.nan) for split in splits], width=width * 0.92,
                            color=colours.get(name), label=label)
            bars.set_label(name)  # stable name for readers of the figure; the legend uses the handles below
            axes.bar_label(bars, fmt="%.4f", padding=2, fontsize=8.5)
        oracle = data.metrics.get(f"oracle_{'ndcg' if metric == 'NDCG@10' else 'hr'}_at_10")
        top = max([v for s in series.values() for v in s.values()] + [oracle or 0.0])
        if oracle is not None:
            axes.axhline(oracle, color=ORACLE_COLOUR, linestyle=(0, (6, 2, 1, 2)), linewidth=1.5, gid="oracle")
        axes.set_xticks(range(len(splits)), splits)
        axes.set_ylim(0, top * 1.18)
        axes.set_xlabel("held-out pairs")
        axes.set_ylabel(metric)
        axes.set_title(metric)
        if oracle is not None:
            axes.annotate(f"oracle {oracle:.4f}", (1.0, oracle), xycoords=("axes fraction", "data"),
                          xytext=(-4, 4), textcoords="offset points", ha="right", fontsize=8.5, color=ORACLE_COLOUR)
    handles = [Line2D([], [], color=colour, linewidth=8, label=f"winner ({data.winner_id})"
                      if name == "winner" else name) for name, colour in colours.items()]
    if any(key.startswith("oracle_") for key in data.metrics):
        handles.append(Line2D([], [], color=ORACLE_COLOUR, linestyle=(0, (6, 2, 1, 2)),
                              label="generator oracle (best possible; one number, not per split)"))
    figure.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=8.5, frameon=False)
    figure.suptitle("Winner vs popularity baseline (and oracle) on validation and test pairs")
    return figure


def build_figures(data: StudyData, importances: list[Importances] | None = None) -> dict[str, Figure]:
    """The report's figures by name: learning_curves, best_so_far, importances (when
    computable), winner_vs_baselines."""
    figures = {"learning_curves": plot_learning_curves(data), "best_so_far": plot_best_so_far(data)}
    importance_figure = plot_importances(param_importances(data) if importances is None else importances)
    if importance_figure is not None:
        figures["importances"] = importance_figure
    figures["winner_vs_baselines"] = plot_winner_vs_baselines(data)
    return figures


def png_bytes(figure: Figure) -> bytes:
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=DPI)
    return out.getvalue()


# ---------------------------------------------------------------------------------------
# The page

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 1100px;
       padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; } h2 { margin-top: 1.8em; border-bottom: 1px solid #ddd; padding-bottom: .2em; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: .92em; }
table { border-collapse: collapse; font-size: .85em; }
th, td { border: 1px solid #ddd; padding: .25em .5em; text-align: right; white-space: nowrap; }
th { background: #f4f4f4; position: sticky; top: 0; } td.text { text-align: left; }
tr.winner td { background: #e6f4e6; font-weight: 600; }
.status-completed { color: #1f5fa0; } .status-stopped-early { color: #b35900; }
.status-errored { color: #b00; } .status-running { color: #666; }
.scroll { overflow-x: auto; max-height: 36em; }
.note { background: #fff8e0; padding: .5em .8em; border-left: 4px solid #e0b000; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: .2em 1em; } dt { font-weight: 600; }
"""

_PRETTY = {"trial_id": "trial", "optuna_trial": "optuna #", "best_val_ndcg_at_10": "best val NDCG@10",
           "best_epoch": "best epoch", "best_val_hr_at_10": "best val HR@10",
           "last_val_ndcg_at_10": "last val NDCG@10", "last_val_hr_at_10": "last val HR@10",
           "pairs_per_second": "pairs/s", "wall_seconds": "wall s", "host_pid": "host:pid",
           "test_ndcg_at_10": "test NDCG@10", "test_hr_at_10": "test HR@10"}


def table_html(data: StudyData) -> str:
    """The evaluation table: one ``<tr class="trial">`` per row of trials.csv, winner marked."""
    if not data.rows:
        return "<p>No trials.</p>"
    columns = list(data.rows[0])
    head = "".join(f"<th>{html.escape(_PRETTY.get(name, name))}</th>" for name in columns)
    lines = []
    for row in data.rows:
        is_winner = row["trial_id"] == data.winner_id
        cells = []
        for name in columns:
            text = format_cell(name, row[name]) + (" ★" if is_winner and name == "trial_id" else "")
            css = [] if isinstance(row[name], (int, float)) else ["text"]
            if name == "status":
                css.append(f"status-{str(row[name]).replace(' ', '-')}")
            attribute = f' class="{" ".join(css)}"' if css else ""
            cells.append(f"<td{attribute}>{html.escape(text)}</td>")
        lines.append(f'<tr class="trial{" winner" if is_winner else ""}" data-trial="{html.escape(row["trial_id"])}">'
                     + "".join(cells) + "</tr>")
    return (f'<div class="scroll"><table id="trials"><thead><tr>{head}</tr></thead><tbody>\n'
            + "\n".join(lines) + "\n</tbody></table></div>")


def _counts(data: StudyData) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in data.rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return counts


def summary_html(data: StudyData) -> str:
    """Facts about the study and the winner's numbers (validation, test, baselines, oracle)."""
    spec, model, metrics = data.spec, data.model, data.metrics
    counts = ", ".join(f"{count} {status}" for status, count in _counts(data).items())
    stats = spec.corpus_stats or model.get("data", {}).get("stats", {})
    corpus = (f"{stats.get('playlists', 0):,} playlists, vocabulary {stats.get('vocabulary_size', 0):,}, "
              f"{stats.get('validation_pairs', 0):,} validation / {stats.get('test_pairs', 0):,} test pairs"
              if stats else "")
    facts = [
        ("data", f"{spec.data} ({corpus})" if corpus else spec.data),
        ("trials", f"{len(data.rows)} of {spec.trials}: {counts}"),
        ("schedule", f"at most {spec.max_epochs} epochs; ASHA grace period {spec.grace_period}, "
                     f"reduction factor {spec.reduction_factor}; seed {spec.seed}"),
        ("objective", "validation NDCG@10 (best epoch of each trial); test pairs scored once, for the winner only"),
        ("created", spec.created),
    ]
    hyper = ", ".join(f"{name} {format_cell(name, value)}" for name, value in model.get("hyperparameters", {}).items())
    facts.append(("winner", f"trial {data.winner_id} (Optuna #{model.get('optuna_trial')}), best epoch "
                            f"{model.get('best_epoch')} of {model.get('epochs_run')}: {hyper}"))
    rows = []
    for label, prefix in (("winner", "winner"), ("popularity baseline", "popularity")):
        cells = [metrics.get(f"{prefix}_{split}_{metric}") for split in ("val", "test")
                 for metric in ("ndcg_at_10", "hr_at_10")]
        rows.append((label, cells))
    if "oracle_ndcg_at_10" in metrics:
        rows.append(("generator oracle", [metrics.get("oracle_ndcg_at_10"), metrics.get("oracle_hr_at_10")] * 2))
    scores = "".join(f'<tr><td class="text">{html.escape(label)}</td>'
                     + "".join(f"<td>{format_cell('metric', value)}</td>" for value in cells) + "</tr>"
                     for label, cells in rows)
    page = ["<dl class='facts'>"]
    page += [f"<dt>{html.escape(key)}</dt><dd>{html.escape(str(value))}</dd>" for key, value in facts]
    page.append("</dl>")
    page.append("<table id='scores'><thead><tr><th></th><th>validation NDCG@10</th><th>validation HR@10</th>"
                f"<th>test NDCG@10</th><th>test HR@10</th></tr></thead><tbody>{scores}</tbody></table>")
    if "oracle_ndcg_at_10" in metrics:
        page.append("<p><small>The oracle ranks tracks by the generator's true next-track probabilities: the "
                    "best any model can do on this synthetic corpus (one number, from a sample of held-out-style "
                    "pairs, not per split).</small></p>")
    if data.unexported_trials:
        page.append(f"<p class='note'>{len(data.unexported_trials)} trial(s) in the study directory are not in "
                    f"the export ({html.escape(', '.join(data.unexported_trials))}): the export is older than the "
                    f"study; run <code>track2vec-tune export --force --name {html.escape(data.study_dir.name)} "
                    f"--storage {html.escape(str(data.study_dir.parent))}</code>, then the report again.</p>")
    return "\n".join(page)


def importance_table_html(importances: list[Importances]) -> str:
    """The computed importances as numbers, one column per basis."""
    computed = [result for result in importances if result.values]
    if not computed:
        return ""
    widest = max(computed, key=lambda result: result.trials).values
    params = sorted({name for result in computed for name in result.values},
                    key=lambda name: -widest.get(name, 0.0))
    head = "".join(f"<th>{html.escape(result.description)} ({result.trials} trials)</th>" for result in computed)
    body = "".join(f'<tr><td class="text">{html.escape(name)}</td>'
                   + "".join(f"<td>{result.values.get(name, 0.0):.3f}</td>" for result in computed) + "</tr>"
                   for name in params)
    return f"<table id='importances'><thead><tr><th>hyperparameter</th>{head}</tr></thead><tbody>{body}</tbody></table>"


def _figure_html(figure: Figure | None, alt: str, caption: str, png: bytes | None) -> str:
    if figure is None or png is None:
        return ""
    uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    return (f'<figure><img src="{uri}" alt="{html.escape(alt)}"><figcaption>{caption}</figcaption></figure>')


_CAPTIONS = {
    "learning_curves": ("learning curves",
                        "One line per trial. Solid blue: ran all epochs; dashed orange ending in ×: stopped early by "
                        "ASHA at one of its rungs (dotted verticals); green: the winner, starred at its best epoch. "
                        "Horizontal lines: popularity baseline on validation and, for built-in corpora, the "
                        "generator's oracle."),
    "best_so_far": ("best so far", "Black steps: the best validation NDCG@10 of any epoch of the trials started so "
                                   "far; points: each trial's best epoch, by status."),
    "importances": ("hyperparameter importances",
                    "Optuna's fANOVA evaluator (seed 0): the share of the variation of validation NDCG@10 each "
                    "hyperparameter explains. Blue: the Optuna study as stored (completed trials, best epoch); "
                    "orange: every trial at ASHA's first rung, the epoch all trials reached, so that stopped "
                    "trials count too. With few trials these are rough."),
    "winner_vs_baselines": ("winner against baselines",
                            "The winner's embeddings from its best epoch, scored on the validation pairs (where it "
                            "was chosen) and once on the held-out test pairs, beside the most-popular-tracks "
                            "baseline; dashed purple: the generator's oracle where the corpus has one."),
}


def render_html(data: StudyData, figures: dict[str, Figure], importances: list[Importances],
                pngs: dict[str, bytes] | None = None) -> str:
    """The whole page; ``pngs`` (already rendered figures) saves rendering them twice."""
    pngs = pngs if pngs is not None else {name: png_bytes(figure) for name, figure in figures.items()}

    def section(title: str, name: str, before: str = "", after: str = "") -> str:
        alt, caption = _CAPTIONS[name]
        return (f"<h2>{html.escape(title)}</h2>\n{before}"
                + _figure_html(figures.get(name), alt, html.escape(caption), pngs.get(name)) + after)

    reasons = [f"<li>{html.escape(result.description)}: {html.escape(result.reason)}</li>"
               for result in importances if result.reason]
    importance_note = (f"<div class='note'>Importances not computed on every basis:<ul>{''.join(reasons)}</ul>"
                       "</div>" if reasons else "")
    name = html.escape(data.name)
    return "\n".join([
        "<!DOCTYPE html>",
        f'<html lang="en"><head><meta charset="utf-8"><title>track2vec-tune study {name}</title>',
        f"<style>{_CSS}</style></head><body>",
        f"<h1>track2vec-tune study <code>{name}</code></h1>",
        f"<p><small>{html.escape(str(data.study_dir))} · report written {time.strftime('%Y-%m-%d %H:%M:%S')}"
        "</small></p>",
        summary_html(data),
        section("1. Learning curves", "learning_curves"),
        section("2. Best so far", "best_so_far"),
        section("3. Hyperparameter importances", "importances", importance_note, importance_table_html(importances)),
        section("4. Winner vs baselines", "winner_vs_baselines"),
        "<h2>5. Evaluation table</h2>",
        f"<p>Every trial, best validation NDCG@10 first (from <code>{EXPORT_DIR}/{TRIALS_CSV}</code>); the "
        "winner (★) alone is scored on the test pairs.</p>",
        table_html(data),
        "</body></html>",
    ]) + "\n"


def write_report(study_dir: Path) -> Path:
    """Write ``report.html`` (and ``report_<figure>.png`` beside it) into a local, exported study
    directory; returns the page's path. Raises ``Track2VecError`` for a directory that is no
    study or a study without an export."""
    data = load_study_data(Path(study_dir))
    importances = param_importances(data)
    figures = build_figures(data, importances)
    pngs = {name: png_bytes(figure) for name, figure in figures.items()}
    study = Study(str(data.study_dir.parent), data.study_dir.name)
    for name in ("learning_curves", "best_so_far", "importances", "winner_vs_baselines"):
        path = data.study_dir / f"report_{name}.png"
        if name in pngs:
            path.write_bytes(pngs[name])
        else:
            path.unlink(missing_ok=True)  # a stale figure from an earlier report
    study.write_text(REPORT_FILE, render_html(data, figures, importances, pngs))
    return data.study_dir / REPORT_FILE

