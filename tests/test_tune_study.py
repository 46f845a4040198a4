"""End to end: a real study (Ray Tune, Optuna, ASHA, Keras) on the built-in tiny corpus (conftest's tiny_study)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from track2vec.baselines import RuleSettings, corpus_baselines, ranks_by_rules
from track2vec.blend import blended_ranks, count_term, rule_log_scores
from track2vec.ensemble import concatenate
from track2vec.evaluation import evaluate_with, popularity_ranks, rank_targets
from track2vec.export import read_export
from track2vec.intervals import paired_bootstrap
from track2vec.recommend import Recommender
from track2vec.scoring import Scoring, score_table
from tune import driver
from tune.cli import main
from tune.intervals import StudyIntervals
from tune.reader import read_rows
from tune.study import Study
from tune.testing import FAST_SPACE_TOML, optuna_trials, results, trial_dirs
from tune.trainable import load_best_vectors, load_progress

@pytest.mark.slow
def test_study_end_to_end(tiny_study, capsys, no_ray_left):
    code, out, storage, name = tiny_study.code, tiny_study.out, tiny_study.storage, tiny_study.name
    trials, max_epochs = tiny_study.trials, tiny_study.max_epochs
    assert code == 0, out
    study_dir = storage / name
    export_dir = study_dir / "export"

    # run printed the dashboard, the top of the table and where everything went
    assert "Ray dashboard: http://127.0.0.1:" in out
    assert "| trial | status |" in out and str(export_dir) in out
    # ... and ended with the HTML report, written next to the study
    assert f"report: {study_dir / 'report.html'}" in out and (study_dir / "report.html").is_file()

    # one row per trial, every hyperparameter, statuses of both kinds
    with open(export_dir / "trials.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == trials == len(trial_dirs(study_dir))
    assert {"dim", "window", "negatives", "batch_size", "alpha", "subsample", "learning_rate",
            "architecture", "best_val_ndcg_at_10", "last_val_hr_at_10", "loss", "accuracy", "wall_seconds"} <= set(rows[0])
    statuses = {row["trial_id"]: row["status"] for row in rows}
    stopped = {trial for trial, status in statuses.items() if status == "stopped early"}
    completed = {trial for trial, status in statuses.items() if status == "completed"}
    assert stopped and completed and stopped | completed == set(statuses)
    for row in rows:
        epochs = int(row["epochs"])
        assert (epochs == max_epochs) == (row["trial_id"] in completed)

    # ASHA-stopped trials are PRUNED in the Optuna storage, finished ones COMPLETE
    states = {frozen.user_attrs["ray_trial_id"]: frozen for frozen in optuna_trials(study_dir, name)}
    assert set(states) == set(statuses)
    for trial in stopped:
        assert states[trial].state.name == "PRUNED"
    for trial in completed:
        assert states[trial].state.name == "COMPLETE"
        assert states[trial].value == pytest.approx(float(next(r for r in rows if r["trial_id"] == trial)
                                                          ["best_val_ndcg_at_10"]))
    for trial, frozen in states.items():  # one intermediate value per epoch, indexed by epoch
        assert sorted(frozen.intermediate_values) == list(range(1, int(
            next(r for r in rows if r["trial_id"] == trial)["epochs"]) + 1))

    # result.json (the curves, the report) holds every epoch once, although workers ran several trials each
    epochs_run = {row["trial_id"]: int(row["epochs"]) for row in rows}
    for trial, path in trial_dirs(study_dir).items():
        assert [result["epoch"] for result in results(path)] == list(range(1, epochs_run[trial] + 1)), trial
    if driver.reuse_actors():
        workers = {result["pid"] for path in trial_dirs(study_dir).values() for result in results(path)}
        assert len(workers) < trials

    # a new study keeps Optuna in a journal file (safe on shared file systems), no SQLite
    assert Study(str(storage), name).load_spec().optuna_backend == "journal"
    assert (study_dir / "optuna.journal").is_file() and not (study_dir / "optuna.db").exists()
    assert f"Optuna: optuna-dashboard {study_dir / 'optuna.journal'}" in out

    # at most two checkpoints per trial
    for path in trial_dirs(study_dir).values():
        assert len(list(path.glob("checkpoint_*"))) <= 2

    # the exported embeddings are the winner's: re-evaluating them gives the table's number
    exported = read_export(export_dir)
    winner = rows[0]
    assert winner["trial_id"] == max(rows, key=lambda row: float(row["best_val_ndcg_at_10"]))["trial_id"]
    assert exported.info["trial_id"] == winner["trial_id"]
    spec = Study(str(storage), name).load_spec()
    corpus = driver.load_corpus(spec)
    # ... under the scoring its trial chose on validation, which the export records
    scoring = exported.scoring
    assert exported.info["scoring"] == scoring.as_dict() and winner["best_scoring"] == scoring.describe()
    assert (exported.context_embeddings is not None) == (exported.info["hyperparameters"]["architecture"] in ("sgns", "softmax"))
    table = exported.score_table()
    again = evaluate_with(table, corpus.validation_pairs, scoring.popularity_weight, 10)
    metrics = exported.info["metrics"]
    assert list(exported.vocabulary.items) == list(corpus.vocabulary.items)
    assert exported.info["hyperparameters"]["dim"] == int(winner["dim"])
    # ... or, where validation chose an ensemble, the best trial's vectors side by side with the next ones'
    ensemble = exported.info["ensemble"]
    members = ensemble["trial_ids"] if ensemble else [winner["trial_id"]]
    assert members[0] == winner["trial_id"] and set(members) <= set(statuses)
    all_rows = {row.trial_id: row for row in read_rows(Study(str(storage), name), spec)}
    member_vectors = []
    for member in members:
        with all_rows[member].checkpoint.as_directory() as directory:
            member_vectors.append(load_best_vectors(Path(directory)))
    expected_vectors = concatenate(member_vectors, scoring.method)
    np.testing.assert_array_equal(exported.embeddings, expected_vectors.embeddings)
    assert exported.embeddings.shape[1] == sum(vectors.dim for vectors in member_vectors)
    assert again.ndcg == pytest.approx(metrics["winner_val_ndcg_at_10"], abs=1e-9)
    if ensemble:  # it ranks validation better than its first trial alone, which is scored beside it
        assert ensemble["dim"] == exported.embeddings.shape[1] and again.ndcg > metrics["best_trial_val_ndcg_at_10"]
        assert metrics["best_trial_val_ndcg_at_10"] == pytest.approx(float(winner["best_val_ndcg_at_10"]), abs=1e-9)
        assert "The winner is an ensemble" in out
    else:
        assert again.ndcg == pytest.approx(float(winner["best_val_ndcg_at_10"]), abs=1e-9)
        assert "best_trial_val_ndcg_at_10" not in metrics

    # test metrics of the winner only, with the baselines and the oracle beside them
    assert metrics["winner_test_ndcg_at_10"] == pytest.approx(
        evaluate_with(table, corpus.test_pairs, scoring.popularity_weight, 10).ndcg)
    assert float(winner["test_ndcg_at_10"]) == pytest.approx(  # the trial's row: that trial alone
        metrics["best_trial_test_ndcg_at_10" if ensemble else "winner_test_ndcg_at_10"])
    assert all(row["test_ndcg_at_10"] == "" for row in rows[1:])
    for key in ("winner_test_ndcg_at_10", "winner_test_hr_at_10", "popularity_val_ndcg_at_10",
                "popularity_test_ndcg_at_10", "oracle_ndcg_at_10", "sr_val_ndcg_at_10", "sr_test_ndcg_at_10",
                "ar_val_hr_at_10", "ar_test_hr_at_10", "blend_val_ndcg_at_10", "blend_test_ndcg_at_10"):
        assert key in metrics
    # the counted baselines are those of the library, on the same pairs
    baselines = corpus_baselines(corpus)
    assert metrics["sr_test_ndcg_at_10"] == pytest.approx(baselines["sr"].test.ndcg)
    assert metrics["ar_val_ndcg_at_10"] == pytest.approx(baselines["ar"].validation.ndcg)
    assert exported.info["baselines"]["sr"] == baselines["sr"].settings
    assert exported.blend_weight == exported.info["blend"]["weight"] and exported.blend_rules is not None
    # test intervals: the paired bootstrap (the study's seed, 1000 resamples) of every series' test ranks
    intervals = StudyIntervals.from_dict(exported.info["intervals"])
    runner_up = rows[1]  # second by validation: scored on test for the intervals only
    assert intervals.runner_up == runner_up["trial_id"] and intervals.best_baseline == max(
        ("popularity", "sr", "ar"), key=lambda name: metrics[f"{name}_val_ndcg_at_10"])
    (runner_up_row,) = [row for row in read_rows(Study(str(storage), name), spec) if row.trial_id == runner_up["trial_id"]]
    with runner_up_row.checkpoint.as_directory() as directory:
        vectors, progress = load_best_vectors(Path(directory)), load_progress(Path(directory))
    runner_up_scoring = Scoring.from_dict(progress.best_scoring)
    runner_up_table = score_table(runner_up_scoring.method, vectors.embeddings, corpus.counts,
                                  vectors.context_embeddings, vectors.context_bias)
    test_ranks = {
        "winner": rank_targets(table, corpus.test_pairs, (scoring.popularity_weight,))[:, 0],
        "runner_up": rank_targets(runner_up_table, corpus.test_pairs, (runner_up_scoring.popularity_weight,))[:, 0],
        "blend": blended_ranks(exported.score_table(exported.blend_scoring.method), exported.blend_scoring.popularity_weight,
                               exported.blend_rules, corpus.test_pairs, (exported.blend_weight,))[:, 0],
        "counts": ranks_by_rules(count_term(*(rule_log_scores(corpus.tokens, corpus.offsets, len(corpus.vocabulary),
                                                              RuleSettings(kind, **baselines[kind].settings))
                                              for kind in ("sr", "ar")), exported.info["blend"]["counts_ar_weight"]),
                                 corpus.test_pairs),
        "popularity": popularity_ranks(corpus.counts, corpus.test_pairs),
        "sr": baselines["sr"].test_ranks, "ar": baselines["ar"].test_ranks,
    }
    expected = paired_bootstrap(test_ranks, 10, [("winner", "runner_up"), ("winner", intervals.best_baseline),
                                                 ("blend", "counts")], 1000, spec.seed)
    assert [system.name for system in intervals.bootstrap.systems] == list(test_ranks)
    for system in expected.systems:
        for metric in ("ndcg", "hit_rate"):
            found, wanted = getattr(intervals.bootstrap.system(system.name), metric), getattr(system, metric)
            assert (found.value, found.low, found.high) == pytest.approx((wanted.value, wanted.low, wanted.high),
                                                                         abs=1e-9), system.name
    assert [(d.first, d.second) for d in intervals.bootstrap.differences] == [
        (d.first, d.second) for d in expected.differences]
    for difference in expected.differences:
        found = intervals.bootstrap.difference(difference.first, difference.second).ndcg
        assert (found.value, found.low, found.high) == pytest.approx(
            (difference.ndcg.value, difference.ndcg.low, difference.ndcg.high), abs=1e-9)
    assert intervals.bootstrap.system("winner").ndcg.value == pytest.approx(metrics["winner_test_ndcg_at_10"])
    markdown = (export_dir / "trials.md").read_text()
    assert f"Winner − runner-up (trial {runner_up['trial_id']})" in markdown and "Winner − best baseline" in markdown
    assert "test NDCG@10, 95% interval" in (study_dir / "report.html").read_text()
    assert "held-out test" in markdown and "Popularity baseline" in markdown and "oracle" in markdown
    assert "SR baseline" in markdown and "AR baseline" in markdown and "Blend: winner + counts" in markdown and "Counts: SR + AR" in markdown
    assert "SR baseline" in out and "AR baseline" in out and "Blend" in out

    # recommend ranks a query's candidates exactly as the evaluation did
    assert_recommend_ranks_as_evaluated(export_dir, corpus, table, scoring)

    # trials read the corpus zero-copy from the object store
    for path in trial_dirs(study_dir).values():
        assert all(result["corpus_zero_copy"] for result in results(path))

    # study.json holds what resume and export need
    assert spec.trials == trials and spec.max_epochs == max_epochs and spec.config_text == FAST_SPACE_TOML

    # status reads the storage only; export refuses to overwrite without --force
    assert main(["status", "--name", name, "--storage", str(storage), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["completed"] == len(completed) and status["stopped_early"] == len(stopped)
    assert status["best"]["trial_id"] == winner["trial_id"]
    scores = status["exported_scores"]  # the export's comparison series, as model.json has them
    assert list(scores) == ["winner", *(["best_trial"] if ensemble else []), "blend", "counts", "popularity", "sr", "ar", "oracle"]
    assert scores["winner"]["test"]["ndcg_at_10"] == metrics["winner_test_ndcg_at_10"]
    assert scores["popularity"]["val"]["hr_at_10"] == metrics["popularity_val_hr_at_10"]
    assert scores["oracle"]["all"]["ndcg_at_10"] == metrics["oracle_ndcg_at_10"]
    assert status["exported_intervals"] == exported.info["intervals"] and status["repeats"] is None
    assert main(["status", "--name", name, "--storage", str(storage)]) == 0
    text = capsys.readouterr().out
    assert "the export's winner beside the baselines" in text and "SR baseline (sequential rules): validation" in text
    assert "Winner − runner-up" in text
    assert main(["export", "--name", name, "--storage", str(storage)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["export", "--name", name, "--storage", str(storage), "--force"]) == 0
    assert read_export(export_dir).info["trial_id"] == winner["trial_id"]


def test_a_study_directory_that_cannot_be_made_is_refused_before_anything_starts(tmp_path):
    from track2vec.errors import ConfigError

    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    with pytest.raises(ConfigError, match=f"cannot create the study directory .*\\({a_file} is not a directory\\)"):
        Study(str(a_file / "studies"), "s").check_creatable()
    # a path that does not exist yet under a directory is fine, and checking it creates nothing
    Study(str(tmp_path / "new" / "studies"), "s").check_creatable()
    assert not (tmp_path / "new").exists()
    assert a_file.read_text() == "x"


@pytest.mark.slow
def test_an_ensemble_winner_is_exported_scored_and_served_as_one_model(tiny_study, tmp_path, monkeypatch, capsys):
    """Where validation chooses an ensemble, everything downstream treats it as the winner. The tiny study's
    trials rarely make one, so the selection is made to take the two best trials (the selection itself:
    tests/test_ensemble.py); the export, its tables, ``status`` and ``recommend`` are the real ones."""
    import shutil
    from itertools import islice

    from track2vec import ensemble
    from tune import evaluation as study_evaluation

    assert tiny_study.code == 0, tiny_study.out
    storage = tmp_path / "studies"
    shutil.copytree(tiny_study.storage / tiny_study.name, storage / tiny_study.name)

    def the_two_best(candidates, method, counts, pairs, *args, **kwargs):
        joined = ensemble.concatenate(list(islice(candidates, 2)), method)
        scoring, score = ensemble.best_scoring(joined, method, counts, pairs)
        return ensemble.Selection((0, 1), joined, scoring, score)

    monkeypatch.setattr(study_evaluation, "select_ensemble", the_two_best)
    assert main(["export", "--name", tiny_study.name, "--storage", str(storage), "--force"]) == 0
    out = capsys.readouterr().out
    export_dir = storage / tiny_study.name / "export"
    exported = read_export(export_dir)
    with open(export_dir / "trials.csv") as handle:
        rows = list(csv.DictReader(handle))
    members = exported.info["ensemble"]["trial_ids"]
    by_row = {row["trial_id"]: row for row in rows}
    assert members[0] == rows[0]["trial_id"] == exported.info["trial_id"] and members[1] in by_row
    # the next best trial that can be scored the way the winner is (one scoring serves the ensemble), whichever
    # scoring its own best epoch chose: for the context scorings, any trial with context vectors
    scorable = [row["trial_id"] for row in rows[1:] if row["best_scoring"]
                and (exported.scoring.method == "cosine" or row["architecture"] != "tied-cosine")]
    assert members[1] == scorable[0]
    assert f"The winner is an ensemble, chosen on validation: its vectors side by side with those of trial(s) {members[1]} " in out

    study = Study(str(storage), tiny_study.name)
    spec = study.load_spec()
    corpus = driver.load_corpus(spec)
    by_id = {row.trial_id: row for row in read_rows(study, spec)}
    vectors = []
    for member in members:
        with by_id[member].checkpoint.as_directory() as directory:
            vectors.append(load_best_vectors(Path(directory)))
    scoring = exported.scoring
    np.testing.assert_array_equal(exported.embeddings, ensemble.concatenate(vectors, scoring.method).embeddings)
    assert exported.info["ensemble"]["dim"] == exported.embeddings.shape[1] == vectors[0].dim + vectors[1].dim
    assert exported.info["hyperparameters"]["dim"] == vectors[0].dim  # the first trial's configuration

    # the winner's scores are the exported model's; the best trial alone is its own series and its row's test
    table = exported.score_table()
    metrics = exported.info["metrics"]
    for split, pairs in (("val", corpus.validation_pairs), ("test", corpus.test_pairs)):
        assert metrics[f"winner_{split}_ndcg_at_10"] == pytest.approx(
            evaluate_with(table, pairs, scoring.popularity_weight).ndcg)
    assert metrics["best_trial_val_ndcg_at_10"] == pytest.approx(float(by_row[members[0]]["best_val_ndcg_at_10"]),
                                                                 abs=1e-9)
    assert float(rows[0]["test_ndcg_at_10"]) == pytest.approx(metrics["best_trial_test_ndcg_at_10"])
    assert main(["status", "--name", tiny_study.name, "--storage", str(storage), "--json"]) == 0
    assert "best_trial" in json.loads(capsys.readouterr().out)["exported_scores"]

    # recommend ranks a query's candidates exactly as the evaluation ranked them for the ensemble
    assert_recommend_ranks_as_evaluated(export_dir, corpus, table, scoring)


def assert_recommend_ranks_as_evaluated(export_dir, corpus, table, scoring) -> None:
    """``recommend``'s top-10 for a few validation queries is the evaluation's ranking under the export's scoring."""
    recommender = Recommender.from_export(export_dir)
    index = {item: number for number, item in enumerate(corpus.vocabulary.items.tolist())}
    for query in corpus.validation_pairs[:5, 0]:
        suggested = recommender.complete([str(corpus.vocabulary.items[query])], k=10)
        ids = [index[suggestion.item] for suggestion in suggested]
        ranks = rank_targets(table, np.array([[query, item] for item in ids]), (scoring.popularity_weight,))[:, 0]
        np.testing.assert_array_equal(ranks, range(10))


@pytest.mark.slow
def test_resuming_a_finished_exported_study_says_so_and_leaves_its_export(tiny_study, capsys, monkeypatch):
    """Nothing to train: no Ray cluster is started and the export is not written again."""
    assert tiny_study.code == 0, tiny_study.out

    def no_cluster(*args, **kwargs):
        raise AssertionError("resume started a Ray cluster for a finished study")

    monkeypatch.setattr(driver, "connect", no_cluster)
    export_dir = tiny_study.path / "export"
    before = {path.name: path.stat().st_mtime_ns for path in export_dir.iterdir()}
    assert main(["resume", "--name", tiny_study.name, "--storage", str(tiny_study.storage)]) == 0
    out = capsys.readouterr().out
    assert f"has finished its {tiny_study.trials} trials" in out and "nothing to resume" in out
    assert f"export --name {tiny_study.name} --storage {tiny_study.storage} --force" in out
    assert {path.name: path.stat().st_mtime_ns for path in export_dir.iterdir()} == before
