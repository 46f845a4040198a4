"""The report's figures, drawn from ``ReportData`` (and the importances) with matplotlib's object API.

Ours, because they show what Optuna's figures leave out: ASHA's rungs and the trials it
stopped (Optuna's history and intermediate-value plots draw COMPLETE trials, or no statuses),
the two bases of the importances side by side, the winner beside its comparison series.
"""

from __future__ import annotations

import io
import math
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from tune.comparison import K, ONE_NUMBER, SPLIT_LABELS, TEST, VALIDATION, WINNER, Comparison, label
from tune.reader import COMPLETED, ERRORED, RUNNING, STOPPED
from tune.report.data import COST_AXES, ReportData, best_so_far, cost_points, pareto_front, trial_order
from tune.report.importances import COMPLETED as COMPLETED_BASIS
from tune.report.importances import FIRST_RUNG, Importances

OVER_BUDGET = "over the budget"  # a trial stopped because its cost exceeded the study's budget, not by ASHA
# How each status is drawn: (colour, line style, end marker, legend label).
STYLES: dict[str, tuple[str, str, str, str]] = {
    COMPLETED: ("tab:blue", "-", "o", "completed"),
    STOPPED: ("tab:orange", "--", "x", "stopped early by ASHA"),
    OVER_BUDGET: ("tab:red", "--", "P", "stopped: over the budget (cannot win)"),
    ERRORED: ("tab:red", ":", "X", "errored"),
    RUNNING: ("tab:gray", "-.", ">", "running / unfinished"),
}


def drawn_status(row) -> str:
    """The key of ``STYLES`` a trial's curve is drawn with."""
    if row.status == STOPPED and not row.meets_budget:
        return OVER_BUDGET
    return row.status if row.status in STYLES else RUNNING
WINNER_COLOUR = "tab:green"
SERIES_COLOURS = {WINNER: WINNER_COLOUR, "popularity": "0.35", "oracle": "tab:purple"}
OTHER_COLOURS = ("tab:brown", "tab:olive", "tab:cyan", "tab:pink", "tab:red")  # series without a colour of their own
REFERENCE_STYLE = (0, (6, 2, 1, 2))  # the comparison series' horizontal lines
FIGURE_SIZE = (10.0, 4.8)
DPI = 110
METRICS = (("NDCG@10", "ndcg"), ("HR@10", "hit_rate"))  # (panel title, Score attribute)


def series_colour(comparison: Comparison, series: str) -> str:
    if series in SERIES_COLOURS:
        return SERIES_COLOURS[series]
    others = [name for name in comparison.series if name not in SERIES_COLOURS]
    return OTHER_COLOURS[others.index(series) % len(OTHER_COLOURS)]


def _new_figure(size: tuple[float, float] = FIGURE_SIZE) -> tuple[Figure, Any]:
    figure = Figure(figsize=size, dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.grid(True, alpha=0.3)
    return figure, axes


def _legend_outside(axes, handles: list) -> None:
    """The legend to the right of the plot, where it hides no data."""
    axes.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8.5, frameon=False)


def _reference_lines(axes, comparison: Comparison) -> list[Line2D]:
    """A horizontal line per comparison series at its validation NDCG@10 (collections); their legend handles."""
    handles = []
    for series in comparison.series:
        if series == WINNER:
            continue
        one_number = series in comparison.one_number()
        score = comparison.score(series, VALIDATION)
        if score is None:
            continue
        colour = series_colour(comparison, series)
        key = f"{series}_ndcg_at_{K}" if one_number else f"{series}_{VALIDATION}_ndcg_at_{K}"
        axes.hlines([score.ndcg], 0, 1, transform=axes.get_yaxis_transform(), colors=colour,
                    linestyles=REFERENCE_STYLE, linewidth=1.3, zorder=1, gid=key)
        text = label(series) if one_number else f"{label(series)} ({SPLIT_LABELS[VALIDATION]})"
        handles.append(Line2D([], [], color=colour, linestyle=REFERENCE_STYLE, label=f"{text}: {score.ndcg:.4f}"))
    return handles


def plot_learning_curves(data: ReportData) -> Figure:
    """Validation NDCG@10 per epoch, one line per trial (``gid`` = trial id).

    Trials stopped early are dashed and end in an ``x`` (ASHA) or a ``P`` (over the budget); the winner is thick and green with
    a star at its best epoch; the comparison series and ASHA's rungs are drawn as line
    collections, so ``axes.lines`` holds exactly the trials' curves.
    """
    figure, axes = _new_figure()
    winner = data.winner_id
    statuses_drawn: set[str] = set()
    drawn = 0
    for row in reversed(data.rows):  # best last, so on top
        points = data.curves.get(row.trial_id, [])
        if not points:
            continue
        epochs, values = zip(*points)
        status = drawn_status(row)
        colour, style, marker, _ = STYLES[status]
        is_winner = row.trial_id == winner
        line = axes.plot(
            epochs, values, linestyle=style, marker=marker, markevery=[len(epochs) - 1],
            color=WINNER_COLOUR if is_winner else colour, linewidth=2.8 if is_winner else 1.4,
            markersize=9 if is_winner else 7, markeredgewidth=2, alpha=1.0 if is_winner else 0.75,
            zorder=4 if is_winner else 2,
        )[0]
        line.set_gid(row.trial_id)
        line.set_label(f"_trial {row.trial_id} ({status})")  # leading "_": not in the legend
        if not is_winner:
            statuses_drawn.add(status)
        drawn += 1
        if is_winner and row.best_epoch is not None and row.best_val_ndcg is not None:
            axes.scatter([row.best_epoch], [row.best_val_ndcg], marker="*", s=260,
                         color=WINNER_COLOUR, edgecolor="black", zorder=5)
            axes.annotate(f"winner {winner}\n{row.best_val_ndcg:.4f}", (row.best_epoch, row.best_val_ndcg),
                          xytext=(-12, 10), ha="right", textcoords="offset points", fontsize=9, color="darkgreen",
                          zorder=6, bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none",
                                          "alpha": 0.8})
    handles = [Line2D([], [], color=WINNER_COLOUR, linewidth=2.8, marker="*", markersize=12,
                      markeredgecolor="black", label=f"winner ({winner})")]
    for status in STYLES:
        if status in statuses_drawn:
            colour, style, marker, text = STYLES[status]
            handles.append(Line2D([], [], color=colour, linestyle=style, marker=marker, markeredgewidth=2,
                                  label=text))
    handles += _reference_lines(axes, data.comparison)
    if data.rungs:
        axes.vlines(data.rungs, 0, 1, transform=axes.get_xaxis_transform(), colors="0.6", linestyles=(0, (1, 3)),
                    linewidth=1, zorder=1)
        handles.append(Line2D([], [], color="0.6", linestyle=(0, (1, 3)), label="ASHA rung (epoch)"))
    last_epoch = max([data.spec.max_epochs] + [epoch for curve in data.curves.values() for epoch, _ in curve])
    axes.set_xlim(0.7, last_epoch + 0.3)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("epoch")
    axes.set_ylabel("validation NDCG@10")
    axes.set_title(f"Learning curves of {drawn} trials: validation NDCG@10 per epoch")
    _legend_outside(axes, handles)
    return figure


def plot_best_so_far(data: ReportData) -> Figure:
    """Best validation NDCG@10 found so far against the trial number (in order of start).

    The running best is the line with ``gid`` ``"best-so-far"``; each trial's best epoch is a
    point, coloured by status (``gid`` ``"trials-<status>"``), the winner's a star (``gid`` ``"winner"``).
    """
    figure, axes = _new_figure()
    numbers, ordered, xlabel = trial_order(data)
    running = best_so_far([row.best_val_ndcg for row in ordered])
    drawn = [(n, value) for n, value in zip(numbers, running) if value is not None]
    if drawn:
        line = axes.plot(*zip(*drawn), drawstyle="steps-post", color="black", linewidth=2,
                         label="best so far", zorder=3)[0]
        line.set_gid("best-so-far")
    for status, (colour, _, marker, text) in STYLES.items():
        points = [(n, row.best_val_ndcg) for n, row in zip(numbers, ordered)
                  if row.status == status and row.best_val_ndcg is not None and row.trial_id != data.winner_id]
        if points:
            axes.scatter(*zip(*points), color=colour, marker=marker if marker != "x" else "X", s=55,
                         edgecolor="white" if marker != "x" else None, linewidth=0.5,
                         label=f"trial's best epoch: {text}", zorder=4, gid=f"trials-{status}")
    winner = next(((n, row) for n, row in zip(numbers, ordered) if row.trial_id == data.winner_id), None)
    if winner and winner[1].best_val_ndcg is not None:
        axes.scatter([winner[0]], [winner[1].best_val_ndcg], marker="*", s=280, color=WINNER_COLOUR,
                     edgecolor="black", zorder=5, label=f"winner ({data.winner_id})", gid="winner")
    handles, _ = axes.get_legend_handles_labels()
    handles += _reference_lines(axes, data.comparison)
    if numbers:
        axes.set_xlim(min(numbers) - 0.5, max(numbers) + 0.5)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel(xlabel)
    axes.set_ylabel("validation NDCG@10")
    axes.set_title("Best validation NDCG@10 so far, by trial")
    _legend_outside(axes, handles)
    return figure


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
    colours = {COMPLETED_BASIS: "tab:blue", FIRST_RUNG: "tab:orange"}
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


def plot_winner_vs_baselines(data: ReportData) -> Figure:
    """Grouped bars: NDCG@10 and HR@10 of the winner and every series scored per split, on
    validation and test; a series with one number (the generator's oracle) as a horizontal line.

    Every bar container is labelled with its series' label ('winner', 'popularity baseline', ...);
    its bars are in the order of the x tick labels ('validation', 'test'). A one-number series'
    line has the series' name as ``gid``. Where the export has test intervals, each test bar has
    its 95% interval as a whisker (an errorbar whose line collection has ``gid`` ``interval-<series>``).
    """
    comparison = data.comparison
    bars_of, lines_of = comparison.per_split(), comparison.one_number()
    splits = comparison.splits()
    figure = Figure(figsize=FIGURE_SIZE, dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    panels = figure.subplots(1, len(METRICS) if bars_of else 1, squeeze=False)[0]
    for axes, (title, attribute) in zip(panels, METRICS if bars_of else ()):
        axes.grid(True, axis="y", alpha=0.3)
        width = 0.8 / len(bars_of)
        tops: list[float] = []
        for index, series in enumerate(bars_of):
            offsets = [i + (index - (len(bars_of) - 1) / 2) * width for i in range(len(splits))]
            scores = [comparison.series[series].get(split) for split in splits]
            bars = axes.bar(offsets, [getattr(score, attribute) if score else math.nan for score in scores],
                            width=width * 0.92, color=series_colour(comparison, series))
            bars.set_label(label(series))  # stable name for readers of the figure; the legend uses the handles below
            label_at = [bar.get_height() for bar in bars]  # each value is written above its bar, or its whisker
            whisker = _test_interval(data, series, attribute)
            if whisker is not None and TEST in splits:
                at = splits.index(TEST)
                tops.append(whisker.high)
                label_at[at] = max(label_at[at], whisker.high)
                axes.errorbar([offsets[at]], [whisker.value],
                              yerr=[[whisker.value - whisker.low], [whisker.high - whisker.value]], fmt="none",
                              ecolor="black", elinewidth=1.2, capsize=4, zorder=5, gid=f"interval-{series}")
            for bar, top in zip(bars, label_at):
                if math.isfinite(bar.get_height()):
                    axes.annotate(f"{bar.get_height():.4f}", (bar.get_x() + bar.get_width() / 2, top),
                                  xytext=(0, 3), textcoords="offset points", ha="center", va="bottom", fontsize=8.5)
        tops += [getattr(score, attribute) for series in bars_of for score in comparison.series[series].values()]
        for series in lines_of:
            value = getattr(comparison.series[series][ONE_NUMBER], attribute)
            tops.append(value)
            axes.axhline(value, color=series_colour(comparison, series), linestyle=REFERENCE_STYLE, linewidth=1.5,
                         gid=series)
            axes.annotate(f"{series} {value:.4f}", (1.0, value), xycoords=("axes fraction", "data"),
                          xytext=(-4, 4), textcoords="offset points", ha="right", fontsize=8.5,
                          color=series_colour(comparison, series))
        axes.set_xticks(range(len(splits)), [SPLIT_LABELS[split] for split in splits])
        axes.set_ylim(0, max(tops) * 1.18)
        axes.set_xlabel("held-out pairs")
        axes.set_ylabel(title)
        axes.set_title(title)
    handles = [Line2D([], [], color=series_colour(comparison, series), linewidth=8,
                      label=f"winner ({data.winner_id})" if series == WINNER else label(series))
               for series in bars_of]
    handles += [Line2D([], [], color=series_colour(comparison, series), linestyle=REFERENCE_STYLE,
                       label=f"{label(series)}; one number, not per split") for series in lines_of]
    if handles:  # at most three entries a row, so that long labels fit the figure's width
        figure.legend(handles=handles, loc="outside lower center", ncols=min(3, len(handles)), fontsize=8.5,
                      frameon=False)
    others = [series for series in comparison.series if series != WINNER]
    title = ("Winner vs the baselines on validation and test pairs" if others
             else "Winner on validation and test pairs")
    if data.intervals is not None:
        title += f"; whiskers: {data.intervals.bootstrap.confidence:.0%} intervals on test (paired bootstrap)"
    figure.suptitle(title)
    return figure


def _test_interval(data: ReportData, series: str, attribute: str):
    """The series' test interval of ``attribute`` (ndcg or hit_rate), where the export has one."""
    if data.intervals is None:
        return None
    try:
        return getattr(data.intervals.bootstrap.system(series), attribute)
    except KeyError:
        return None


OVER_BUDGET_COLOUR = "tab:red"
FRONT_COLOUR = "black"


def plot_quality_vs_cost(data: ReportData) -> Figure | None:
    """Best validation NDCG@10 against each cost (a panel per cost of ``COST_AXES``), with the Pareto front.

    Per panel (``gid`` suffix ``-<cost>``): the trials that meet the budget (``trials-within-budget``)
    and those over it (``trials-over-budget``, crossed), the Pareto front (``pareto-front``: the
    best quality at each cost or less), the winner (``winner``) and the budget's limit where the
    study has one (``budget-limit``). None when no trial recorded a cost (a study from before costs).
    """
    panels = [(cost, text, cost_points(data, cost)) for cost, text in COST_AXES]
    panels = [panel for panel in panels if panel[2]]
    if not panels:
        return None
    figure = Figure(figsize=(FIGURE_SIZE[0], 4.4), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    limits = {"seconds_per_epoch": data.spec.max_epoch_seconds, "peak_memory_mib": data.spec.max_trial_memory}
    for index, (cost, text, points) in enumerate(panels):
        axes = figure.add_subplot(1, len(panels), index + 1)
        axes.grid(True, alpha=0.3)
        within = [p for p in points if p.meets_budget and p.trial_id != data.winner_id]
        over = [p for p in points if not p.meets_budget]
        if within:
            axes.scatter([p.cost for p in within], [p.ndcg for p in within], color=STYLES[COMPLETED][0], s=40,
                         label="trial (within the budget)" if data.spec.has_budget else "trial", zorder=3,
                         gid=f"trials-within-budget-{cost}")
        if over:
            axes.scatter([p.cost for p in over], [p.ndcg for p in over], color=OVER_BUDGET_COLOUR, marker="X", s=55,
                         label="trial over the budget (cannot win)", zorder=3, gid=f"trials-over-budget-{cost}")
        front = pareto_front(points)
        axes.plot([p.cost for p in front], [p.ndcg for p in front], drawstyle="steps-post", color=FRONT_COLOUR,
                  linewidth=1.5, marker="o", markersize=8, markerfacecolor="none", zorder=4,
                  label="Pareto front", gid=f"pareto-front-{cost}")
        winner = next((p for p in points if p.trial_id == data.winner_id), None)
        if winner is not None:
            axes.scatter([winner.cost], [winner.ndcg], marker="*", s=260, color=WINNER_COLOUR, edgecolor="black",
                         zorder=5, label=f"winner ({data.winner_id})", gid=f"winner-{cost}")
        if limits[cost] is not None:
            axes.axvline(limits[cost], color=OVER_BUDGET_COLOUR, linestyle="--", linewidth=1.2,
                         label=f"budget: {limits[cost]:g} {'s' if cost == 'seconds_per_epoch' else 'MiB'}",
                         gid=f"budget-limit-{cost}")
        axes.set_xlabel(text)
        axes.set_ylabel("best validation NDCG@10")
        if index == 0:
            axes.legend(fontsize=8, loc="best")  # where it hides the fewest points
    figure.suptitle("Quality against cost, each trial at its best epoch")
    return figure


def build_figures(data: ReportData, importances: list[Importances]) -> dict[str, Figure]:
    """The report's figures by name: learning_curves, best_so_far, importances (when
    computable), winner_vs_baselines, quality_vs_cost (when the trials recorded their cost)."""
    figures = {"learning_curves": plot_learning_curves(data), "best_so_far": plot_best_so_far(data)}
    importance_figure = plot_importances(importances)
    if importance_figure is not None:
        figures["importances"] = importance_figure
    figures["winner_vs_baselines"] = plot_winner_vs_baselines(data)
    cost_figure = plot_quality_vs_cost(data)
    if cost_figure is not None:
        figures["quality_vs_cost"] = cost_figure
    return figures


def png_bytes(figure: Figure) -> bytes:
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=DPI)
    return out.getvalue()
