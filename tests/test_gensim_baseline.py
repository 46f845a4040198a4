"""gensim's skip-gram as a baseline (``track2vec.gensim_baseline``, ``track2vec baselines --gensim``)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from track2vec.cli import main
from track2vec.corpus import build_corpus
from track2vec.data.loaders import load_playlists
from track2vec.errors import ConfigError
from track2vec.evaluation import evaluate
from track2vec.gensim_baseline import (GENSIM_DEFAULTS, choose_scoring, gensim_baseline, gensim_vectors,
                                       train_gensim, training_sentences)

pytest.importorskip("gensim")  # the test extra installs it


@pytest.fixture(scope="module")
def tiny_corpus():
    return build_corpus(load_playlists("builtin:tiny", 0), 2, 10_000, 10_000, 0)


def test_sentences_are_the_training_playlists_and_vectors_follow_our_ids(tiny_corpus):
    sentences = training_sentences(tiny_corpus)
    assert len(sentences) == tiny_corpus.n_playlists and sentences[0][0] == str(tiny_corpus.tokens[0])

    class FakeModel:
        vector_size = 2

        class wv:
            index_to_key = ["2", "0"]
            vectors = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)

    assert gensim_vectors(FakeModel, 3).tolist() == [[3, 4], [0, 0], [1, 2]]  # item 1 unseen: zeros


def test_gensim_is_scored_as_ours_are_with_its_output_vectors(tiny_corpus):
    """Input-input cosine is one of the scorings tried, the output vectors (syn1neg) give the others,
    and the best on validation is kept."""
    model = train_gensim(tiny_corpus, seed=0, vector_size=16, window=3, epochs=3)
    size = len(tiny_corpus.counts)
    inputs, outputs = gensim_vectors(model, size), gensim_vectors(model, size, model.syn1neg)
    assert outputs.shape == (size, 16) and not np.allclose(outputs, inputs)
    chosen = choose_scoring(inputs, outputs, tiny_corpus)
    assert chosen.metrics.ndcg >= evaluate(inputs, tiny_corpus.validation_pairs).ndcg


def test_the_baseline_is_reproducible_from_its_seed_and_records_its_settings(tiny_corpus):
    first = gensim_baseline(tiny_corpus, seed=3, epochs=2)
    again = gensim_baseline(tiny_corpus, seed=3, epochs=2)
    other = gensim_baseline(tiny_corpus, seed=4, epochs=2)
    assert np.array_equal(first.test_ranks, again.test_ranks) and first.validation == again.validation
    assert not np.array_equal(first.test_ranks, other.test_ranks)
    assert first.settings == {**GENSIM_DEFAULTS, "epochs": 2, "seed": 3, "scoring": first.settings["scoring"]}
    assert 0 < first.validation.ndcg <= 1 and first.test.pairs == len(tiny_corpus.test_pairs)
    assert first.label == f"word2vec by gensim (skip-gram, its defaults), ranked by {first.settings['scoring']}"


def test_the_same_seed_trains_the_same_vectors_in_another_process(tiny_corpus):
    """gensim seeds each vector from a hash of its word; Python's own string hash changes between processes."""
    code = ("import sys; from track2vec.corpus import build_corpus; from track2vec.data.loaders import load_playlists;"
            "from track2vec.gensim_baseline import gensim_baseline;"
            "c = build_corpus(load_playlists('builtin:tiny', 0), 2, 10_000, 10_000, 0);"
            "print(gensim_baseline(c, seed=3, epochs=2).validation.ndcg)")
    runs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": str(hash_seed), "PATH": ""}).stdout.strip() for hash_seed in (1, 2)}
    assert runs == {str(gensim_baseline(tiny_corpus, seed=3, epochs=2).validation.ndcg)}


def test_baselines_command_adds_gensim_beside_the_counts(capsys):
    assert main(["baselines", "--data", "builtin:tiny", "--gensim", "--json"]) == 0
    report = json.loads(capsys.readouterr().out.splitlines()[-1])  # after the corpus line
    assert list(report) == ["popularity", "sr", "ar", "gensim"]
    assert report["gensim"]["settings"]["vector_size"] == GENSIM_DEFAULTS["vector_size"]
    assert report["gensim"]["test"]["pairs"] == report["sr"]["test"]["pairs"]  # the same pairs
    assert main(["baselines", "--data", "builtin:tiny", "--gensim"]) == 0
    assert "word2vec by gensim (skip-gram, its defaults)" in capsys.readouterr().out


def test_without_gensim_installed_it_is_one_config_error(tiny_corpus, monkeypatch):
    monkeypatch.setitem(sys.modules, "gensim.models", None)  # import fails as if gensim were absent
    with pytest.raises(ConfigError, match="needs gensim: pip install gensim"):
        gensim_baseline(tiny_corpus)


def test_a_study_run_with_gensim_asked_and_gensim_absent_is_refused_before_it_starts(tmp_path, monkeypatch, capsys):
    import tune.cli

    monkeypatch.setitem(sys.modules, "gensim.models", None)
    assert tune.cli.main(["run", "--data", "builtin:tiny", "--gensim", "--storage", str(tmp_path), "--name", "s"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line == "track2vec-tune: error: the gensim baseline needs gensim: pip install gensim"
    assert list(tmp_path.iterdir()) == []  # nothing written


@pytest.mark.slow
def test_export_with_gensim_shows_it_beside_the_counts_everywhere(tiny_study, tmp_path, capsys):
    """``export --gensim`` scores gensim's defaults as ``track2vec baselines --gensim`` does, and the summary,
    the intervals, ``model.json``, ``status`` and the report show it beside SR and AR."""
    import shutil

    import tune.cli
    from tune import driver
    from tune.study import Study

    assert tiny_study.code == 0, tiny_study.out
    storage = tmp_path / "studies"
    shutil.copytree(tiny_study.storage / tiny_study.name, storage / tiny_study.name)
    location = ["--name", tiny_study.name, "--storage", str(storage)]
    assert tune.cli.main(["export", *location, "--force", "--gensim"]) == 0
    out = capsys.readouterr().out
    spec = Study(str(storage), tiny_study.name).load_spec()
    expected = gensim_baseline(driver.load_corpus(spec), seed=spec.seed)
    assert f"Word2vec by gensim (skip-gram, its defaults): validation NDCG@10 {expected.validation.ndcg:.4f}" in out
    # its test interval
    assert f"- word2vec by gensim (skip-gram, its defaults): NDCG@10 {expected.test.ndcg:.4f} [" in out
    info = json.loads((storage / tiny_study.name / "export" / "model.json").read_text())
    assert info["metrics"]["gensim_val_ndcg_at_10"] == pytest.approx(expected.validation.ndcg)
    assert info["metrics"]["gensim_test_ndcg_at_10"] == pytest.approx(expected.test.ndcg)
    assert info["baselines"]["gensim"] == expected.settings
    assert tune.cli.main(["status", *location, "--json"]) == 0
    assert "gensim" in json.loads(capsys.readouterr().out)["exported_scores"]
    assert tune.cli.main(["report", *location]) == 0
    assert "word2vec by gensim (skip-gram, its defaults)" in (storage / tiny_study.name / "report.html").read_text()
