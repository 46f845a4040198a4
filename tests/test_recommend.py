"""Playlist completion (``track2vec.recommend`` and ``track2vec recommend``) on real export files."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from track2vec.cli import main
from track2vec.errors import ConfigError, DataError
from track2vec.export import write_export
from track2vec.recommend import DEFAULT_QUERY, QUERY_STRATEGIES, Recommender, Suggestion
from track2vec.vocabulary import Vocabulary

ROOT = Path(__file__).resolve().parents[1]
CLI = [str(Path(sys.executable).parent / "track2vec")]
if not Path(CLI[0]).exists():
    CLI = [sys.executable, "-m", "track2vec.cli"]


def angle(degrees: float, length: float = 1.0) -> list[float]:
    radians = np.deg2rad(degrees)
    return [length * np.cos(radians), length * np.sin(radians), 0.0]


# Items on a circle in the x-y plane (angles in degrees); lengths differ, cosine ignores them.
ANGLES = {"a": 0, "b": 10, "c": 25, "d": 45, "e": 90, "f": 135, "g": 180, "h": 270}
ARTISTS = {"a": "artist_1", "b": "artist_1", "c": "artist_2", "d": "", "e": "artist_3",
           "f": "artist_3", "g": "artist_4", "h": "artist_4"}


def make_export(path: Path, artists: bool = True, architecture: str = "sgns") -> Path:
    items = list(ANGLES)
    vectors = np.array([angle(ANGLES[item], 1.0 + 0.5 * index) for index, item in enumerate(items)], dtype=np.float32)
    vocabulary = Vocabulary(
        np.array(items, dtype=str), np.arange(len(items), 0, -1, dtype=np.int64),
        np.array([ARTISTS[item] for item in items], dtype=str) if artists else None,
    )
    info = {"hyperparameters": {"architecture": architecture, "dim": 3}}
    return write_export(path, vectors, vocabulary, info)


@pytest.fixture()
def export_dir(tmp_path: Path) -> Path:
    return make_export(tmp_path / "model")


@pytest.fixture()
def recommender(export_dir: Path) -> Recommender:
    return Recommender.from_export(export_dir)


def names(suggestions: list[Suggestion]) -> list[str]:
    return [s.item for s in suggestions]


# ---------------------------------------------------------------- Python API


def test_last_query_gives_the_known_nearest_items(recommender):
    suggestions = recommender.complete(["a"], k=3, query="last")
    assert names(suggestions) == ["b", "c", "d"]
    assert [s.score for s in suggestions] == pytest.approx(np.cos(np.deg2rad([10, 25, 45])), abs=1e-6)
    assert suggestions[0] == Suggestion("b", pytest.approx(np.cos(np.deg2rad(10))), "artist_1")
    assert suggestions[2].artist is None  # "d" has no artist


def test_playlist_items_are_never_suggested_and_scores_are_sorted(recommender):
    for query in QUERY_STRATEGIES:
        suggestions = recommender.complete(["b", "a", "c"], k=5, query=query)
        assert len(suggestions) == 5
        assert not {"a", "b", "c"} & set(names(suggestions))
        scores = [s.score for s in suggestions]
        assert scores == sorted(scores, reverse=True)


def test_last_uses_the_last_item_and_mean_all_of_them(recommender):
    # last item "c" (25°): b (15° away) then d (20° away)
    assert names(recommender.complete(["e", "c"], k=2, query="last")) == ["b", "d"]
    # mean of 90° and 25° points at 57.5°: d (12.5° away) then b (47.5° away)
    suggestions = recommender.complete(["e", "c"], k=2, query="mean")
    assert names(suggestions) == ["d", "b"]
    assert suggestions[0].score == pytest.approx(np.cos(np.deg2rad(12.5)), abs=1e-6)


def test_recency_weights_recent_items_more(recommender):
    # a (0°) then e (90°): with decay 0.5 the query is at atan(0.5) ≈ 26.6° from e -> 63.4°
    suggestions = recommender.complete(["a", "e"], k=1, query="recency", decay=0.5)
    assert names(suggestions) == ["d"]
    assert suggestions[0].score == pytest.approx(np.cos(np.deg2rad(63.4349 - 45)), abs=1e-5)
    playlist = ["g", "a", "c", "e"]
    assert recommender.complete(playlist, 4, "recency", 0.0) == recommender.complete(playlist, 4, "last")
    assert names(recommender.complete(playlist, 4, "recency", 1.0)) == names(recommender.complete(playlist, 4, "mean"))


def test_unknown_items_are_ignored_and_reported(recommender):
    playlist = ["zzz", "a", "yyy", "zzz"]
    assert recommender.unknown(playlist) == ["zzz", "yyy"]
    assert names(recommender.complete(playlist, k=2, query="last")) == ["b", "c"]
    # recency counts unknown items as positions: "a" is 3 from the end (weight 0.125), "e" last
    suggestions = recommender.complete(["a", "x", "x", "e"], 1, "recency", 0.5)
    query_angle = 90 - np.rad2deg(np.arctan(0.125))
    assert names(suggestions) == ["d"]
    assert suggestions[0].score == pytest.approx(np.cos(np.deg2rad(query_angle - 45)), abs=1e-5)


def test_no_known_item_or_empty_playlist_is_a_data_error(recommender):
    with pytest.raises(DataError, match="none of the 2 items"):
        recommender.complete(["x", "y"])
    with pytest.raises(DataError, match="empty"):
        recommender.complete([])
    with pytest.raises(DataError, match="playlist 2"):
        recommender.complete_many([["a"], ["x"]])


def test_bad_options_are_config_errors(recommender):
    with pytest.raises(ConfigError):
        recommender.complete(["a"], k=0)
    with pytest.raises(ConfigError):
        recommender.complete(["a"], query="median")
    with pytest.raises(ConfigError):
        recommender.complete(["a"], query="recency", decay=1.5)


def test_k_beyond_the_vocabulary_returns_every_other_item(recommender):
    suggestions = recommender.complete(["a", "b"], k=100)
    assert sorted(names(suggestions)) == sorted(set(ANGLES) - {"a", "b"})
    assert recommender.complete(list(ANGLES), k=3) == []


def test_complete_many_equals_complete_row_by_row(tmp_path):
    rng = np.random.default_rng(3)
    items = np.array([f"track_{i}" for i in range(300)])
    vocabulary = Vocabulary(items, np.arange(300, 0, -1, dtype=np.int64), None)
    write_export(tmp_path / "m", rng.normal(size=(300, 16)).astype(np.float32), vocabulary, {})
    recommender = Recommender.from_export(tmp_path / "m")
    playlists = [
        [str(items[i]) for i in rng.integers(0, 300, rng.integers(1, 30))] + (["unknown"] if n % 3 == 0 else [])
        for n in range(40)
    ]
    for query in QUERY_STRATEGIES:
        many = recommender.complete_many(playlists, k=7, query=query)
        assert len(many) == len(playlists)
        for playlist, row in zip(playlists, many):
            single = recommender.complete(playlist, k=7, query=query)
            assert names(row) == names(single)
            assert [s.score for s in row] == pytest.approx([s.score for s in single], abs=1e-6)
            assert not set(names(row)) & set(playlist)
            assert all(s.artist is None for s in row)
    assert recommender.complete_many([], k=3) == []


@pytest.mark.parametrize("architecture", ["sgns", "tied-cosine"])
def test_exports_of_either_architecture(tmp_path, architecture):
    path = make_export(tmp_path / architecture, artists=False, architecture=architecture)
    recommender = Recommender.from_export(path)
    assert recommender.info["hyperparameters"]["architecture"] == architecture
    assert names(recommender.complete(["c"], k=2, query="last")) == ["b", "d"]


def test_bad_export_directory_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="no such export directory"):
        Recommender.from_export(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="not an export"):
        Recommender.from_export(tmp_path / "empty")


def test_the_module_does_not_load_tensorflow_or_keras(export_dir):
    code = (
        "import sys\n"
        "from track2vec.recommend import Recommender\n"
        f"print(Recommender.from_export({str(export_dir)!r}).complete(['a'], k=2)[0].item)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))\n"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert output.split("\n")[:2] == ["b", "[]"]


# ---------------------------------------------------------------- command line


def test_cli_prints_k_lines_of_item_score_artist(export_dir, capsys):
    assert main(["recommend", "--model", str(export_dir), "--playlist", "a", "-k", "3", "--query", "last"]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 3 and err == ""
    assert lines[0].split("\t") == ["b", f"{np.cos(np.deg2rad(10)):.4f}", "artist_1"]
    assert lines[2].split("\t")[0] == "d" and len(lines[2].split("\t")) == 2  # no artist known


def test_cli_default_k_and_query(export_dir, capsys):
    assert main(["recommend", "--model", str(export_dir), "--playlist", "a b"]) == 0
    out, _ = capsys.readouterr()
    assert len(out.splitlines()) == len(ANGLES) - 2  # k=10 > what is left
    assert DEFAULT_QUERY in QUERY_STRATEGIES


def test_cli_json_reports_unknown_items(export_dir, capsys):
    code = main(["recommend", "--model", str(export_dir), "--playlist", "a nope e", "-k", "2",
                 "--query", "mean", "--json"])
    out, err = capsys.readouterr()
    assert code == 0
    record = json.loads(out)
    assert record["unknown"] == ["nope"] and record["query"] == "mean"
    assert [s["item"] for s in record["suggestions"]] == ["d", "c"]
    assert set(record["suggestions"][0]) == {"item", "score", "artist"}
    assert "nope" in err and err.count("\n") == 1


def test_cli_all_unknown_and_bad_model_are_one_line_errors(export_dir, tmp_path, capsys):
    assert main(["recommend", "--model", str(export_dir), "--playlist", "x y"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("track2vec: error: ") and err.count("\n") == 1
    assert main(["recommend", "--model", str(tmp_path / "nothing"), "--playlist", "a"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("track2vec: error: ") and err.count("\n") == 1
    assert main(["recommend", "--model", str(export_dir), "--playlist", "a", "-k", "0"]) == 2
    assert main(["recommend", "--model", str(export_dir), "--playlist", "a", "--decay", "2"]) == 2


def test_cli_takes_an_item_with_spaces_as_the_word2vec_file_writes_it(tmp_path, capsys):
    items = ["Song B", "Intro", "50%", "x"]
    vectors = np.array([angle(0), angle(10), angle(40), angle(90)], dtype=np.float32)
    export = write_export(tmp_path / "model", vectors, Vocabulary(np.array(items), np.arange(4, 0, -1), None),
                          {"hyperparameters": {"architecture": "sgns", "dim": 3}})
    keys = [line.split()[0] for line in (export / "embeddings.w2v.txt").read_text().splitlines()[1:]]
    assert keys == ["Song%20B", "Intro", "50%25", "x"]
    for playlist in (f"{keys[0]} {keys[2]}", "Song%20B 50%"):  # a known name is taken as it is
        assert main(["recommend", "--model", str(export), "--playlist", playlist, "-k", "2", "--query", "last",
                     "--json"]) == 0
        record = json.loads(capsys.readouterr().out)
        assert record["playlist"] == ["Song B", "50%"] and record["unknown"] == []
        assert [suggestion["item"] for suggestion in record["suggestions"]] == ["Intro", "x"]
    assert main(["recommend", "--model", str(export), "--playlist", "Song%20C Intro", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["unknown"] == ["Song%20C"]  # unknown either way: as the user wrote it


def test_cli_reads_playlists_from_stdin(export_dir, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("a\n\nd\nx y\ne a\n"))
    code = main(["recommend", "--model", str(export_dir), "--playlist", "-", "-k", "2", "--query", "last", "--json"])
    out, err = capsys.readouterr()
    records = [json.loads(line) for line in out.splitlines()]
    assert code == 2  # one line had no known item; the others are still answered
    assert [[s["item"] for s in r["suggestions"]] for r in records] == [["b", "c"], ["c", "b"], [], ["b", "c"]]
    assert "error" in records[2] and "line 4" in err


def test_python_m_entry_point_runs_without_keras(export_dir):
    done = subprocess.run([sys.executable, "-m", "track2vec.recommend", "--model", str(export_dir),
                           "--playlist", "a", "-k", "2", "--query", "last"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert [line.split("\t")[0] for line in done.stdout.splitlines()] == ["b", "c"]
    done = subprocess.run([sys.executable, "-m", "track2vec.recommend", "--model", str(export_dir / "no"),
                           "--playlist", "a"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2 and done.stderr.startswith("track2vec: error: ") and done.stderr.count("\n") == 1


# ---------------------------------------------------------------- end to end


@pytest.mark.slow
@pytest.mark.parametrize("architecture", ["sgns", "tied-cosine", "count-softmax"])
def test_train_then_recommend_on_the_builtin_corpus(tmp_path, capsys, architecture):
    out = tmp_path / "export"
    # Training in this process (TensorFlow is loaded once for the session); recommend as its own process,
    # as a user runs it after training.
    assert main(["train", "--data", "builtin:tiny", "--epochs", "2", "--architecture", architecture,
                 "--threads", "2", "--out", str(out)]) == 0, capsys.readouterr().err
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    recommender = Recommender.from_export(out)
    playlist = [str(item) for item in recommender.items[[0, 5, 17]]]
    done = subprocess.run(CLI + ["recommend", "--model", str(out), "--playlist", " ".join(playlist), "-k", "5",
                                 "--json"], capture_output=True, text=True, cwd=ROOT, env=env)
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    suggested = [s["item"] for s in record["suggestions"]]
    assert len(suggested) == 5 and not set(suggested) & set(playlist)
    assert all(item.startswith("track_") for item in suggested)
    assert all(s["artist"].startswith("artist_") for s in record["suggestions"])
    scores = [s["score"] for s in record["suggestions"]]
    assert scores == sorted(scores, reverse=True)
    assert suggested == names(recommender.complete(playlist, k=5))
    text = subprocess.run(CLI + ["recommend", "--model", str(out), "--playlist", " ".join(playlist) + " track_x"],
                          capture_output=True, text=True, cwd=ROOT, env=env)
    assert text.returncode == 0 and len(text.stdout.splitlines()) == 10 and "track_x" in text.stderr
