"""The report's page: one self-contained HTML file of the figures (embedded PNGs), the summary and the table.

The page holds five sections: learning curves of validation NDCG@10 (ASHA-stopped trials
dashed and ending in an ``x``, winner highlighted), best-so-far validation NDCG@10 by trial
number, hyperparameter importances (Optuna's fANOVA evaluator), the winner against its
comparison series on validation and test, and the evaluation table. The figures are PNGs
embedded as ``data:`` URIs, so the page needs no network.
"""

from __future__ import annotations

import base64
import html
import time

from matplotlib.figure import Figure

from tune import PROG
from tune.comparison import COUNTS, ORACLE, RUNNER_UP, SPLITS, label
from tune.intervals import verdict
from tune.report.data import ReportData, counts_by_status
from tune.report.figures import png_bytes
from tune.report.importances import Importances
from tune.table import WINNER_MARK, columns, format_cell, row_values

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



def table_html(data: ReportData) -> str:
    """The evaluation table: one ``<tr class="trial">`` per trial, best first, winner marked."""
    if not data.rows:
        return "<p>No trials.</p>"
    chosen = columns(data.repeats)
    repeated = data.repeats.by_trial() if data.repeats else {}
    head = "".join(f"<th>{html.escape(header)}</th>" for _, header in chosen)
    lines = []
    for row in data.rows:
        is_winner = row.trial_id == data.winner_id
        values = row_values(row, data.winner_id, data.comparison, repeated.get(row.trial_id))
        cells = []
        for name, _ in chosen:
            value = values[name]
            text = format_cell(name, value) + (WINNER_MARK if is_winner and name == "trial_id" else "")
            css = [] if isinstance(value, (int, float)) else ["text"]
            if name == "status":
                css.append(f"status-{str(value).replace(' ', '-')}")
            attribute = f' class="{" ".join(css)}"' if css else ""
            cells.append(f"<td{attribute}>{html.escape(text)}</td>")
        lines.append(f'<tr class="trial{" winner" if is_winner else ""}" data-trial="{html.escape(row.trial_id)}">'
                     + "".join(cells) + "</tr>")
    return (f'<div class="scroll"><table id="trials"><thead><tr>{head}</tr></thead><tbody>\n'
            + "\n".join(lines) + "\n</tbody></table></div>")


def summary_html(data: ReportData) -> str:
    """Facts about the study and the winner, and the scores of every comparison series."""
    spec, winner, stats = data.spec, data.winner, data.corpus_stats
    counts = ", ".join(f"{count} {status}" for status, count in counts_by_status(data).items())
    corpus = (f"{stats.get('playlists', 0):,} playlists, vocabulary {stats.get('vocabulary_size', 0):,}, "
              f"{stats.get('validation_pairs', 0):,} validation / {stats.get('test_pairs', 0):,} test pairs"
              if stats else "")
    hyper = ", ".join(f"{name} {format_cell(name, value)}" for name, value in winner.hyperparameters.items())
    facts = [
        ("data", f"{spec.data} ({corpus})" if corpus else spec.data),
        ("trials", f"{len(data.rows)} of {spec.trials}: {counts}"),
        ("schedule", f"at most {spec.max_epochs} epochs; ASHA grace period {spec.grace_period}, "
                     f"reduction factor {spec.reduction_factor}; seed {spec.seed}"),
        ("objective", "validation NDCG@10 (best epoch of each trial); test pairs scored once, for the winner only"),
        ("created", spec.created),
        *_cost_facts(spec),
        ("winner", f"trial {winner.trial_id} (Optuna #{winner.optuna_trial}), best epoch "
                   f"{winner.best_epoch} of {winner.epochs_run}: {hyper}"),
    ]
    if winner.vectors:
        where = ("its configuration's best seed in the repeats" if winner.vectors.get("from") == "repeats"
                 else "the search")
        facts.append(("vectors", f"trial {winner.vectors.get('trial_id')}, seed {winner.vectors.get('seed')} "
                                 f"({where})"))
    if data.repeats is not None:
        plan = data.repeats.plan
        facts.append(("repeats", f"top {plan.top} configuration(s), {plan.repeats} new seed(s) each "
                                 f"({', '.join(map(str, plan.seeds))}); the winner is the best mean validation "
                                 "NDCG@10 over the seeds"))
    page = ["<dl class='facts'>"]
    page += [f"<dt>{html.escape(key)}</dt><dd>{html.escape(str(value))}</dd>" for key, value in facts]
    page.append("</dl>")
    page.append(scores_html(data))
    page.append(differences_html(data))
    if ORACLE in data.comparison:
        page.append("<p><small>The oracle ranks tracks by the generator's true next-track probabilities: the "
                    "best any model can do on this synthetic corpus (one number, from a sample of held-out-style "
                    "pairs, not per split).</small></p>")
    if data.unexported_trials:
        page.append(f"<p class='note'>{len(data.unexported_trials)} trial(s) of the study are not in "
                    f"the export ({html.escape(', '.join(data.unexported_trials))}): the export is older than the "
                    f"study; run <code>{PROG} export --force --name {html.escape(data.study_dir.name)} "
                    f"--storage {html.escape(str(data.study_dir.parent))}</code>, then the report again.</p>")
    return "\n".join(page)


def _cost_facts(spec) -> list[tuple[str, str]]:
    """The sample, the warm start and the budget, where the study has them."""
    from tune.cost import Budget

    facts = []
    if spec.sample < 1:
        facts.append(("sample", f"{spec.sample:g} of the training playlists (seed {spec.seed}); validation and "
                                "test pairs of the whole corpus"))
    if spec.warm_start_points:
        facts.append(("warm start", f"the top {len(spec.warm_start_points)} configuration(s) of "
                                    f"{spec.warm_start_from}, run first"))
    if spec.has_budget:
        facts.append(("budget", f"{Budget.of(spec).describe()}; trials over it are stopped and cannot win"))
    return facts


def _interval_cell(metric) -> str:
    return f"<td>[{metric.low:.4f}, {metric.high:.4f}]</td>" if metric is not None else "<td>–</td>"


def scores_html(data: ReportData) -> str:
    """Every series' scores by split and, where the export has them, its test intervals; the runner-up
    (scored on test for the intervals only) after the series."""
    intervals = data.intervals.bootstrap if data.intervals else None

    def system(name: str):
        try:
            return intervals.system(name) if intervals else None
        except KeyError:
            return None

    rows = []
    for series in data.comparison.series:
        scores = [data.comparison.score(series, split) for split in SPLITS]
        cells = [value for score in scores for value in ((score.ndcg, score.hit_rate) if score else (None, None))]
        row = (f'<tr><td class="text">{html.escape(label(series))}</td>'
               + "".join(f"<td>{format_cell('metric', value)}</td>" for value in cells))
        if intervals:
            found = system(series)
            row += _interval_cell(found.ndcg if found else None) + _interval_cell(found.hit_rate if found else None)
        rows.append(row + "</tr>")
    runner_up = system(RUNNER_UP)
    if runner_up is not None:
        rows.append(f'<tr><td class="text">{html.escape(label(RUNNER_UP))}, trial '
                    f'{html.escape(str(data.intervals.runner_up))} (test for the intervals only)</td>'
                    f"<td>–</td><td>–</td><td>{runner_up.ndcg.value:.4f}</td><td>{runner_up.hit_rate.value:.4f}</td>"
                    + _interval_cell(runner_up.ndcg) + _interval_cell(runner_up.hit_rate) + "</tr>")
    head = ("<th></th><th>validation NDCG@10</th><th>validation HR@10</th><th>test NDCG@10</th><th>test HR@10</th>"
            + (f"<th>test NDCG@10, {intervals.confidence:.0%} interval</th>"
               f"<th>test HR@10, {intervals.confidence:.0%} interval</th>" if intervals else ""))
    return f"<table id='scores'><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def differences_html(data: ReportData) -> str:
    """The paired differences winner − runner-up, winner − best baseline and blend − its count term alone,
    with their intervals."""
    if data.intervals is None or not data.intervals.bootstrap.differences:
        return ""
    intervals, bootstrap = data.intervals, data.intervals.bootstrap
    names = {RUNNER_UP: f"runner-up (trial {intervals.runner_up})",
             COUNTS: "its count term alone (what the embeddings add to the counts)"}
    if intervals.best_baseline:
        names[intervals.best_baseline] = f"{label(intervals.best_baseline)}, the best baseline on validation"
    rows = []
    for difference in bootstrap.differences:
        rows.append(f'<tr><td class="text">{html.escape(difference.first)} − {html.escape(names.get(difference.second, difference.second))}</td>'
                    + "".join(f"<td>{metric.value:+.4f}</td><td>[{metric.low:+.4f}, {metric.high:+.4f}]</td>"
                              for metric in (difference.ndcg, difference.hit_rate))
                    + f'<td class="text">{html.escape(verdict(difference))}</td></tr>')
    return ("<table id='differences'><thead><tr><th>paired difference on test</th><th>NDCG@10</th>"
            f"<th>{bootstrap.confidence:.0%} interval</th><th>HR@10</th><th>{bootstrap.confidence:.0%} interval</th>"
            f"<th>what it says</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
            f"<p><small>Paired percentile bootstrap: {bootstrap.resamples} resamples of the {bootstrap.pairs:,} test "
            f"pairs (seed {bootstrap.seed}), the same resamples for every series. A difference whose interval "
            "includes 0 is within the noise of the test sample. The runner-up is the next configuration by "
            "validation; it is scored on test for these intervals only and chooses nothing. Blend − its count term "
            "alone is what the embeddings add to the counts in the blended mode.</small></p>")


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


def _figure_html(alt: str, caption: str, png: bytes | None) -> str:
    if png is None:
        return ""
    uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    return f'<figure><img src="{uri}" alt="{html.escape(alt)}"><figcaption>{caption}</figcaption></figure>'


_CAPTIONS = {
    "learning_curves": ("learning curves",
                        "One line per trial. Solid blue: ran all epochs; dashed orange ending in ×: stopped early by "
                        "ASHA at one of its rungs (dotted verticals); green: the winner, starred at its best epoch. "
                        "Horizontal lines: each comparison series on validation (the popularity baseline) and, for "
                        "built-in corpora, the generator's oracle."),
    "best_so_far": ("best so far", "Black steps: the best validation NDCG@10 of any epoch of the trials started so "
                                   "far; points: each trial's best epoch, by status."),
    "importances": ("hyperparameter importances",
                    "Optuna's fANOVA evaluator (seed 0): the share of the variation of validation NDCG@10 each "
                    "hyperparameter explains. Blue: the Optuna study as stored (completed trials, best epoch); "
                    "orange: every trial at ASHA's first rung, the epoch all trials reached, so that stopped "
                    "trials count too. With few trials these are rough."),
    "winner_vs_baselines": ("winner against baselines",
                            "The winner's embeddings from its best epoch, scored on the validation pairs (where it "
                            "was chosen) and once on the held-out test pairs, beside each comparison series on the "
                            "same pairs (the most-popular-tracks baseline); dashed purple: the generator's oracle "
                            "where the corpus has one. Black whiskers: each test score's 95% interval (paired "
                            "bootstrap over the test pairs)."),
    "quality_vs_cost": ("quality against cost",
                        "Each trial's best validation NDCG@10 against what it cost: training seconds per epoch (its "
                        "fastest epoch after the compiling first ones) and the peak resident memory of its worker. "
                        "Black steps through circles: the Pareto front, the best quality reached at each cost or less "
                        "(no other trial is both cheaper and better). Red crosses: trials over the study's budget "
                        "(dashed red line), which cannot win; green star: the winner."),
}


def render_html(data: ReportData, figures: dict[str, Figure], importances: list[Importances],
                pngs: dict[str, bytes] | None = None) -> str:
    """The whole page; ``pngs`` (already rendered figures) saves rendering them twice."""
    pngs = pngs if pngs is not None else {name: png_bytes(figure) for name, figure in figures.items()}

    def section(title: str, name: str, before: str = "", after: str = "") -> str:
        alt, caption = _CAPTIONS[name]
        return (f"<h2>{html.escape(title)}</h2>\n{before}"
                + _figure_html(alt, html.escape(caption), pngs.get(name)) + after)

    reasons = [f"<li>{html.escape(result.description)}: {html.escape(result.reason)}</li>"
               for result in importances if result.reason]
    importance_note = (f"<div class='note'>Importances not computed on every basis:<ul>{''.join(reasons)}</ul>"
                       "</div>" if reasons else "")
    name = html.escape(data.name)
    return "\n".join([
        "<!DOCTYPE html>",
        f'<html lang="en"><head><meta charset="utf-8"><title>{PROG} study {name}</title>',
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{PROG} study <code>{name}</code></h1>",
        f"<p><small>{html.escape(str(data.study_dir))} · report written {time.strftime('%Y-%m-%d %H:%M:%S')}"
        "</small></p>",
        summary_html(data),
        section("1. Learning curves", "learning_curves"),
        section("2. Best so far", "best_so_far"),
        section("3. Hyperparameter importances", "importances", importance_note, importance_table_html(importances)),
        section("4. Winner vs baselines", "winner_vs_baselines"),
        section("5. Quality against cost", "quality_vs_cost") if "quality_vs_cost" in pngs else "",
        "<h2>6. Evaluation table</h2>",
        "<p>Every trial, best validation NDCG@10 first (as in the export's <code>trials.csv</code>); the "
        "winner (★) alone is scored on the test pairs.</p>",
        table_html(data),
        "</body></html>",
    ]) + "\n"


