"""Repeats (tune/repeats.py): the plan, the mean and interval over seeds, the winner by the mean, the table.

The slow test reads a copy of the README example's study (``run`` with ``repeats=2, top=1``
through the Python API: conftest's ``readme_example``), checks what the repeats trained and
what the export, the tables and the report say, then continues the same repeats with
``track2vec-tune repeat`` (Ray's saved experiment restored) and refuses other ones.
"""

from __future__ import annotations

import csv
import json
import math
import shutil

import numpy as np
import pytest
from scipy import stats

from track2vec.errors import ConfigError
from track2vec.scoring import unit_rows
from tune.cli import main
from tune.comparison import Comparison
from tune.evaluation import Evaluation
from tune.reader import TrialRow
from tune.repeats import (
    Configuration, RepeatPlan, candidates, ensemble_candidates, make_plan, repeat_seeds, seed_interval, summarise,
)
from tune.search_space import PARAMS
from tune.spec import StudySpec
from tune.study import Study
from tune.table import summary_lines, to_csv, to_markdown
from tune.testing import free_port, results, trial_dirs


def row(trial_id: str, ndcg: float | None, status: str = "completed", best_epoch: int | None = 2, **extra) -> TrialRow:
    params = {**dict.fromkeys(PARAMS), "dim": 16, "architecture": "sgns", "popularity_weight": None}
    return TrialRow(trial_id, status, 3, params, best_val_ndcg=ndcg, best_val_hr=0.3 if ndcg else None,
                    best_epoch=best_epoch if ndcg is not None else None, **extra)


SEARCH = [row("a", 0.30, best_epoch=3), row("b", 0.28, "stopped early", best_epoch=1), row("c", 0.25), row("d", None),
          row("e", 0.10)]


def test_the_plan_repeats_the_top_configurations_for_their_best_epoch_count_with_new_seeds():
    errored = [row("x", 0.9, "errored")]  # an errored trial is never repeated, however high
    plan = make_plan(errored + SEARCH, study_seed=5, repeats=3, top=2)
    assert plan.seeds == (6, 7, 8) == repeat_seeds(5, 3)
    assert [(c.trial_id, c.epochs) for c in plan.configurations] == [("a", 3), ("b", 1)]
    assert plan.configurations[0].params == {"dim": 16, "architecture": "sgns"}  # unset values stay unset
    points = plan.points()
    assert len(points) == 6 and points[0] == {"dim": 16, "architecture": "sgns", "seed": 6, "epochs": 3,
                                              "source_trial": "a"}
    assert {(p["source_trial"], p["seed"]) for p in points} == {(t, s) for t in "ab" for s in (6, 7, 8)}
    assert RepeatPlan.from_json(plan.to_json()) == plan
    assert len(make_plan(SEARCH, 0, 1, top=10).configurations) == 4  # fewer trials than --top: all that ran


def test_a_plan_needs_a_trial_that_ran_and_positive_numbers():
    with pytest.raises(ConfigError, match="nothing to repeat"):
        make_plan([row("d", None)], 0, 2, 3)
    with pytest.raises(ConfigError, match="--repeats >= 1"):
        make_plan(SEARCH, 0, 0, 3)


@pytest.mark.parametrize("values", [[0.2, 0.25, 0.22], [0.1, 0.3], [0.15, 0.15, 0.15, 0.16, 0.2]])
def test_the_interval_over_seeds_is_students_t(values):
    found = seed_interval(values)
    low, high = stats.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=stats.sem(values))
    assert (found.mean, found.low, found.high, found.seeds) == pytest.approx((np.mean(values), low, high, len(values)))
    assert found.describe() == f"{np.mean(values):.4f} ± {high - np.mean(values):.4f} ({len(values)} seeds)"


def test_one_seed_has_a_mean_and_no_interval():
    found = seed_interval([0.2])
    assert (found.mean, found.low, found.high, found.describe()) == (0.2, None, None, "0.2000 (1 seed)")


PLAN = RepeatPlan(2, 2, (1, 2), (Configuration("a", {"dim": 16}, 3), Configuration("b", {"dim": 8}, 1)))
REPEATS = [row("r1", 0.26, source_trial="a", seed=1), row("r2", 0.24, source_trial="a", seed=2),
           row("r3", 0.27, source_trial="b", seed=1), row("r4", 0.29, source_trial="b", seed=2),
           row("r5", 0.99, "errored", source_trial="a", seed=3)]


def test_the_winner_is_the_best_mean_and_its_vectors_the_best_seeds():
    repeats = summarise(PLAN, REPEATS)
    # b's mean (0.28) beats a's (0.25), although a was the best single trial of the search
    assert [c.trial_id for c in repeats.configurations] == ["b", "a"]
    assert repeats.configurations[0].interval.mean == pytest.approx(0.28)
    assert [run.trial_id for run in repeats.configurations[1].runs] == ["r1", "r2"]  # the errored run is left out
    order = candidates(SEARCH, repeats)
    assert [(config.trial_id, run.trial_id) for config, run in order] == [
        ("b", "r4"), ("a", "r1"), ("c", "c"), ("d", "d"), ("e", "e")]
    assert candidates(SEARCH, None) == [(r, r) for r in SEARCH]
    only_a = summarise(PLAN, REPEATS[:2])  # b has no finished repeat yet: left out
    assert [c.trial_id for c in only_a.configurations] == ["a"]


def test_the_ensemble_is_offered_every_seed_of_the_repeated_configurations_after_the_winner():
    """Each seed is a member of its own: the winner's vectors first, then the repeated configurations' other
    seeds (best mean first), then the other candidates, each run once; without repeats, the candidates."""
    repeats = summarise(PLAN, REPEATS)
    offered = ensemble_candidates(SEARCH, repeats)
    assert [(config.trial_id, run.trial_id) for config, run in offered] == [
        ("b", "r4"), ("b", "r3"), ("a", "r1"), ("a", "r2"), ("c", "c"), ("d", "d"), ("e", "e")]
    assert offered[0] == candidates(SEARCH, repeats)[0]
    assert ensemble_candidates(SEARCH, None) == candidates(SEARCH, None)


def _ensemble_inputs(winner_method: str, **winner_params):
    """Three loaded trials (a: the winner, b with context vectors, c without) and an evaluation of them."""
    from types import SimpleNamespace

    from track2vec.scoring import Scoring, Vectors

    rng = np.random.default_rng(0)

    def vectors(context: bool) -> Vectors:
        return Vectors(rng.normal(size=(20, 4)).astype(np.float32),
                       rng.normal(size=(20, 4)).astype(np.float32) if context else None)

    winner = row("a", 0.30, best_epoch=3)
    winner.params.update(winner_params)
    loaded = [(winner, winner, vectors(True), Scoring(winner_method, 1.0)),
              (SEARCH[1], SEARCH[1], vectors(True), Scoring("symmetric", 0.5)),
              (SEARCH[2], SEARCH[2], vectors(False), Scoring("cosine", 0.0))]
    found = Evaluation(Study("/studies", "s"), StudySpec(name="s", trials=5, max_epochs=3), list(SEARCH),
                       winner_run=winner, winner_vectors=loaded[0][2], winner_scoring=Scoring(winner_method, 1.0))
    corpus = SimpleNamespace(validation_pairs=np.array([[0, 1], [2, 3]]), counts=np.ones(20), vocabulary=range(20))
    return loaded, found, corpus


def _fake_selection(monkeypatch, score_of_method: dict[str, float]) -> dict[str, list[str]]:
    """Replace the greedy selection by one that takes every candidate offered, with a validation NDCG@10 per
    scoring; returns the trials offered under each scoring and the popularity weights it was given."""
    from track2vec import ensemble
    from track2vec.scoring import Scoring
    from tune import evaluation as study_evaluation

    calls: dict[str, list] = {}

    def take_all(candidates, method, counts, pairs, popularity_weights):
        chosen = list(candidates)
        calls[method] = [len(chosen), tuple(popularity_weights)]
        return ensemble.Selection(tuple(range(len(chosen))), ensemble.concatenate(chosen, method),
                                  Scoring(method, popularity_weights[-1]), score_of_method[method])

    monkeypatch.setattr(study_evaluation, "select_ensemble", take_all)
    return calls


@pytest.mark.parametrize("winner_method, offered", [("target-context", ["a", "b"]), ("symmetric", ["a", "b"]),
                                                    ("cosine", ["a", "b", "c"])])
def test_the_ensemble_is_offered_every_trial_that_can_be_scored_its_way(monkeypatch, winner_method, offered):
    """Whichever scoring a trial's own best epoch chose: for the context scorings, every trial with context
    vectors (b chose symmetric, a target-context ensemble still gets it); a trial without them (c, tied-cosine)
    only under cosine. On a tie the winner's own scoring is kept."""
    from tune import evaluation as study_evaluation

    calls = _fake_selection(monkeypatch, {"cosine": 0.5, "target-context": 0.5, "symmetric": 0.5})
    loaded, found, corpus = _ensemble_inputs(winner_method)
    study_evaluation._choose_ensemble(found, lambda: iter(loaded), corpus)
    assert [run.trial_id for run in found.ensemble] == offered
    assert found.winner_scoring.method == winner_method
    assert {method: n for method, (n, _) in calls.items()} == {"cosine": 3, "target-context": 2, "symmetric": 2}


def test_the_ensemble_keeps_the_scoring_that_ranks_it_best_on_validation(monkeypatch):
    """A sum of models may rank best another way than its best member: the ensemble is chosen under every
    scoring the trials chose from and keeps the best on validation; a scoring the study fixed is the only one
    tried, and a fixed popularity weight the only weight."""
    from track2vec.scoring import POPULARITY_WEIGHTS
    from tune import evaluation as study_evaluation

    calls = _fake_selection(monkeypatch, {"cosine": 0.05, "target-context": 0.10, "symmetric": 0.09})
    loaded, found, corpus = _ensemble_inputs("symmetric")
    study_evaluation._choose_ensemble(found, lambda: iter(loaded), corpus)
    assert found.winner_scoring.method == "target-context"
    assert [run.trial_id for run in found.ensemble] == ["a", "b"]
    assert found.winner_vectors.dim == 8 and calls["symmetric"][1] == tuple(POPULARITY_WEIGHTS)

    calls = _fake_selection(monkeypatch, {"cosine": 0.05, "target-context": 0.10, "symmetric": 0.09})
    loaded, found, corpus = _ensemble_inputs("symmetric", scoring="symmetric", popularity_weight=0.5)
    study_evaluation._choose_ensemble(found, lambda: iter(loaded), corpus)
    assert found.winner_scoring.method == "symmetric" and list(calls) == ["symmetric"]
    assert calls["symmetric"][1] == (0.5,)


def test_the_blend_is_offered_the_winners_vectors_under_every_scoring_its_trials_chose_from():
    """The winner's own scoring first (its table as given), then each other scoring with the popularity weight
    best on validation; a scoring the study fixed is the only one offered."""
    from track2vec.ensemble import best_scoring
    from tune import evaluation as study_evaluation

    loaded, found, corpus = _ensemble_inputs("symmetric")
    table = found.winner_vectors.score_table("symmetric", corpus.counts)
    bases = list(study_evaluation._blend_bases(found, table, corpus))
    assert [scoring.method for scoring, _ in bases] == ["symmetric", "cosine", "target-context"]
    assert bases[0] == (found.winner_scoring, table)
    for scoring, other in bases[1:]:
        assert scoring == best_scoring(found.winner_vectors, scoring.method, corpus.counts, corpus.validation_pairs)[0]
        np.testing.assert_array_equal(other.queries, found.winner_vectors.score_table(scoring.method, corpus.counts).queries)

    loaded, found, corpus = _ensemble_inputs("symmetric", scoring="symmetric")
    assert [scoring for scoring, _ in study_evaluation._blend_bases(found, table, corpus)] == [found.winner_scoring]


def evaluation(repeats) -> Evaluation:
    winner = SEARCH[1]
    return Evaluation(Study("/studies", "s"), StudySpec(name="s", trials=5, max_epochs=3), list(SEARCH), winner,
                      comparison=Comparison(), repeats=repeats, winner_run=REPEATS[3])


def test_the_table_shows_mean_and_interval_per_repeated_configuration():
    repeats = summarise(PLAN, REPEATS)
    found = evaluation(repeats)
    rows = list(csv.DictReader(to_csv(found).splitlines()))
    by_id = {r["trial_id"]: r for r in rows}
    b = repeats.by_trial()["b"].interval
    assert float(by_id["b"]["repeats_mean_val_ndcg_at_10"]) == pytest.approx(b.mean)
    assert (float(by_id["b"]["repeats_val_ndcg_low"]), float(by_id["b"]["repeats_val_ndcg_high"])) == pytest.approx(
        (b.low, b.high))
    assert by_id["b"]["repeats_seeds"] == "2" and by_id["c"]["repeats_mean_val_ndcg_at_10"] == ""
    markdown = to_markdown(found, compact=True)
    assert "val NDCG@10 over seeds, mean ± 95%" in markdown.splitlines()[0]
    (winner_line,) = [line for line in markdown.splitlines() if line.startswith("| b ★")]
    assert f"| {b.describe()} |" in winner_line
    text = "\n".join(summary_lines(found))
    assert "by the mean validation NDCG@10 over the new seeds): the configuration of trial b" in text
    assert "its best seed, 2 (repeat trial r4)" in text
    assert "- trial b ★ (1 epochs): 0.2800 ± " in text and "seed 1: 0.2700, seed 2: 0.2900" in text
    # without repeats the table has no such columns
    assert "repeats_seeds" not in to_csv(evaluation(None)).splitlines()[0]


# ---------------------------------------------------------------------------------------
# Slow: the README example's study (run --repeats 2 --top 1 through the Python API), then `repeat`


@pytest.mark.slow
def test_repeats_retrain_the_top_configuration_with_new_seeds(readme_example, tmp_path, capsys, no_ray_left):
    name = "notebook"
    storage = tmp_path / "studies"
    shutil.copytree(readme_example.directory / "studies" / name, storage / name)
    spec = Study(str(storage), name).load_spec()
    assert (spec.repeats, spec.repeat_top) == (2, 1)
    search = list(csv.DictReader(open(storage / name / "export" / "trials.csv")))
    search_best = max(search, key=lambda row: float(row["best_val_ndcg_at_10"]))
    repeats_dir = storage / name / "repeats"
    plan = json.loads((repeats_dir / "plan.json").read_text())
    assert plan["seeds"] == [spec.seed + 1, spec.seed + 2]
    assert [(c["trial_id"], c["epochs"]) for c in plan["configurations"]] == [
        (search_best["trial_id"], int(search_best["best_epoch"]))]

    # two trials of their own experiment, each with its seed, for the search trial's best epoch count
    runs = {path.name: results(path) for path in trial_dirs(repeats_dir).values()}
    assert len(runs) == 2
    assert sorted(reported[-1]["seed"] for reported in runs.values()) == plan["seeds"]
    for reported in runs.values():
        assert [result["epoch"] for result in reported] == list(range(1, int(search_best["best_epoch"]) + 1))
    def best_vectors(trial_dir) -> np.ndarray:  # the newest checkpoint holds the best epoch's vectors
        return np.load(sorted(trial_dir.glob("checkpoint_*"))[-1] / "best_embeddings.npy")

    vectors = [best_vectors(repeats_dir / trial) for trial in runs]
    assert not np.allclose(*vectors)  # another seed, other vectors

    # the export says which seed's vectors it holds: the repeated configuration's best seed
    model = json.loads((storage / name / "export" / "model.json").read_text())
    best_run = max(runs.values(), key=lambda reported: reported[-1]["best_val_ndcg_at_10"])[-1]
    assert model["trial_id"] == search_best["trial_id"]
    assert model["selection"].startswith("highest mean validation NDCG@10")
    assert model["vectors"] == {"trial_id": best_run["trial_id"], "seed": best_run["seed"], "from": "repeats"}
    assert model["seed"] == model["hyperparameters"]["seed"] == best_run["seed"]
    exported = np.load(storage / name / "export" / "embeddings.npy")
    # ... first; the other seed joins it as an ensemble member of its own where validation chooses so
    members = (model["ensemble"] or {}).get("trial_ids", [best_run["trial_id"]])
    assert members[0] == best_run["trial_id"] and set(members) <= {reported[-1]["trial_id"] for reported in runs.values()}
    blocks = [best_vectors(repeats_dir / f"trial_{member}") for member in members]
    if len(blocks) > 1 and model["scoring"]["method"] == "cosine":  # an ensemble under cosine: unit rows
        blocks = [unit_rows(block) for block in blocks]
    np.testing.assert_array_equal(exported, np.hstack(blocks))
    (configuration,) = model["repeats"]["configurations"]
    values = [reported[-1]["best_val_ndcg_at_10"] for reported in runs.values()]
    half = stats.t.ppf(0.975, 1) * np.std(values, ddof=1) / math.sqrt(2)
    assert configuration["val_ndcg_at_10"]["mean"] == pytest.approx(sum(values) / 2)
    assert configuration["val_ndcg_at_10"]["high"] == pytest.approx(sum(values) / 2 + half)

    # the winner's row shows mean ± interval, in the tables and the report
    cell = f"{sum(values) / 2:.4f} ± {half:.4f} (2 seeds)"
    assert search[0]["trial_id"] == search_best["trial_id"] and search[0]["repeats_seeds"] == "2"
    trials_md = (storage / name / "export" / "trials.md").read_text()
    (line,) = [line for line in trials_md.splitlines() if line.startswith(f"| {search_best['trial_id']} ★ |")]
    assert cell in line and "Repeats: the top 1 configuration(s)" in trials_md
    assert cell in (storage / name / "report.html").read_text()

    # `repeat` with the same plan continues them: Ray's saved experiment is restored, nothing is trained again
    args = ["--name", name, "--storage", str(storage), "--dashboard-port", str(free_port())]
    assert main(["repeat", *args, "--repeats", "2", "--top", "1"]) == 0
    out = capsys.readouterr().out
    assert {path.name: results(path) for path in trial_dirs(repeats_dir).values()} == runs
    assert json.loads((storage / name / "export" / "model.json").read_text())["vectors"] == model["vectors"]
    (line,) = [line for line in out.splitlines() if line.startswith(f"| {search_best['trial_id']} ★ |")]
    assert cell in line

    # status reads the repeats; other repeats are refused without --force, before anything runs
    assert main(["status", "--name", name, "--storage", str(storage), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["repeats"]["configurations"][0]["trial_id"] == search_best["trial_id"]
    assert main(["repeat", *args, "--repeats", "3", "--top", "1"]) == 2
    assert "already has other repeats" in capsys.readouterr().err
