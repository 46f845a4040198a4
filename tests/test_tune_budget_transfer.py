"""End to end on builtin:tiny: a budget that changes the winner, then a study on a sample warm-started from it
(issue 17). Real Ray, Optuna and Keras; two short studies in one test to keep the suite short."""

from __future__ import annotations

import contextlib
import csv
import io
import json
from dataclasses import replace

import numpy as np
import pytest

from tune import driver
from tune.api import Study as ApiStudy
from tune.cli import main
from tune.cost import PEAK_MEMORY_MIB, SECONDS_PER_EPOCH
from tune.reader import read_rows
from tune.report.data import cost_points, load_report_data, pareto_front
from tune.report.figures import plot_quality_vs_cost
from tune.study import Study
from tune.testing import optuna_trials, results, trial_dirs

# Everything fixed but the batch size, whose two values differ in both cost and quality on builtin:tiny:
# 16 pairs a step is slow and learns, 16,384 is fast and hardly moves from the initial vectors.
# With seed 0, TPE's random start draws both (asserted below).
SPACE = """\
architecture = "sgns"
dim = 16
window = 10
negatives = 20
direction = "both"
shrink_windows = false
artist_vectors = false
alpha = 0.75
subsample = 1e-3
learning_rate = 0.05
lr_schedule = "auto"
batch_size = { choices = [16, 16384] }
"""
SLOW, FAST = 16, 16384
# Between the two batch sizes' epochs, with a margin of about twice on either side.
MAX_EPOCH_SECONDS = 1.0
MAX_EPOCHS = 4  # the warm-up epochs (2) then steady ones: the budget stops the slow trial after its third


@pytest.mark.slow
def test_a_budget_changes_the_winner_and_a_sample_study_warm_starts_from_it(tmp_path, no_ray_left):
    storage = tmp_path / "studies"
    config = tmp_path / "space.toml"
    config.write_text(SPACE)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["run", "--data", "builtin:tiny", "--config", str(config), "--trials", "2",
                     "--max-epochs", str(MAX_EPOCHS), "--grace-period", str(MAX_EPOCHS), "--seed", "0",
                     "--max-epoch-seconds", str(MAX_EPOCH_SECONDS), "--storage", str(storage), "--name", "budget",
                     "--no-dashboard"])
    out = out.getvalue()
    assert code == 0, out
    budgeted = Study(str(storage), "budget")
    spec = budgeted.load_spec()
    assert spec.max_epoch_seconds == MAX_EPOCH_SECONDS and spec.max_trial_memory is None
    rows = {row.params["batch_size"]: row for row in read_rows(budgeted, spec)}
    assert set(rows) == {SLOW, FAST}, f"TPE's random start drew {sorted(rows)}: the test needs both batch sizes"
    slow, fast = rows[SLOW], rows[FAST]

    # every epoch reported the trial's cost
    for path in trial_dirs(budgeted.local_path).values():
        for result in results(path):
            assert result[SECONDS_PER_EPOCH] > 0 and result[PEAK_MEMORY_MIB] > 100
    assert fast.seconds_per_epoch <= MAX_EPOCH_SECONDS < slow.seconds_per_epoch, (fast, slow)
    # the slow trial was stopped at its first steady epoch and marked; the fast one ran to the end
    assert slow.over_budget and slow.epochs == MAX_EPOCHS - 1 and slow.status == "stopped early"
    assert fast.meets_budget and fast.epochs == MAX_EPOCHS and fast.status == "completed"
    # without the budget the slow trial would win; with it the winner is the best trial within it
    assert slow.best_val_ndcg > fast.best_val_ndcg, "the slow configuration should rank better on validation"
    model = json.loads((budgeted.local_path / "export" / "model.json").read_text())
    assert model["trial_id"] == fast.trial_id
    assert model["budget"] == {"max_epoch_seconds": MAX_EPOCH_SECONDS, "max_trial_memory": None}
    assert model["cost"]["seconds_per_epoch"] == fast.seconds_per_epoch and model["sample"] == 1.0
    assert f"without the budget trial {slow.trial_id} would win" in out
    assert "1 stopped early by ASHA or the budget" in out
    assert f"budget: at most {MAX_EPOCH_SECONDS:g} training seconds per epoch" in out and "(over budget)" in out
    with open(budgeted.local_path / "export" / "trials.csv") as handle:
        table = {row["trial_id"]: row for row in csv.DictReader(handle)}
    assert table[slow.trial_id]["over_budget"].startswith(f"{slow.seconds_per_epoch:.3g} s/epoch > {MAX_EPOCH_SECONDS:g}")
    assert table[fast.trial_id]["over_budget"] == "" and float(table[fast.trial_id]["peak_memory_mib"]) > 100
    # Optuna has each trial's constraint, so TPE and Optuna's own best trial know the budget
    frozen = {trial.user_attrs["ray_trial_id"]: trial for trial in optuna_trials(budgeted.local_path, "budget")}
    assert frozen[slow.trial_id].constraints[SECONDS_PER_EPOCH] == pytest.approx(
        slow.seconds_per_epoch - MAX_EPOCH_SECONDS)
    assert frozen[slow.trial_id].state.name == "PRUNED"
    assert frozen[fast.trial_id].constraints[SECONDS_PER_EPOCH] <= 0 and frozen[fast.trial_id].state.name == "COMPLETE"

    # the report: quality against cost, the Pareto front through both trials (one cheaper, one better)
    page = (budgeted.local_path / "report.html").read_text()
    assert "5. Quality against cost" in page and 'alt="quality against cost"' in page
    data = load_report_data(budgeted.local_path)
    front = pareto_front(cost_points(data, "seconds_per_epoch"))
    assert [point.trial_id for point in front] == [fast.trial_id, slow.trial_id]
    gids = {artist.get_gid() for axes in plot_quality_vs_cost(data).axes for artist in axes.get_children()}
    assert {"pareto-front-seconds_per_epoch", "trials-over-budget-seconds_per_epoch", "winner-seconds_per_epoch",
            "budget-limit-seconds_per_epoch", "pareto-front-peak_memory_mib"} <= gids

    # a study on half the training playlists, warm-started from that one, through the Python API
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        warm = ApiStudy.run(data="builtin:tiny", trials=2, storage=storage, name="warm", config=config,
                            max_epochs=1, grace_period=1, sample=0.5, warm_start_from=budgeted.local_path,
                            dashboard=False)
    spec = warm.spec
    assert spec.sample == 0.5 and spec.warm_start_from == str(budgeted.local_path)
    # the top configuration that met the earlier study's budget (the slow one could not win there)
    assert spec.warm_start_points == ({"batch_size": FAST},)
    frozen = sorted(optuna_trials(storage / "warm", "warm"), key=lambda trial: trial.number)
    assert len(frozen) == 2 and frozen[0].params == {"batch_size": FAST}
    assert frozen[0].system_attrs["fixed_params"] == {"batch_size": FAST}  # enqueued, then TPE continued
    assert "fixed_params" not in frozen[1].system_attrs
    assert "warm start: the top 1 configuration(s) of" in out.getvalue()
    # the sample: half the training playlists, the held-out pairs of the whole corpus
    assert spec.corpus_stats["sampled_playlists"] == spec.corpus_stats["playlists"] // 2
    sampled, whole = driver.load_corpus(spec), driver.load_corpus(replace(spec, sample=1.0))
    assert sampled.stats["training_tokens"] < 0.6 * whole.stats["training_tokens"]
    np.testing.assert_array_equal(sampled.validation_pairs, whole.validation_pairs)
    np.testing.assert_array_equal(sampled.test_pairs, whole.test_pairs)
    assert "sample: 0.5 of the training playlists (300 of 600" in out.getvalue()
    assert warm.winner.test is not None
