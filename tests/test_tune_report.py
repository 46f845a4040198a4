"""The study report (tune/report.py): the page and each figure show the study's own numbers.

Fast tests draw the figures from a hand-made ``ReportData``; the slow ones check the report of
the real tiny study that conftest runs once (``tiny_study``) against its export and its trials'
``result.json``.
"""

from __future__ import annotations

import base64
import csv
import json
import re
import shutil
from pathlib import Path

import pytest
from matplotlib.container import BarContainer, ErrorbarContainer

from track2vec.errors import Track2VecError
from track2vec.intervals import BootstrapIntervals, MetricWithInterval, PairedDifference, SystemIntervals
from tune.comparison import Comparison, Score
from tune.intervals import StudyIntervals
from tune.reader import TrialRow
from tune.report import write_report
from tune.report.data import ReportData, Winner, asha_rungs, best_so_far, load_report_data
from tune.report.figures import (
    build_figures,
    plot_best_so_far,
    plot_importances,
    plot_learning_curves,
    plot_winner_vs_baselines,
)
from tune.report.importances import param_importances
from tune.report.page import summary_html
from tune.spec import StudySpec
from tune.testing import results, trial_dirs

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------------------------------
# Helpers


def learning_curves(figure) -> dict[str, object]:
    """The trials' curves of the learning-curve figure, by trial id (the lines' gid)."""
    axes = figure.axes[0]
    return {line.get_gid(): line for line in axes.lines}


def legend_texts(figure) -> list[str]:
    texts = []
    for axes in figure.axes:
        if axes.get_legend():
            texts += [text.get_text() for text in axes.get_legend().get_texts()]
    for legend in figure.legends:
        texts += [text.get_text() for text in legend.get_texts()]
    return texts


def bar_heights(figure) -> dict[str, dict[str, list[float]]]:
    """{panel title: {container label: bar heights in x-tick order}}."""
    return {axes.get_title(): {container.get_label(): [bar.get_height() for bar in container]
                               for container in axes.containers if isinstance(container, BarContainer)}
            for axes in figure.axes}


def whiskers(figure) -> dict[str, dict[str, tuple[float, float]]]:
    """{panel title: {series: (low, high) of its test whisker}}."""
    found = {}
    for axes in figure.axes:
        for container in axes.containers:
            if isinstance(container, ErrorbarContainer):
                (segments,) = container.lines[2]
                (_, low), (_, high) = segments.get_segments()[0]
                found.setdefault(axes.get_title(), {})[segments.get_gid().removeprefix("interval-")] = (low, high)
    return found


def fake_data(tmp_path: Path) -> ReportData:
    """Three trials: the winner (completed), another completed, one stopped early by ASHA."""
    rows = [
        TrialRow("win", "completed", 3, {"dim": 16}, best_val_ndcg=0.30, best_epoch=2, optuna_number=1),
        TrialRow("done", "completed", 3, {"dim": 8}, best_val_ndcg=0.20, best_epoch=3, optuna_number=0),
        TrialRow("cut", "stopped early", 1, {"dim": 4}, best_val_ndcg=0.10, best_epoch=1, optuna_number=2),
    ]
    curves = {"win": [(1, 0.2), (2, 0.30), (3, 0.29)], "done": [(1, 0.12), (2, 0.15), (3, 0.20)],
              "cut": [(1, 0.10)]}
    metrics = {"winner_val_ndcg_at_10": 0.30, "winner_val_hr_at_10": 0.5, "winner_test_ndcg_at_10": 0.25,
               "winner_test_hr_at_10": 0.45, "popularity_val_ndcg_at_10": 0.08, "popularity_val_hr_at_10": 0.2,
               "popularity_test_ndcg_at_10": 0.07, "popularity_test_hr_at_10": 0.18,
               "oracle_ndcg_at_10": 0.4, "oracle_hr_at_10": 0.6}
    spec = StudySpec(name="fake", trials=3, max_epochs=3, grace_period=1, reduction_factor=3.0)
    return ReportData(tmp_path, spec, rows, Winner("win"), Comparison.from_metrics(metrics), curves)


# ---------------------------------------------------------------------------------------
# Fast: figures from a hand-made study


def test_quality_against_cost_marks_the_pareto_front_the_budget_and_the_trials_over_it(tmp_path):
    from dataclasses import replace

    from tune.report.figures import build_figures, plot_quality_vs_cost, png_bytes

    data = fake_data(tmp_path)
    costs = {"win": (0.5, 900.0, ()), "done": (0.2, 800.0, ()), "cut": (3.0, 950.0, ("3 s/epoch > 1",))}
    data.rows = [replace(row, seconds_per_epoch=costs[row.trial_id][0], peak_memory_mib=costs[row.trial_id][1],
                         over_budget=costs[row.trial_id][2]) for row in data.rows]
    data.spec = replace(data.spec, max_epoch_seconds=1.0)
    figure = plot_quality_vs_cost(data)
    seconds = figure.axes[0]
    by_gid = {artist.get_gid(): artist for artist in seconds.get_children() if artist.get_gid()}
    front = by_gid["pareto-front-seconds_per_epoch"]
    assert list(zip(front.get_xdata(), front.get_ydata())) == [(0.2, 0.20), (0.5, 0.30)]  # "cut" is dearer and worse
    assert by_gid["trials-over-budget-seconds_per_epoch"].get_offsets().tolist() == [[3.0, 0.10]]
    assert by_gid["winner-seconds_per_epoch"].get_offsets().tolist() == [[0.5, 0.30]]
    assert list(by_gid["budget-limit-seconds_per_epoch"].get_xdata()) == [1.0, 1.0]
    assert seconds.get_xlabel() == "training seconds per epoch"
    assert figure.axes[1].get_xlabel() == "peak memory per trial (MiB)" and len(figure.axes) == 2
    assert png_bytes(figure).startswith(b"\x89PNG")
    assert "quality_vs_cost" in build_figures(data, [])
    # a study from before trials recorded their cost has no such figure
    assert plot_quality_vs_cost(fake_data(tmp_path)) is None and "quality_vs_cost" not in build_figures(
        fake_data(tmp_path), [])


def test_learning_curves_one_line_per_trial_stopped_ones_dashed(tmp_path):
    data = fake_data(tmp_path)
    figure = plot_learning_curves(data)
    curves = learning_curves(figure)
    assert set(curves) == {"win", "done", "cut"} and len(figure.axes[0].lines) == 3
    for trial_id, line in curves.items():
        assert list(zip(line.get_xdata(), line.get_ydata())) == data.curves[trial_id]
    assert curves["cut"].get_linestyle() == "--" and curves["cut"].get_marker() == "x"
    assert curves["done"].get_linestyle() == "-"
    assert curves["win"].get_linewidth() > curves["done"].get_linewidth()
    texts = legend_texts(figure)
    assert "stopped early by ASHA" in texts and "completed" in texts and "winner (win)" in texts
    axes = figure.axes[0]
    assert axes.get_xlabel() == "epoch" and axes.get_ylabel() == "validation NDCG@10" and axes.get_title()


def test_learning_curves_tell_a_trial_stopped_by_the_budget_from_one_stopped_by_asha(tmp_path):
    from dataclasses import replace

    data = fake_data(tmp_path)
    data.rows = [replace(row, over_budget=("3 s/epoch > 1",)) if row.trial_id == "cut" else row for row in data.rows]
    figure = plot_learning_curves(data)
    curves = learning_curves(figure)
    assert curves["cut"].get_linestyle() == "--" and curves["cut"].get_marker() == "P"
    texts = legend_texts(figure)
    assert "stopped: over the budget (cannot win)" in texts and "stopped early by ASHA" not in texts


def test_best_so_far_is_a_running_maximum_in_order_of_start(tmp_path):
    data = fake_data(tmp_path)
    axes = plot_best_so_far(data).axes[0]
    (line,) = [line for line in axes.lines if line.get_gid() == "best-so-far"]
    # Optuna order: done (0.20), win (0.30), cut (0.10)
    assert list(line.get_xdata()) == [0, 1, 2] and list(line.get_ydata()) == [0.20, 0.30, 0.30]
    points = [tuple(xy) for collection in axes.collections if str(collection.get_gid()).startswith(("trials-", "winner"))
              for xy in collection.get_offsets()]
    assert sorted(points) == [(0, 0.20), (1, 0.30), (2, 0.10)]
    assert best_so_far([None, 0.1, 0.05, 0.3]) == [None, 0.1, 0.1, 0.3]


def test_winner_vs_baselines_bars_and_oracle(tmp_path):
    data = fake_data(tmp_path)
    figure = plot_winner_vs_baselines(data)
    heights = bar_heights(figure)
    assert heights["NDCG@10"] == {"winner": [0.30, 0.25], "popularity baseline": [0.08, 0.07]}
    assert heights["HR@10"] == {"winner": [0.5, 0.45], "popularity baseline": [0.2, 0.18]}
    oracles = {axes.get_title(): [line.get_ydata()[0] for line in axes.lines if line.get_gid() == "oracle"]
               for axes in figure.axes}
    assert oracles == {"NDCG@10": [0.4], "HR@10": [0.6]}
    assert [tick.get_text() for tick in figure.axes[0].get_xticklabels()] == ["validation", "test"]


def test_without_oracle_no_oracle_line(tmp_path):
    data = fake_data(tmp_path)
    data.comparison.series.pop("oracle")
    figure = plot_winner_vs_baselines(data)
    assert not [line for axes in figure.axes for line in axes.lines if line.get_gid() == "oracle"]
    assert not any("oracle" in text for text in legend_texts(figure))


def test_a_new_comparison_series_is_drawn_and_tabled_without_changes(tmp_path):
    data = fake_data(tmp_path)
    data.comparison.add("gru4rec", "val", Score(0.12, 0.3))
    data.comparison.add("gru4rec", "test", Score(0.11, 0.28))
    heights = bar_heights(plot_winner_vs_baselines(data))
    assert heights["NDCG@10"]["gru4rec"] == [0.12, 0.11] and heights["HR@10"]["gru4rec"] == [0.3, 0.28]
    assert "gru4rec (validation): 0.1200" in legend_texts(plot_learning_curves(data))
    scores = re.search(r"<table id='scores'>.*?</table>", summary_html(data)).group(0)
    assert re.search(r"<td class=\"text\">gru4rec</td><td>0.1200</td><td>0.3000</td><td>0.1100</td><td>0.2800</td>", scores)
    assert [re.sub("<.*?>", "", cell) for cell in re.findall(r'<td class="text">(.*?)</td>', scores)] == [
        "winner", "popularity baseline", "generator oracle (best possible)", "gru4rec"]


def with_intervals(data: ReportData) -> ReportData:
    """The fake study's export with test intervals: winner, runner-up and popularity, two differences."""
    def metric(value, low, high):
        return MetricWithInterval(value, low, high)

    bootstrap = BootstrapIntervals(
        10, 200, 1000, 0, 0.95,
        (SystemIntervals("winner", metric(0.25, 0.20, 0.31), metric(0.45, 0.38, 0.52)),
         SystemIntervals("runner_up", metric(0.24, 0.19, 0.30), metric(0.44, 0.37, 0.51)),
         SystemIntervals("popularity", metric(0.07, 0.05, 0.09), metric(0.18, 0.13, 0.23))),
        (PairedDifference("winner", "runner_up", metric(0.01, -0.02, 0.04), metric(0.01, -0.03, 0.05)),
         PairedDifference("winner", "popularity", metric(0.18, 0.13, 0.23), metric(0.27, 0.2, 0.34))))
    data.intervals = StudyIntervals(bootstrap, runner_up="done", best_baseline="popularity")
    return data


def test_test_bars_carry_their_intervals_as_whiskers(tmp_path):
    figure = plot_winner_vs_baselines(with_intervals(fake_data(tmp_path)))
    assert whiskers(figure) == {"NDCG@10": {"winner": pytest.approx((0.20, 0.31)), "popularity": pytest.approx((0.05, 0.09))},
                                "HR@10": {"winner": pytest.approx((0.38, 0.52)), "popularity": pytest.approx((0.13, 0.23))}}
    # the runner-up is no bar: it is scored on test for the intervals only
    assert "runner-up (second by validation)" not in bar_heights(figure)["NDCG@10"]
    assert all(axes.get_ylim()[1] > 0.52 for axes in figure.axes if axes.get_title() == "HR@10")
    assert "95% intervals on test" in figure.get_suptitle()
    assert not whiskers(plot_winner_vs_baselines(fake_data(tmp_path)))  # an export without intervals: no whiskers


def test_score_table_shows_the_intervals_and_the_differences(tmp_path):
    page = summary_html(with_intervals(fake_data(tmp_path)))
    scores = re.search(r"<table id='scores'>.*?</table>", page).group(0)
    assert "test NDCG@10, 95% interval" in scores
    assert re.search(r'<td class="text">winner</td>(<td>[0-9.]+</td>){4}<td>\[0.2000, 0.3100\]</td>'
                     r'<td>\[0.3800, 0.5200\]</td>', scores)
    assert "runner-up (second by validation), trial done" in scores and "<td>[0.1900, 0.3000]</td>" in scores
    differences = re.search(r"<table id='differences'>.*?</table>", page).group(0)
    cells = [re.sub("<.*?>", "", cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", differences)]
    assert cells == ["winner − runner-up (trial done)", "+0.0100", "[-0.0200, +0.0400]", "+0.0100",
                     "[-0.0300, +0.0500]", "within the noise of the test pairs (the NDCG@10 interval includes 0)",
                     "winner − popularity baseline, the best baseline on validation", "+0.1800", "[+0.1300, +0.2300]",
                     "+0.2700", "[+0.2000, +0.3400]",
                     "the winner is better on the test pairs (the NDCG@10 interval is above 0)"]
    assert "<table id='differences'>" not in summary_html(fake_data(tmp_path))


def test_importances_not_computable_is_said_not_raised(tmp_path):
    data = fake_data(tmp_path)  # no Optuna file in tmp_path
    importances = param_importances(data)
    assert [result.values for result in importances] == [None, None]
    assert all("could not be read" in result.reason for result in importances)
    assert plot_importances(importances) is None
    assert "importances" not in build_figures(data, importances)


def test_asha_rungs_as_ray_computes_them():
    assert asha_rungs(StudySpec("s", grace_period=1, reduction_factor=3.0, max_epochs=6)) == [1, 3]
    assert asha_rungs(StudySpec("s", grace_period=1, reduction_factor=2.0, max_epochs=3)) == [1, 2]
    assert asha_rungs(StudySpec("s", grace_period=2, reduction_factor=2.0, max_epochs=2)) == []


def test_study_without_export_is_refused_with_a_hint(tmp_path):
    study_dir = tmp_path / "unexported"
    study_dir.mkdir()
    (study_dir / "study.json").write_text(json.dumps({"format_version": 1, "name": "unexported", "trials": 2}))
    with pytest.raises(Track2VecError, match="track2vec-tune export --name unexported"):
        write_report(study_dir)
    assert not (study_dir / "report.html").exists()


def test_directory_that_is_no_study_is_refused(tmp_path):
    with pytest.raises(Track2VecError, match="not a track2vec-tune study|no study named"):
        write_report(tmp_path)


# ---------------------------------------------------------------------------------------
# Slow: one real study


@pytest.fixture
def study_dir(tiny_study) -> Path:
    assert tiny_study.code == 0, tiny_study.out
    return tiny_study.path


def trials_csv(study_dir: Path) -> list[dict[str, str]]:
    with open(study_dir / "export" / "trials.csv") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_report_page_of_a_real_study(study_dir):
    path = write_report(study_dir)
    assert path == study_dir / "report.html"
    page = path.read_text()
    rows = trials_csv(study_dir)
    metrics = json.loads((study_dir / "export" / "model.json").read_text())["metrics"]

    # the figures are embedded PNGs, also written beside the page; nothing comes from the network
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) >= 3 and all(base64.b64decode(image).startswith(PNG_MAGIC) for image in images)
    assert not re.search(r'(src|href)="(https?:)?//', page)
    for name in ("learning_curves", "best_so_far", "winner_vs_baselines", "quality_vs_cost"):
        assert (study_dir / f"report_{name}.png").read_bytes().startswith(PNG_MAGIC)
    assert "5. Quality against cost" in page  # every trial recorded its cost

    # one table row per trial, the winner marked; the winner's numbers and the baselines in the page
    trial_rows = re.findall(r'<tr class="trial( winner)?" data-trial="([0-9a-f]+)"', page)
    assert [trial for _, trial in trial_rows] == [row["trial_id"] for row in rows]
    assert [trial for winner, trial in trial_rows if winner] == [rows[0]["trial_id"]]
    for key in ("winner_val_ndcg_at_10", "winner_test_ndcg_at_10", "winner_test_hr_at_10",
                "popularity_val_ndcg_at_10", "popularity_test_ndcg_at_10", "oracle_ndcg_at_10"):
        assert f"{metrics[key]:.4f}" in page, key
    assert "Hyperparameter importances" in page and "Evaluation table" in page


@pytest.mark.slow
def test_figures_show_the_real_study(study_dir, tiny_study):
    data = load_report_data(study_dir)
    rows = trials_csv(study_dir)
    model = json.loads((study_dir / "export" / "model.json").read_text())
    figures = build_figures(data, param_importances(data))

    # learning curves: one per trial, its points are the trial's epochs as result.json has them
    curves = learning_curves(figures["learning_curves"])
    assert len(figures["learning_curves"].axes[0].lines) == len(rows) == tiny_study.trials
    assert set(curves) == {row["trial_id"] for row in rows}
    dirs = trial_dirs(study_dir)
    for row in rows:
        line = curves[row["trial_id"]]
        reported = results(dirs[row["trial_id"]])
        assert list(line.get_xdata()) == [result["epoch"] for result in reported]
        assert list(line.get_xdata()) == list(range(1, int(row["epochs"]) + 1))
        assert list(line.get_ydata()) == pytest.approx([result["val_ndcg_at_10"] for result in reported])
        stopped = row["status"] == "stopped early"
        assert (line.get_linestyle(), line.get_marker()) == (("--", "x") if stopped else ("-", "o"))
    if any(row["status"] == "stopped early" for row in rows):
        assert "stopped early by ASHA" in legend_texts(figures["learning_curves"])

    # best so far: monotone, ends at the table's best
    (line,) = [line for line in figures["best_so_far"].axes[0].lines if line.get_gid() == "best-so-far"]
    values = list(line.get_ydata())
    assert values == sorted(values) and len(values) == len(rows)
    assert values[-1] == pytest.approx(max(float(row["best_val_ndcg_at_10"]) for row in rows))

    # bars: the export's numbers
    heights = bar_heights(figures["winner_vs_baselines"])
    metrics = model["metrics"]
    for title, suffix in (("NDCG@10", "ndcg_at_10"), ("HR@10", "hr_at_10")):
        assert heights[title]["winner"] == pytest.approx(
            [metrics[f"winner_val_{suffix}"], metrics[f"winner_test_{suffix}"]])
        assert heights[title]["popularity baseline"] == pytest.approx(
            [metrics[f"popularity_val_{suffix}"], metrics[f"popularity_test_{suffix}"]])
    assert heights["NDCG@10"]["winner"][0] == pytest.approx(float(rows[0]["best_val_ndcg_at_10"]))
    assert heights["NDCG@10"]["winner"][1] == pytest.approx(float(rows[0]["test_ndcg_at_10"]))


@pytest.mark.slow
def test_importances_of_the_real_study(study_dir):
    data = load_report_data(study_dir)
    rows = trials_csv(study_dir)
    completed, first_rung = param_importances(data)
    # every trial reached the first rung: Optuna's evaluator sees all of them
    assert first_rung.trials == len(rows) and first_rung.values is not None
    assert sum(first_rung.values.values()) == pytest.approx(1.0)
    assert {"dim", "window", "learning_rate"} <= set(first_rung.values)
    finished = sum(row["status"] == "completed" for row in rows)
    assert completed.trials == finished
    assert (completed.values is None) == (finished < 2)
    figure = plot_importances([completed, first_rung])
    axes = figure.axes[0]
    labels = [tick.get_text() for tick in axes.get_yticklabels()]
    bars = {container.get_label(): container for container in axes.containers}
    assert [bar.get_width() for bar in bars["first rung"]] == pytest.approx(
        [first_rung.values.get(label, 0.0) for label in labels])


@pytest.mark.slow
def test_report_without_the_optuna_file_says_so(study_dir, tmp_path):
    copy = tmp_path / "rep"
    shutil.copytree(study_dir, copy, ignore=shutil.ignore_patterns("checkpoint_*", "events.*"))
    (copy / "optuna.journal").unlink()
    page = write_report(copy).read_text()
    assert "could not be read" in page
    # every figure but the importances: learning curves, best so far, winner vs baselines, quality against cost
    assert len(re.findall(r'<img src="data:image/png', page)) == 4
    assert not (copy / "report_importances.png").exists()
