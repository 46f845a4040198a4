"""``track2vec train``: output, export, help, and one-line errors (exit 2) on bad input."""

from __future__ import annotations

import contextlib
import io
import json
import math
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from track2vec.cli import main
from track2vec.data.builtin import SIZES

REPO = Path(__file__).resolve().parents[1]

TRAIN_OPTIONS = [
    "--data", "--architecture", "--dim", "--window", "--negatives", "--shared-rows", "--alpha", "--subsample", "--batch-size",
    "--lr", "--optimizer", "--min-count", "--epochs", "--seed", "--validation-pairs", "--test-pairs",
    "--threads", "--out", "--force", "--word2vec-binary", "--json",
]


def run_main(argv: list[str]) -> tuple[int, str, str]:
    """``main(argv)`` in this process; Python warnings (Keras' own) are kept out of the captured stderr."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(argv)
    return code, stdout.getvalue(), stderr.getvalue()


def assert_one_line_error(code: int, stdout: str, stderr: str, phrase: str) -> None:
    assert code == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("track2vec: error: ") and phrase in lines[0], lines[0]
    assert "Traceback" not in stdout + stderr


# --- a real (tiny) training run --------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("train") / "export"
    code, stdout, stderr = run_main(["train", "--data", "builtin:tiny", "--epochs", "2", "--json", "--out", str(out),
                                     "--word2vec-binary"])
    return {"code": code, "stdout": stdout, "stderr": stderr, "out": out}


def test_train_prints_one_line_per_epoch_and_a_final_json_line(trained):
    assert trained["code"] == 0, trained["stderr"]
    lines = trained["stdout"].strip().splitlines()
    epochs = [line for line in lines if line.startswith("epoch ")]
    assert [line.split()[1] for line in epochs] == ["1/2", "2/2"]
    assert all("loss" in line and "val NDCG@10" in line and "val HR@10" in line for line in epochs)
    result = json.loads(lines[-1])
    for key in ("val_ndcg_at_10", "val_hr_at_10", "loss", "accuracy",
                "popularity_val_ndcg_at_10", "popularity_val_hr_at_10", "oracle_ndcg_at_10"):
        assert math.isfinite(result[key]), key
    assert result["epochs"] == 2
    assert result["optimizer"] == "adam"  # the default ("auto") on a vocabulary this small
    assert 0 < result["val_ndcg_at_10"] <= result["val_hr_at_10"] <= 1
    assert 0 < result["popularity_val_ndcg_at_10"] <= result["popularity_val_hr_at_10"] <= 1
    assert f"{result['val_ndcg_at_10']:.4f}" in epochs[-1]  # the last epoch line reports the final metric


def test_train_writes_a_consistent_export(trained):
    from track2vec.export import read_export

    assert trained["code"] == 0, trained["stderr"]
    export = read_export(trained["out"])
    info = export.info
    stats = info["data"]["stats"]
    assert export.embeddings.shape == (len(export.vocabulary), 50) == (stats["vocabulary_size"], 50)
    assert np.isfinite(export.embeddings).all() and np.abs(export.embeddings).sum() > 0
    assert export.vocabulary.artists is not None and all(a.startswith("artist_") for a in export.vocabulary.artists)
    assert list(export.vocabulary.counts) == sorted(export.vocabulary.counts, reverse=True)
    assert info["hyperparameters"]["epochs"] == 2 and info["hyperparameters"]["dim"] == 50
    assert {"window", "negatives", "alpha", "subsample", "learning_rate", "batch_size", "architecture"} <= set(info["hyperparameters"])
    # the "auto" settings as trained on this vocabulary, so that the export says what produced it
    hyperparameters = info["hyperparameters"]
    assert (hyperparameters["architecture"], hyperparameters["batch_size"], hyperparameters["learning_rate"]) == \
        ("tied-cosine", 4096, 0.02)
    assert "training: tied-cosine, adam, batch 4,096, lr 0.02 (auto settings chosen by vocabulary size)" in trained["stdout"]
    assert info["seed"] == 0 and info["min_count"] == 2
    assert info["data"]["fingerprint"] == "builtin:tiny:seed=0"
    assert info["metrics"] == json.loads(trained["stdout"].strip().splitlines()[-1])


def test_train_exports_word2vec_files_that_gensim_loads(trained):
    from track2vec.export import read_export

    gensim_models = pytest.importorskip("gensim.models")
    export = read_export(trained["out"])
    for name, binary in (("embeddings.w2v.txt", False), ("embeddings.w2v.bin", True)):
        vectors = gensim_models.KeyedVectors.load_word2vec_format(str(trained["out"] / name), binary=binary)
        assert vectors.index_to_key == export.vocabulary.items.tolist()  # track_<id> tokens need no escaping
        np.testing.assert_array_equal(vectors.vectors, export.embeddings)
    assert (trained["out"] / "projector" / "projector_config.pbtxt").is_file()


def test_exported_embeddings_reproduce_the_reported_validation_metrics(trained):
    from track2vec.corpus import build_corpus
    from track2vec.data.loaders import load_playlists
    from track2vec.evaluation import evaluate_with
    from track2vec.export import read_export

    export = read_export(trained["out"])
    corpus = build_corpus(load_playlists("builtin:tiny", 0), 2, 10_000, 10_000, 0)
    assert export.vocabulary.items.tolist() == corpus.vocabulary.items.tolist()
    assert export.scoring.as_dict() == export.info["scoring"]
    metrics = evaluate_with(export.score_table(), corpus.validation_pairs, export.scoring.popularity_weight, 10)
    assert metrics.ndcg == pytest.approx(export.info["metrics"]["val_ndcg_at_10"], abs=1e-6)
    assert metrics.hit_rate == pytest.approx(export.info["metrics"]["val_hr_at_10"], abs=1e-6)


# --- help ------------------------------------------------------------------------------------------


def test_help_lists_every_option(capsys):
    assert main(["train", "--help"]) == 0
    text = capsys.readouterr().out
    for option in TRAIN_OPTIONS:
        assert option in text, option
    assert main(["--help"]) == 0
    assert "train" in capsys.readouterr().out


def test_help_names_every_builtin_size(capsys):
    assert main(["train", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for size in SIZES:
        assert size in text, f"--help of --data does not mention builtin:{size}"


# --- bad input: exit 2, one line, nothing written --------------------------------------------------

BAD_INPUTS = {
    "missing-file": (lambda tmp: ["--data", str(tmp / "absent.npy")], "no such file"),
    "empty-file": (lambda tmp: ["--data", str(_write(tmp / "empty.txt", b""))], "is empty"),
    "directory": (lambda tmp: ["--data", str(tmp)], "is a directory"),
    "numeric-npy": (lambda tmp: ["--data", str(_save(tmp / "floats.npy", np.ones(5)))], "1-D object array"),
    "negative-window": (lambda tmp: ["--data", "builtin:tiny", "--window", "-1"], "window must be >= 1"),
    "zero-shared-rows": (lambda tmp: ["--data", "builtin:tiny", "--shared-rows", "0"], "shared_rows must be >= 1"),
    "zero-epochs": (lambda tmp: ["--data", "builtin:tiny", "--epochs", "0"], "epochs must be >= 1"),
    "negative-validation": (lambda tmp: ["--data", "builtin:tiny", "--validation-pairs", "-1"], "validation pairs"),
    "unknown-builtin": (lambda tmp: ["--data", "builtin:huge"], "unknown built-in size"),
    "min-count-zero": (lambda tmp: ["--data", "builtin:tiny", "--min-count", "0"], "min_count"),
    "artist-vectors-without-artists": (
        lambda tmp: ["--data", str(_write(tmp / "s.txt", b"a b c\nb c a\nc a b\na b c\n")), "--architecture", "softmax",
                     "--artist-vectors"], "names no artists"),
    "artist-vectors-tied": (lambda tmp: ["--data", "builtin:tiny", "--architecture", "tied-cosine", "--artist-vectors"],
                            "artist_vectors needs separate"),
    # Found only when exporting, after training: still one line, not an OSError traceback.
    "out-under-a-file": (
        lambda tmp: ["--data", "builtin:tiny", "--out", str(_write(tmp / "a_file", b"x") / "export")],
        "cannot create the export",
    ),
}


def _write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def _save(path: Path, array: np.ndarray) -> Path:
    np.save(path, array)
    return path


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_one_line_and_exit_2_and_writes_nothing(tmp_path, case):
    make_args, phrase = BAD_INPUTS[case]
    out = tmp_path / "out"
    # --epochs 1 first, so that a case may override it, and a bad input let through trains only briefly.
    code, stdout, stderr = run_main(["train", "--epochs", "1", "--out", str(out), *make_args(tmp_path)])
    assert_one_line_error(code, stdout, stderr, phrase)
    assert not out.exists()


def test_malicious_npy_is_refused_without_running_its_code(malicious_npy, tmp_path):
    path, sentinel = malicious_npy
    out = tmp_path / "out"
    code, stdout, stderr = run_main(["train", "--data", str(path), "--epochs", "1", "--out", str(out)])
    assert_one_line_error(code, stdout, stderr, "refusing to load")
    assert "builtins.open" in stderr
    assert not sentinel.exists() and not out.exists()


def test_existing_out_is_refused_without_force_and_left_untouched(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "embeddings.npy").write_bytes(b"previous export")
    code, stdout, stderr = run_main(["train", "--data", "builtin:tiny", "--epochs", "1", "--out", str(out)])
    assert_one_line_error(code, stdout, stderr, "already exists")
    assert "--force" in stderr
    assert [p.name for p in out.iterdir()] == ["embeddings.npy"]
    assert (out / "embeddings.npy").read_bytes() == b"previous export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.mark.parametrize("case", ["malicious-npy", "negative-window"])
def test_the_real_command_prints_only_the_error_line(tmp_path, request, case):
    """What a user sees in a terminal: stderr is the one error line, nothing else (no library log noise)."""
    if case == "malicious-npy":
        path, sentinel = request.getfixturevalue("malicious_npy")
        args, phrase = ["--data", str(path)], "refusing to load"
    else:
        sentinel = None
        args, phrase = ["--data", "builtin:tiny", "--window", "-1"], "window must be >= 1"
    out = tmp_path / "out"
    process = subprocess.run(
        [sys.executable, "-m", "track2vec.cli", "train", *args, "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert process.returncode == 2
    assert "Traceback" not in process.stderr
    assert not out.exists() and (sentinel is None or not sentinel.exists())
    lines = process.stderr.strip().splitlines()
    assert lines and lines[-1].startswith("track2vec: error: ") and phrase in lines[-1]
    assert len(lines) == 1, "stderr holds more than the error line:\n" + process.stderr


# --- the paper's setting on real data --------------------------------------------------------------


@pytest.mark.slow
def test_ecommerce_paper_setting_beats_the_popularity_baseline(ecommerce_npy):
    code, stdout, stderr = run_main([
        "train", "--data", str(ecommerce_npy), "--window", "3", "--subsample", "1e-3", "--alpha", "1.0",
        "--dim", "50", "--negatives", "5", "--epochs", "1", "--json",
    ])
    assert code == 0, stderr
    result = json.loads(stdout.strip().splitlines()[-1])
    assert result["val_ndcg_at_10"] > result["popularity_val_ndcg_at_10"]
    assert result["val_hr_at_10"] > result["popularity_val_hr_at_10"]
