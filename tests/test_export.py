"""Exports: round trip, refusal to overwrite, atomic replacement, unreadable directories."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import track2vec.export as export
from track2vec.errors import DataError, ExportExistsError, Track2VecError
from track2vec.export import read_export, write_export
from track2vec.vocabulary import Vocabulary


def vocabulary(items: list[str], artists: list[str] | None = None) -> Vocabulary:
    counts = np.arange(len(items), 0, -1, dtype=np.int64) * 3
    return Vocabulary(np.array(items, dtype=str), counts, None if artists is None else np.array(artists, dtype=str))


ITEMS = ["track_1", "café", 'with "quotes"', "tab\there", "new\nline", "#hash", "東京", "1e5"]
INFO = {"hyperparameters": {"dim": 4, "window": 3, "alpha": 0.75}, "seed": 7,
        "data": {"fingerprint": "sha256:abc", "source": "x.npy"}, "metrics": {"val_ndcg_at_10": 0.25}}


def snapshot(directory) -> dict[str, bytes]:
    return {str(path.relative_to(directory)): path.read_bytes() for path in sorted(directory.rglob("*")) if path.is_file()}


def leftovers(parent) -> list[str]:
    return sorted(path.name for path in parent.iterdir() if ".tmp-" in path.name or ".old-" in path.name)


@pytest.fixture
def embeddings() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(len(ITEMS), 4)).astype(np.float32)


def test_round_trip(tmp_path, embeddings):
    artists = ["artist_1", "", "artist_2", "artist\t3", "", "a", "", "b"]
    out = write_export(tmp_path / "export", embeddings, vocabulary(ITEMS, artists), INFO)
    assert out == (tmp_path / "export").absolute()
    back = read_export(out)
    np.testing.assert_array_equal(back.embeddings, embeddings)
    assert back.embeddings.dtype == np.float32
    assert back.vocabulary.items.tolist() == ITEMS
    assert back.vocabulary.counts.tolist() == vocabulary(ITEMS).counts.tolist()
    assert back.vocabulary.artists.tolist() == artists
    assert back.info == {"format_version": export.FORMAT_VERSION, **INFO}
    assert leftovers(tmp_path) == []


def test_round_trip_without_artists_and_with_numpy_values_in_info(tmp_path, embeddings):
    info = {"seed": np.int64(3), "metrics": {"loss": np.float32(0.5)}, "path": tmp_path}
    back = read_export(write_export(tmp_path / "e", embeddings.astype(np.float64), vocabulary(ITEMS), info))
    assert back.vocabulary.artists is None
    assert back.info["seed"] == 3 and back.info["metrics"]["loss"] == 0.5 and back.info["path"] == str(tmp_path)
    np.testing.assert_allclose(back.embeddings, embeddings)


def test_existing_directory_is_refused_without_force_and_left_untouched(tmp_path, embeddings):
    out = tmp_path / "export"
    write_export(out, embeddings, vocabulary(ITEMS), INFO)
    before = snapshot(out)
    with pytest.raises(ExportExistsError, match="already exists"):
        write_export(out, embeddings * 2, vocabulary(ITEMS), {"seed": 1})
    assert snapshot(out) == before
    (tmp_path / "not_an_export").mkdir()
    (tmp_path / "not_an_export" / "notes.txt").write_text("keep me")
    with pytest.raises(ExportExistsError):
        write_export(tmp_path / "not_an_export", embeddings, vocabulary(ITEMS), INFO)
    assert (tmp_path / "not_an_export" / "notes.txt").read_text() == "keep me"
    assert leftovers(tmp_path) == []


def test_force_replaces_the_whole_previous_export(tmp_path, embeddings):
    out = tmp_path / "export"
    write_export(out, embeddings, vocabulary(ITEMS), INFO)
    (out / "stale.txt").write_text("from the old export")
    write_export(out, embeddings[:3] * 2, vocabulary(ITEMS[:3]), {"seed": 2}, force=True)
    back = read_export(out)
    np.testing.assert_array_equal(back.embeddings, embeddings[:3] * 2)
    assert back.vocabulary.items.tolist() == ITEMS[:3] and back.info["seed"] == 2
    assert not (out / "stale.txt").exists()
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("failing", ["numpy.save", "json.dumps", "rename-into-place", "disk-full"])
def test_a_failure_while_writing_keeps_the_previous_export_and_leaves_no_temporary_directory(
    tmp_path, embeddings, monkeypatch, failing
):
    out = tmp_path / "export"
    write_export(out, embeddings, vocabulary(ITEMS), INFO)
    before = snapshot(out)

    def boom(*args, **kwargs):
        raise RuntimeError("disk on fire")

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    expected_error, message = RuntimeError, "disk on fire"
    if failing == "numpy.save":
        monkeypatch.setattr(export.np, "save", boom)
    elif failing == "disk-full":  # an OSError is reported as a user-facing error
        monkeypatch.setattr(export.np, "save", disk_full)
        expected_error, message = Track2VecError, "No space left on device"
    elif failing == "json.dumps":
        monkeypatch.setattr(export.json, "dumps", boom)
    else:
        real_rename = os.rename

        def rename(source, target):
            if ".tmp-" in os.fspath(source):  # the new export moving into place
                boom()
            real_rename(source, target)

        monkeypatch.setattr(export.os, "rename", rename)
    with pytest.raises(expected_error, match=message):
        write_export(out, embeddings * 5, vocabulary(ITEMS), {"seed": 99}, force=True)
    monkeypatch.undo()
    assert snapshot(out) == before
    assert read_export(out).info == {"format_version": export.FORMAT_VERSION, **INFO}
    assert sorted(path.name for path in tmp_path.iterdir()) == ["export"]


def test_a_failed_first_export_creates_nothing(tmp_path, embeddings, monkeypatch):
    monkeypatch.setattr(export.np, "save", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        write_export(tmp_path / "export", embeddings, vocabulary(ITEMS), INFO)
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_destination_is_a_user_error_not_a_crash(tmp_path, embeddings):
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(Track2VecError, match="a_file"):
        write_export(tmp_path / "a_file" / "export", embeddings, vocabulary(ITEMS), INFO)


def test_read_export_of_a_directory_that_is_not_an_export(tmp_path, embeddings):
    with pytest.raises(DataError, match="no such export directory"):
        read_export(tmp_path / "absent")
    (tmp_path / "model.json").write_text("{}")
    with pytest.raises(DataError, match="model.json: a file, not an export"):
        read_export(tmp_path / "model.json")
    (tmp_path / "random").mkdir()
    (tmp_path / "random" / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match="not an export"):
        read_export(tmp_path / "random")
    out = write_export(tmp_path / "export", embeddings, vocabulary(ITEMS), INFO)
    (out / "model.json").write_text("{not json")
    with pytest.raises(DataError, match="unreadable export"):
        read_export(out)


def test_read_export_with_a_mangled_vocabulary_is_a_data_error(tmp_path, embeddings):
    out = write_export(tmp_path / "export", embeddings, vocabulary(ITEMS), INFO)
    (out / "vocabulary.tsv").write_text("index\titem\tcount\tartist\n" + "garbage\n" * len(ITEMS))
    with pytest.raises(DataError):
        read_export(out)
    (out / "vocabulary.tsv").write_text("index\titem\tcount\tartist\n" + "0\ta\tmany\t\n" * len(ITEMS))
    with pytest.raises(DataError):
        read_export(out)
    (out / "vocabulary.tsv").write_text("index\titem\tcount\tartist\n0\ta\t1\t\n")
    with pytest.raises(DataError, match="1 vocabulary rows but 8 embeddings"):
        read_export(out)


def test_model_json_is_plain_json_with_the_format_version(tmp_path, embeddings):
    out = write_export(tmp_path / "export", embeddings, vocabulary(ITEMS), INFO)
    assert json.loads((out / "model.json").read_text())["format_version"] == export.FORMAT_VERSION
    header = (out / "vocabulary.tsv").read_text().splitlines()[0]
    assert header == "index\titem\tcount\tartist"
    assert np.load(out / "embeddings.npy", allow_pickle=False).shape == (len(ITEMS), 4)


def test_an_export_directory_follows_the_umask(tmp_path):
    import os
    import stat

    from track2vec.export import write_export
    from track2vec.vocabulary import Vocabulary

    vocabulary = Vocabulary(np.array(["a", "b"]), np.array([2, 1]))
    previous = os.umask(0o022)
    try:
        out = write_export(tmp_path / "export", np.zeros((2, 3), np.float32), vocabulary, {})
    finally:
        os.umask(previous)
    assert stat.S_IMODE(out.stat().st_mode) == 0o755
