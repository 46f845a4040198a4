"""Smoke tests of scripts/benchmark.py's helpers: no timing, no TensorFlow, a few seconds in all."""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
sys.path.insert(0, str(SCRIPTS))

from bench import (common, notebook, row_corpus, row_gpu, row_optuna_storage, row_resources, row_retrieval,  # noqa: E402
                   row_training, row_tuning, studies)


def load_script(name: str):
    """scripts/<name>.py as a module, registered under its name (its dataclasses look their module up there)."""
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def benchmark_module():
    return load_script("benchmark")


@pytest.fixture(scope="module")
def tiny_corpus():
    return common.load_corpus("builtin:tiny")


# --- the notebook re-implementation ---------------------------------------------------


def test_keras_skipgrams_pairs_every_neighbour_in_the_window_and_skips_id_0():
    random.seed(0)
    couples, labels = notebook.keras_skipgrams([0, 1, 2, 3, 4], window_size=1)
    assert sorted(map(tuple, couples)) == [(1, 2), (2, 1), (2, 3), (3, 2), (3, 4), (4, 3)]
    assert labels == [1] * 6
    couples, _ = notebook.keras_skipgrams([5, 6, 7], window_size=2)
    assert sorted(map(tuple, couples)) == [(5, 6), (5, 7), (6, 5), (6, 7), (7, 5), (7, 6)]


def test_word2vec_sampling_keeps_all_pairs_when_nothing_is_subsampled():
    np.random.seed(0)
    random.seed(0)
    st_smooth, st = notebook.sampling_tables(np.array([5, 4, 3, 2, 1]), 0.75)
    assert st.sum() == pytest.approx(1) and st_smooth.sum() == pytest.approx(1)
    pairs, labels = notebook.word2vec_sampling([1, 2, 3, 4], 2, 3, st_smooth, st, sub_t=1.0)
    positives = len(notebook.keras_skipgrams([1, 2, 3, 4], 2)[0])
    assert (labels == 1).sum() == positives and (labels == 0).sum() == 3 * positives
    assert pairs.shape == (4 * positives, 2)


def test_notebook_generator_yields_targets_contexts_and_labels():
    random.seed(0)
    np.random.seed(0)
    st_smooth, st = notebook.sampling_tables(np.arange(10, 0, -1), 1.0)
    generator = notebook.track_ns_generator([[1, 2, 3], [4, 5, 6, 7], [8, 9]], 2, 1, 2, st_smooth, st, 1.0)
    (targets, contexts), labels = next(generator)
    assert len(targets) == len(contexts) == len(labels) and (labels == 1).sum() * 3 == len(labels)


# --- timing and formatting helpers ----------------------------------------------------


def test_alternate_reverses_the_order_every_round():
    calls = []
    samples = common.alternate({"a": lambda: calls.append("a") or 1, "b": lambda: calls.append("b") or 2}, rounds=3)
    assert calls == ["a", "b", "b", "a", "a", "b"]
    assert [s.value for s in samples["b"]] == [2, 2, 2] and all(s.seconds >= 0 for s in samples["a"])


def test_ratios_medians_and_formats():
    assert common.paired_ratios([10, 20], [2, 4]) == [5, 5]
    assert common.median([3, 1, 2]) == 2
    assert common.spread([1, 2, 3], "{:.0f}") == "2 [1-3], n=3"
    assert common.si(1_234_000, "pairs/s") == "1.23 Mpairs/s"
    assert common.times(153.2) == "153x" and common.times(2.5) == "2.5x"


def test_tables_and_markdown_report():
    report = common.RowReport(1, "Title")
    report.add("thing", "1 s", "2 s", "2x", ">= 1x", True)
    report.detail("a detail")
    assert "thing" in common.render_text(report) and "a detail" in common.render_text(report)
    skipped = common.RowReport(6, "GPU", skipped="no GPU")
    text = common.render_markdown([report, skipped], common.quick_settings(), "python scripts/benchmark.py --quick",
                                  {"CPU": "x"}, {"python": "3"}, "today", 60.0)
    assert "| 1. thing | 1 s | 2 s | 2x | >= 1x | yes |" in text
    assert "skipped: no GPU" in text and "## 1. Title" in text and "--quick" in text


def test_parse_rows_and_output_default(benchmark_module):
    assert benchmark_module.parse_rows("3,1") == [1, 3]
    with pytest.raises(Exception):
        benchmark_module.parse_rows("11")
    args = benchmark_module.build_parser().parse_args(["--quick", "--rows", "1"])
    assert benchmark_module.output_path(args) is None
    args = benchmark_module.build_parser().parse_args(["--quick"])
    assert benchmark_module.output_path(args).name == "BENCHMARKS-quick.md"  # the full run's file stays
    args = benchmark_module.build_parser().parse_args([])
    assert benchmark_module.output_path(args).name == "BENCHMARKS.md"
    args = benchmark_module.build_parser().parse_args(["--output", "-"])
    assert benchmark_module.output_path(args) is None
    args = benchmark_module.build_parser().parse_args(["--quality-corpora", "kosarak"])
    assert benchmark_module.output_path(args) is None  # part of row 8 never replaces the full run's file
    args = benchmark_module.build_parser().parse_args(["--quality-seeds", "2,0,2"])
    assert args.quality_seeds == (2, 0) and benchmark_module.output_path(args) is None
    for bad, message in (("-1", "seeds are whole numbers >= 0"), ("0,x", "expected seeds like 0,1,2"),
                         (",", "seeds are whole numbers >= 0")):
        with pytest.raises(argparse.ArgumentTypeError, match=message):
            benchmark_module.parse_seeds(bad)


def test_row_8_runs_on_the_corpora_named(benchmark_module, capsys):
    from bench.row_quality import pick

    corpora = common.full_settings().quality_corpora
    assert [corpus.key for corpus in corpora] == ["e-commerce", "kosarak", "builtin-small", "nowplaying"]
    picked = pick(corpora, "Nowplaying, builtin-small")
    assert [corpus.name for corpus in picked] == ["builtin small", "#nowplaying"] and picked[1].music
    with pytest.raises(ValueError, match="row 8's corpora are e-commerce, kosarak"):
        pick(corpora, "kosarak,movielens")
    assert benchmark_module.main(["--rows", "8", "--quality-corpora", "movielens", "--output", "-"]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "movielens" in error[0]


def test_row_8_derives_its_extra_corpora_from_the_shared_sessions(tmp_path):
    from bench.row_quality import QualityCorpus, judge, pick, read_outcome

    derived = common.derived_quality_corpora()
    assert [corpus.key for corpus in derived] == ["kosarak-shuffled", "nowplaying-10k"] and derived[1].music
    assert pick(common.full_settings().quality_corpora + derived, "kosarak-shuffled") == derived[:1]
    sessions = tmp_path / "sessions.txt"
    lines = [" ".join(str(item) for item in range(start, start + 12)) for start in range(30)]
    sessions.write_text("\n".join(lines[:10]) + "\n   \n" + "\n".join(lines[10:]) + "\n")  # a blank line skipped
    out = tmp_path / "out"
    out.mkdir()
    shuffled = QualityCorpus("shuffled", str(sessions), derive=derived[0].derive)
    written = Path(shuffled.data(out)).read_text().splitlines()
    assert [sorted(line.split()) for line in written] == [sorted(line.split()) for line in lines]  # the same items
    assert written != lines and written == Path(shuffled.data(tmp_path)).read_text().splitlines()  # seeded
    first = QualityCorpus("first", str(sessions), derive=derived[1].derive)
    assert Path(first.data(out)).read_text().splitlines() == lines  # 30 sessions: fewer than 10,000, all kept
    assert QualityCorpus("as is", str(sessions)).data(out) == str(sessions)

    # a derived corpus' winner must beat popularity too, where it is the best baseline
    metrics = {"winner_test_ndcg_at_10": 0.31, "sr_test_ndcg_at_10": 0.29, "ar_test_ndcg_at_10": 0.30,
               "popularity_test_ndcg_at_10": 0.32}
    (tmp_path / "model.json").write_text(json.dumps({"hyperparameters": {}, "metrics": metrics}))
    assert judge(read_outcome(shuffled, tmp_path, 1.0)) == [("winner / max(SR, AR, popularity)", 0.31, 0.32, False)]


def test_machine_and_versions_name_what_the_report_needs():
    assert {"CPU", "cores", "RAM"} <= set(common.machine_info())
    assert {"python", "numpy", "tensorflow", "keras", "ray", "optuna", "gensim"} <= set(common.versions())


# --- row helpers ----------------------------------------------------------------------


def test_retrieval_helpers():
    ours = np.array([[1, 2, 3], [4, 5, 6]])
    assert row_retrieval.agreement(ours, np.array([[1, 2, 3], [4, 6, 5]])) == (0.5, 1.0)


def test_lists_that_differ_only_between_tied_items_count_as_the_same():
    unit = np.array([[1.0, 0.0], [0.6, 0.8], [0.6, -0.8], [0.0, 1.0]], dtype=np.float32)  # 1 and 2 tie for 0
    queries = np.array([0, 0])
    same = row_retrieval.same_up_to_ties(unit, queries, np.array([[1, 2], [1, 3]]), np.array([[2, 1], [3, 1]]))
    assert same.tolist() == [True, False]
    chunks = row_retrieval.query_chunks(10, 4, 3)
    assert [(c.start, c.stop) for c in chunks] == [(0, 4), (4, 8), (8, 10)]
    _, queries, pairs = row_retrieval.random_problem(50, 4, 20)
    assert len(set(queries)) == 20 and (pairs[:, 0] != pairs[:, 1]).all()


def test_training_helpers(tiny_corpus):
    assert row_training.interleaved_schedule(3, 2) == [None, 0, 1, None, 2]
    assert row_training.interleaved_schedule(4, 3).count(None) == 3
    default = row_training.train_config(common.DEFAULT, 5)
    sgd = row_training.train_config(common.Variant("sgd", 8192), 5)
    assert default.window == common.PAPER["window"] and default.epochs == 5
    assert (sgd.architecture, sgd.learning_rate, sgd.batch_size) == ("sgns", 0.025, 8192)


def test_row_3_profiles_the_large_vocabularys_default_the_softmax(tiny_corpus, monkeypatch):
    """Row 3 profiles its default configuration's stages; from SPARSE_FROM_ITEMS items that is the softmax, whose
    loss and metric the what-if model (one step per call) keeps."""
    import track2vec.config

    monkeypatch.setattr(track2vec.config, "SPARSE_FROM_ITEMS", 1)  # the tiny corpus trains the large recipe
    assert row_training.train_config(common.DEFAULT, 1).resolved(len(tiny_corpus.vocabulary)).architecture == "softmax"
    what_if = row_training.with_steps_per_execution(tiny_corpus, common.DEFAULT, 1)
    assert what_if.steps_per_execution == 1 and what_if.get_layer("softmax_logits") is not None
    result = row_training.profile(tiny_corpus, common.DEFAULT, rounds=1)
    assert set(result["seconds"]) == set(row_training.PROFILE_STAGES)
    assert all(seconds > 0 for seconds in result["seconds"].values()) and result["pairs"] > 0


def test_time_to_quality_and_best_run():
    fast = row_training.OursRun(common.DEFAULT, "a", 1.0, [row_training.EpochRecord(1, 2.0, 0.1, 10, 5.0, 0.10),
                                                          row_training.EpochRecord(2, 2.0, 0.1, 10, 5.0, 0.20)])
    slow = row_training.OursRun(common.Variant("sgd", 8192), "b", 1.0, [row_training.EpochRecord(1, 9.0, 0.1, 10, 1.0, 0.3)])
    assert fast.time_to(0.15) == 5.0 and fast.epoch_reached(0.15) == 2 and fast.time_to(0.5) is None
    assert row_training.best_run([fast, slow], 0.15) is fast
    assert row_training.best_run([fast, slow], 0.9) is slow  # none reaches: the highest final NDCG


def test_tuning_curves():
    curve = row_tuning.best_so_far([0.1, 0.3, 0.2, 0.4])
    assert curve == [0.1, 0.3, 0.3, 0.4]
    assert row_tuning.first_reaching(curve, 0.3) == 2 and row_tuning.first_reaching(curve, 0.5) is None
    assert row_tuning.value_at(curve, 10) == 0.4 and row_tuning.value_at([], 1) is None
    assert row_tuning.budgets(36, 19)[-1] == 36 and 9 in row_tuning.budgets(36, 19)


def test_epoch_events_are_read_in_finishing_order(tmp_path):
    for trial, rows in {"trial_a": [(10, 1, 0.1), (14, 2, 0.3)], "trial_b": [(12, 1, 0.2)]}.items():
        (tmp_path / trial).mkdir()
        lines = [json.dumps({"timestamp": t, "epoch": e, "val_ndcg_at_10": v, "trial_id": trial}) for t, e, v in rows]
        (tmp_path / trial / "result.json").write_text("\n".join(lines) + "\n")
    events = studies.epoch_events(tmp_path)
    assert [(e.trial, e.epoch) for e in events] == [("trial_a", 1), ("trial_b", 1), ("trial_a", 2)]
    assert studies.FINISHED.search("track2vec-tune: study 'x' finished in 18 s").group(1) == "18"


def test_peak_concurrency_counts_trials_training_at_the_same_moment(tmp_path):
    # (end timestamp, total seconds) of each trial's last result: a [0, 10], b [5, 12], c [10, 20], d [21, 22]
    for trial, (end, total) in {"a": (10, 10), "b": (12, 7), "c": (20, 10), "d": (22, 1)}.items():
        (tmp_path / trial).mkdir()
        rows = [{"timestamp": end - total / 2, "time_total_s": total / 2}, {"timestamp": end, "time_total_s": total}]
        (tmp_path / trial / "result.json").write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    assert row_gpu.peak_concurrency(tmp_path) == 2  # a and b, then b and c (a ends as c starts)
    assert row_gpu.peak_concurrency(tmp_path / "missing") == 0


def test_child_environment_sets_and_removes_variables(monkeypatch):
    monkeypatch.setenv("TRACK2VEC_TEST_KEEP", "1")
    monkeypatch.setenv("TRACK2VEC_TEST_DROP", "1")
    environment = common.child_environment({"TRACK2VEC_TEST_DROP": None, "TRACK2VEC_TEST_NEW": "x"})
    assert environment["TRACK2VEC_TEST_KEEP"] == "1" and environment["TRACK2VEC_TEST_NEW"] == "x"
    assert "TRACK2VEC_TEST_DROP" not in environment


def test_resource_helpers(tiny_corpus):
    from tune.search_space import build_space

    space = build_space(tomllib.loads(row_resources.fixed_study_config("builtin:tiny")))
    assert list(space.distributions) == ["alpha"]
    assert space.fixed["architecture"] == "tied-cosine" and space.fixed["batch_size"] == 4096  # the small recipe
    part = common.truncated(tiny_corpus, 10)
    assert part.n_playlists == 10 and len(part.tokens) == part.offsets[-1] and len(part.counts) == len(tiny_corpus.counts)
    assert tiny_corpus.nbytes >= tiny_corpus.tokens.nbytes + tiny_corpus.vocabulary.counts.nbytes
    summary = "Plasma memory usage 19 MiB, 1 objects, 0.28% full"
    assert row_resources.PLASMA.search(summary).groups() == ("19", "1")
    assert set(row_resources.largest_config()) == {"dim", "batch_size", "negatives", "window"}


def test_comparison_picks_best_and_default():
    record = row_training.EpochRecord
    default = row_training.OursRun(common.DEFAULT, "default", 1.0, [record(1, 10.0, 0.1, 100, 10.0, 0.2)])
    fast = row_training.OursRun(common.Variant("sgd", 8192), "sgd", 1.0, [record(1, 2.0, 0.1, 100, 50.0, 0.25)])
    gensim = [row_training.GensimRun(0.5, 3.5, 500, 0.22, 0.3, "cosine"),
              row_training.GensimRun(0.5, 5.5, 500, 0.24, 0.3, "cosine")]
    comparison = row_training.Comparison("set", 1, gensim, [default, fast])
    assert comparison.target == pytest.approx(0.23) and comparison.gensim_seconds == 5.0
    assert [label for label, _ in comparison.shown()] == ["best", "default"] and comparison.shown()[0][1] is fast
    report = common.RowReport(3, "training")
    row_training.add_measures(report, comparison)
    assert len(report.measures) == 6 and report.measures[2].met is True and report.measures[3].met is False
    assert any("pair-count check" in line for line in row_training.comparison_lines(comparison, 400.0))


def test_peak_memory_helpers():
    meter = row_resources.PeakMeter(interval=0.001)
    meter.enter("allocate")
    block = np.ones(8 * 2**20, dtype=np.uint8)
    peaks = meter.stop()
    assert peaks["allocate"] >= block.nbytes and set(peaks) == {"python, numpy, psutil", "allocate"}
    peak = row_resources.peak_rss()
    # The kernel batches per-thread RSS counters (up to 64 pages each), so VmHWM may
    # trail a sampled RSS by a few pages; the 8 MiB block is far larger than that slack.
    assert peak is None or peak >= peaks["allocate"] - 2**20


def test_quality_row_judges_each_corpus_by_its_target(tmp_path):
    from bench.row_quality import QualityCorpus, judge, read_outcome

    metrics = {"winner_test_ndcg_at_10": 0.20, "sr_test_ndcg_at_10": 0.21, "ar_test_ndcg_at_10": 0.19,
               "blend_test_ndcg_at_10": 0.225, "winner_val_ndcg_at_10": 0.2}
    (tmp_path / "model.json").write_text(json.dumps({
        "hyperparameters": {"architecture": "sgns", "dim": 64, "seed": 0}, "metrics": metrics,
        "scoring": {"method": "target-context", "popularity_weight": 1.5}, "baselines": {"sr": {"steps": 3}}}))
    plain = read_outcome(QualityCorpus("kosarak", "k.txt"), tmp_path, 60.0)
    assert "target-context + 1.5 log(count)" in plain.winner and "seed" not in plain.winner
    assert judge(plain) == [("winner / max(SR, AR)", 0.20, 0.21, False)]
    music = read_outcome(QualityCorpus("music", "m.txt", music=True), tmp_path, 60.0)
    assert [(what, met) for what, _, _, met in judge(music)] == [
        ("winner / AR", True), ("winner / (0.9 x SR)", True), ("blend / (1.05 x SR)", True)]
    assert plain.interval_lines() == []  # an export without intervals (older) prints none


def test_quality_row_means_each_target_over_the_seeds(tmp_path):
    from bench.row_quality import QualityCorpus, across_seeds, read_outcome

    def outcome(seed, winner, sr, ar, corpus):
        folder = tmp_path / str(seed)
        folder.mkdir(exist_ok=True)
        metrics = {"winner_test_ndcg_at_10": winner, "sr_test_ndcg_at_10": sr, "ar_test_ndcg_at_10": ar}
        (folder / "model.json").write_text(json.dumps({"hyperparameters": {"seed": seed}, "metrics": metrics}))
        return read_outcome(corpus, folder, 60.0)

    plain = QualityCorpus("e-commerce", "e.npy")
    # seed 0's test half favours AR, seed 1's does not: the winner meets max(SR, AR) on one seed of two
    runs = [outcome(0, 0.190, 0.192, 0.198, plain), outcome(1, 0.196, 0.192, 0.194, plain)]
    [(what, ours, reference, met, judged)] = across_seeds(runs)
    assert what == "winner / max(SR, AR)" and (met, judged) == (1, 2)
    assert ours == pytest.approx(0.193) and reference == pytest.approx(0.196)
    music = QualityCorpus("music", "m.txt", music=True)
    targets = across_seeds([outcome(2, 0.10, 0.105, 0.09, music)])  # no blend in the export: two targets
    assert [(what, met, judged) for what, _, _, met, judged in targets] == [
        ("winner / AR", 1, 1), ("winner / (0.9 x SR)", 1, 1)]


def test_quality_row_prints_the_exports_interval_of_winner_minus_best_baseline(tmp_path):
    from bench.row_quality import QualityCorpus, read_outcome
    from track2vec.intervals import paired_bootstrap
    from tune.intervals import StudyIntervals

    ranks = {"winner": np.array([0, 1, 12, 3] * 50), "sr": np.array([2, 0, 30, 20] * 50)}
    bootstrap = paired_bootstrap(ranks, differences=[("winner", "sr")], resamples=200)
    (tmp_path / "model.json").write_text(json.dumps({
        "hyperparameters": {"architecture": "softmax"}, "metrics": {},
        "intervals": StudyIntervals(bootstrap, None, "sr").as_dict()}))
    lines = read_outcome(QualityCorpus("kosarak", "k.txt"), tmp_path, 60.0).interval_lines()
    difference = [line for line in lines if line.startswith("Winner − best baseline on validation")]
    assert len(difference) == 1 and "NDCG@10 +" in difference[0]


def test_the_optuna_storage_row_drives_trials_as_the_driver_does():
    ends = row_optuna_storage.stop_epochs(40)
    assert set(ends) <= {1, 3, row_optuna_storage.MAX_EPOCHS} and len(set(ends)) > 1

    class Recorder:
        def __init__(self):
            self.calls, self.running, self.most = [], set(), 0

        def suggest(self, trial_id):
            self.calls.append(("suggest", trial_id, 0))
            self.running.add(trial_id)
            self.most = max(self.most, len(self.running))

        def on_trial_result(self, trial_id, result):
            self.calls.append(("result", trial_id, result["epoch"]))

        def on_trial_complete(self, trial_id, result):
            self.calls.append(("complete", trial_id, result["epoch"]))
            self.running.discard(trial_id)

    search = Recorder()
    reported = row_optuna_storage.drive_study(search, ends)
    assert reported == sum(ends) and search.most == row_optuna_storage.IN_FLIGHT
    for number, end in enumerate(ends):
        calls = [(kind, epoch) for kind, trial_id, epoch in search.calls if trial_id == f"t{number:04d}"]
        assert calls == [("suggest", 0), *(("result", e) for e in range(1, end)), ("complete", end)]


def test_the_transfer_row_counts_what_each_side_trained(tmp_path):
    from bench import row_transfer
    from bench.row_transfer import TransferPlan, training_seconds

    plan = common.quick_settings().transfer
    assert isinstance(plan, TransferPlan) and plan.fraction == 0.1 and plan.runs
    # the study on all the data gets the warm-started trials plus the sample's, scaled by the fraction
    assert plan.full_trials == plan.warm_trials + 1
    assert TransferPlan(0.1, 20, 6, 3, 6, (("builtin", 0),)).full_trials == 8
    assert common.full_settings().transfer.runs == (("builtin", 0), ("builtin", 1), ("builtin", 2),
                                                    (common.KOSARAK, 0))
    assert [row_transfer.corpus_name(data) for data, _ in common.full_settings().transfer.runs] == \
        ["builtin", "builtin", "builtin", "kosarak_sessions"]
    for trial, seconds in (("a", [1.5, 0.5]), ("b", [2.0])):
        (tmp_path / f"trial_{trial}").mkdir()
        (tmp_path / f"trial_{trial}" / "result.json").write_text(
            "".join(json.dumps({"epoch": i + 1, "train_seconds": s}) + "\n" for i, s in enumerate(seconds)))
    assert training_seconds(tmp_path) == (4.0, 3)


def test_row_10_writes_slices_the_mpd_reader_reads_back_and_reenacts_the_former_vocabulary(tmp_path, monkeypatch):
    from track2vec.corpus import build_corpus
    from track2vec.data import builtin
    from track2vec.data.loaders import load_playlists

    monkeypatch.setenv("TRACK2VEC_CACHE", str(tmp_path / "cache"))
    directory = tmp_path / "slices"
    directory.mkdir()
    written = row_corpus.write_slices("builtin:mpd:2000", directory)
    assert sorted(p.name for p in directory.iterdir()) == ["mpd.slice.0-999.json", "mpd.slice.1000-1999.json"]
    assert written["bytes"] == sum(p.stat().st_size for p in directory.iterdir())
    generated = builtin.generate("mpd:2000", 0)
    read = load_playlists(str(directory))
    assert len(read) == 2000 and np.array_equal(read.offsets, generated.offsets)
    # the same playlists up to renaming: track k <-> its URI, one to one
    uri_of = {}
    for track, uri in zip(generated.tracks.tolist(), read.names[read.tokens].tolist()):
        assert uri_of.setdefault(track, uri) == uri
    assert len(set(uri_of.values())) == len(uri_of)
    playlists = load_playlists("builtin:tiny")
    former = row_corpus.former_vocabulary(playlists)
    now = build_corpus(playlists).vocabulary
    assert former.items.tolist() == now.items.tolist() and former.counts.tolist() == now.counts.tolist()
    assert row_corpus.spec(1_000_000) == "builtin:mpd" and row_corpus.spec(5000) == "builtin:mpd:5000"
    # the full run ends at the dataset's size, where the targets apply
    assert common.full_settings().mpd_playlists[-1] == row_corpus.FULL_PLAYLISTS


def test_cluster_scaling_model_is_read_off_a_run_and_projects_by_waves_of_trials():
    """scripts/measure_cluster_scaling.py: study = serial + overhead + ceil(trials / concurrent) x trial."""
    scaling = load_script("measure_cluster_scaling")

    # 8 trials of 10-14 s on 2 nodes: 4 waves of their mean (12 s), 3 s of loop beyond them, 7 s outside it
    run = scaling.Run(nodes=2, concurrent=2, wall=58.0, loop=51.0, trial_seconds=[10.0, 14.0] * 4)
    model = scaling.Model.of_run(run, trials=8)
    assert (model.serial, model.trial, model.overhead) == pytest.approx((7.0, 12.0, 3.0))
    assert model.wall(8, 2) == pytest.approx(run.wall)  # it gives its own run back
    # 3 slots run 8 trials in 3 waves, 8 or more in one: more slots than trials do not help
    assert [scaling.waves(8, slots) for slots in (1, 3, 8, 16)] == [8, 3, 1, 1]
    assert model.wall(8, 3) == pytest.approx(7.0 + 3.0 + 3 * 12.0)
    assert model.wall(8, 16) == model.wall(8, 8) < model.wall(8, 4)


def test_study_cpu_sorts_processes_into_driver_daemons_and_workers_and_splits_first_epochs(tmp_path):
    measure = load_script("measure_study_cpu")
    assert measure.role("python -m tune.cli run --data builtin:tiny", driver_pid=7, pid=7).startswith("driver")
    assert measure.role("ray::ImplicitFunc.train", driver_pid=7, pid=8) == "trial workers"
    assert measure.role(".../ray/core/src/ray/raylet/raylet --raylet_socket_name=x", driver_pid=7, pid=9) == "Ray's daemons"
    assert measure.role(".../ray/dashboard/agent.py --node-id=x", driver_pid=7, pid=10) == "Ray's daemons"
    for trial, epochs in (("a", [(1, 4.0), (2, 0.5), (3, 0.4)]), ("b", [(1, 5.0)])):
        (tmp_path / f"trial_{trial}").mkdir()
        (tmp_path / f"trial_{trial}" / "result.json").write_text(
            "".join(json.dumps({"epoch": epoch, "train_seconds": seconds}) + "\n" for epoch, seconds in epochs))
    first, later = measure.first_and_later_epochs(tmp_path)
    assert sorted(first) == [4.0, 5.0] and sorted(later) == [0.4, 0.5]


def test_where_counts_win_parses_settings_and_splits_pairs_into_quartiles_with_their_means():
    measure = load_script("measure_where_counts_win")
    assert measure.parse_settings(["dim=97", "shrink_windows=true", "alpha=-0.49", "architecture=softmax",
                                   "popularity_weight=0.5"]) == {
        "dim": 97, "shrink_windows": True, "alpha": -0.49, "architecture": "softmax", "popularity_weight": 0.5}
    with pytest.raises(SystemExit, match="unknown setting 'dims'"):
        measure.parse_settings(["dims=4"])
    # fields that may be None (TrainConfig's "int | None") convert like the others
    assert measure.parse_settings(["batch_size=7126", "learning_rate=0.012", "shared_rows=none"]) == {
        "batch_size": 7126, "learning_rate": 0.012, "shared_rows": None}
    with pytest.raises(SystemExit, match="batch_size must be a whole number, got '7k'"):
        measure.parse_settings(["batch_size=7k"])
    counts = np.array([1, 1, 2, 3, 5, 8, 13, 21])
    parts = measure.quartile_parts(counts)
    assert len(parts) == 4 and sum(mask.sum() for _, mask in parts) == len(counts)
    assert all(not (a & b).any() for i, (_, a) in enumerate(parts) for _, b in parts[i + 1:])
    assert [counts[mask].tolist() for _, mask in parts] == [[1, 1], [2, 3], [5, 8], [13, 21]]
    gains = {"sr": np.array([1.0, 0, 0, 0, 0, 0, 0, 0.5]), "embedding": np.zeros(8)}
    rows = measure.gains_by_part(gains, parts)
    assert rows[0][1] == 2 and rows[0][2]["sr"] == pytest.approx(0.5) and rows[3][2]["sr"] == pytest.approx(0.25)
    assert rows[0][2]["embedding"] == 0.0


def test_where_counts_win_splits_pairs_by_what_their_own_playlist_already_holds():
    measure = load_script("measure_where_counts_win")
    # training parts of three playlists; each pair ends one of them
    tokens = np.array([1, 2, 3, 4, 5, 9, 8, 7, 1, 5, 6])
    offsets = np.array([0, 5, 8, 11])
    pairs = np.array([[5, 4], [7, 8], [1, 9], [6, 1], [5, 2]])
    playlists = np.array([0, 1, 0, 2, 2])
    parts = dict(measure.own_history_parts(tokens, offsets, pairs, playlists, steps=1))
    assert parts["pair within 1"].tolist() == [True, True, False, False, False]
    assert parts["answer elsewhere"].tolist() == [False, False, False, True, False]  # 1 two steps before 6
    assert parts["answer new"].tolist() == [False, False, True, False, True]
    parts = dict(measure.own_history_parts(tokens, offsets, pairs, playlists, steps=2))
    assert parts["pair within 2"].tolist() == [True, True, False, True, False]
    assert not parts["answer elsewhere"].any()


def test_count_signals_rebuild_the_fitted_ar_and_count_whole_playlists():
    """The script's co-occurrence at AR's own steps and weighting is the library's AR in the queries' rows (what
    its 'ar (as fitted)' line checks on a corpus), and its cosine is that of the playlists holding each item."""
    from track2vec.baselines import RuleSettings, rules, transition_counts, weighted_counts

    measure = load_script("measure_count_signals")
    tokens = np.array([0, 1, 2, 3, 1, 0, 4, 2, 4, 4, 1])
    offsets = np.array([0, 4, 8, 11])
    size, queries = 5, np.array([0, 1, 4])
    library = weighted_counts(rules(transition_counts(tokens, offsets, size, 3), RuleSettings("ar", 3, "div")))
    script = measure.cooccurrence(tokens, offsets, size, queries, 3, "div")
    assert np.allclose(script.toarray()[queries], library.toarray()[queries])
    assert not script.toarray()[[2, 3]].any()  # only the queries' rows are counted
    # the whole playlist: the longest reach (3) and beyond it give the same counts
    assert np.allclose(measure.cooccurrence(tokens, offsets, size, queries, None, "same").toarray(),
                       measure.cooccurrence(tokens, offsets, size, queries, 50, "same").toarray())
    holds = np.zeros((3, size))
    for playlist in range(3):
        holds[playlist, tokens[offsets[playlist]:offsets[playlist + 1]]] = 1
    norms = np.sqrt(holds.sum(axis=0))
    expected = (holds.T @ holds) / np.outer(norms, norms)
    assert np.allclose(measure.playlist_cosine(tokens, offsets, size, queries).toarray()[queries], expected[queries])


def test_ensemble_holdout_chooses_on_half_a_and_scores_the_same_choice_on_half_b():
    """Two models that each know every other pair: the ensemble chosen on half A knows all of half B, the best
    model alone half of it; a model without context vectors is scored by cosine, the one scoring it allows."""
    from track2vec.evaluation import evaluate_with
    from track2vec.scoring import POPULARITY_WEIGHTS, Vectors

    measure = load_script("measure_ensemble_holdout")
    rng = np.random.default_rng(0)
    items, queries, dim = 80, 40, 40  # a direction of its own for every pair
    pairs = np.stack([np.arange(queries), rng.permutation(np.arange(queries, items))[:queries]], axis=1)
    counts = np.ones(items, dtype=np.int64)
    models = []
    for parity in (0, 1):
        targets = rng.normal(scale=0.01, size=(items, dim)).astype(np.float32)
        contexts = rng.normal(scale=0.01, size=(items, dim)).astype(np.float32)
        for position, (query, answer) in enumerate(pairs):
            if position % 2 == parity:
                targets[query, position % dim] += 3
                contexts[answer, position % dim] += 3
        models.append(Vectors(targets, contexts, np.zeros(items, dtype=np.float32)))
    even, odd = pairs[::2], pairs[1::2]
    half_a, half_b = np.vstack([even[:10], odd[:12]]), np.vstack([even[10:], odd[12:]])  # B: 10 even, 8 odd
    result = measure.holdout(models, ["target-context"], POPULARITY_WEIGHTS, counts, half_a, half_b)
    assert result.selection.members == (0, 1)  # the model knowing more of half A first, the other joins
    assert result.ensemble_b == pytest.approx(1.0) and result.single_b == pytest.approx(8 / 18, abs=0.05)
    assert result.single_a == pytest.approx(evaluate_with(models[1].score_table("target-context", counts), half_a).ndcg)
    assert result.selection.validation_ndcg == pytest.approx(1.0)
    cosine_only = Vectors(models[0].embeddings)
    alone = measure.best_alone([cosine_only, models[0]], ["cosine", "target-context"], counts, half_a, POPULARITY_WEIGHTS)
    assert alone[0][1].method == "cosine" and alone[1][1].method == "target-context"


def test_search_bounds_count_the_trials_each_default_bound_leaves_out():
    """Trials placed by today's default bounds; one from a study that searched learning_rate itself is placed by
    the rate of 1,024 pairs it implies."""
    measure = load_script("measure_search_bounds")
    inside = {"alpha": 0.5, "subsample": 1e-3, "lr_at_batch_1024": 5e-3, "batch_size": 4096}
    points = [
        measure.TrialPoint("a", dict(inside), good=True, poor=False),
        measure.TrialPoint("a", {**inside, "alpha": -1.2}, good=False, poor=True),
        measure.TrialPoint("b", {**inside, "subsample": 1e-5, "alpha": -1.3}, good=False, poor=True),
        # before the square-root rule: lr 0.08 at batch 256 is 0.16 for 1,024 pairs, far above the range
        measure.TrialPoint("b", {"alpha": 0.5, "subsample": 1e-3, "learning_rate": 0.08, "batch_size": 256},
                           good=False, poor=False),
    ]
    assert points[3].lr_at_reference == pytest.approx(0.16) and points[0].learning_rate == pytest.approx(0.01)
    lines = measure.summary(points)
    assert lines[0] == "4 trials of 2 studies: 1 good, 2 poor"
    assert "learning_rate 1.00e-02-1.00e-02 (1x), lr_at_batch_1024 5.00e-03-5.00e-03 (1x)" in lines[1]
    counted = {line.split(" leaves out ")[0].strip(): line.split(" leaves out ")[1] for line in lines[2:]}
    assert counted["alpha below -1"] == "  2: 0 good, 2 poor"
    assert counted["subsample below 3e-05"] == "  1: 0 good, 1 poor"
    assert counted["lr_at_batch_1024 outside 0.0012-0.02"] == "  1: 0 good, 0 poor"
    assert counted["all bounds together"] == "  3: 0 good, 2 poor"


def test_search_bounds_refuse_a_missing_study_with_one_line(tmp_path, capsys):
    measure = load_script("measure_search_bounds")
    assert measure.main(["--storage", str(tmp_path), "--names", "none"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("measure_search_bounds: error: ") and "\n" not in err


def test_event_log_load_measurement_loads_the_same_playlists_on_every_side(capsys):
    measure = load_script("measure_event_log_load")
    assert measure.main(["--sessions", "300", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "every side loaded the same playlists" in out
    assert all(side in out for side in measure.SIDES)
