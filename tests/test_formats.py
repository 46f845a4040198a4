"""The export in standard formats: gensim loads the word2vec files, the Projector files read back."""

from __future__ import annotations

import csv
import re

import numpy as np
import pytest

from track2vec.errors import DataError
from track2vec.export import read_export, write_export
from track2vec.formats import escape, unescape, write_standard_formats
from track2vec.vocabulary import Vocabulary

# Names a Deezer-style .npy may hold: white space of several kinds, a percent sign, non-ASCII.
ITEMS = ["track_1", "café", "two words", "tab\there", "new\nline", "50%", "a%20b", "東京", "nbsp\u00a0x",
         "line\u2028sep", "1e5"]
ARTISTS = ["artist_1", "", "The Band", "", "tab\tartist", "", "", "", "", "", "x"]


def vocabulary(items=ITEMS, artists=ARTISTS) -> Vocabulary:
    counts = np.arange(len(items), 0, -1, dtype=np.int64) * 7
    return Vocabulary(np.array(items, dtype=str), counts, None if artists is None else np.array(artists, dtype=str))


def awkward_embeddings(rows: int, dim: int = 6) -> np.ndarray:
    """float32 values that a short decimal would round wrongly: random, tiny, huge, subnormal, -0."""
    values = np.random.default_rng(4).normal(size=(rows, dim)).astype(np.float32)
    values[0, :5] = [np.finfo(np.float32).tiny, np.finfo(np.float32).max, 1e-45, -0.0, np.nextafter(np.float32(1), 2)]
    values[1] *= np.float32(1e-30)
    return values


@pytest.fixture
def export(tmp_path):
    embeddings = awkward_embeddings(len(ITEMS))
    path = write_export(tmp_path / "export", embeddings, vocabulary(), {"seed": 1}, word2vec_binary=True)
    return path, embeddings


@pytest.mark.parametrize("binary, name", [(False, "embeddings.w2v.txt"), (True, "embeddings.w2v.bin")])
def test_gensim_loads_the_word2vec_files_with_the_same_vectors_in_vocabulary_order(export, binary, name):
    gensim_models = pytest.importorskip("gensim.models")
    path, embeddings = export
    vectors = gensim_models.KeyedVectors.load_word2vec_format(str(path / name), binary=binary)
    assert vectors.index_to_key == [escape(item) for item in ITEMS]
    assert [unescape(key) for key in vectors.index_to_key] == ITEMS
    assert vectors.vectors.dtype == np.float32
    np.testing.assert_array_equal(vectors.vectors, embeddings)
    np.testing.assert_array_equal(vectors["two%20words"], embeddings[ITEMS.index("two words")])


def test_the_word2vec_text_file_is_one_header_and_one_line_per_item_of_dim_plus_one_fields(export):
    path, embeddings = export
    lines = (path / "embeddings.w2v.txt").read_text(encoding="utf-8").split("\n")
    assert lines[0] == f"{len(ITEMS)} {embeddings.shape[1]}" and lines[-1] == ""
    rows = [line.split() for line in lines[1:-1]]  # what a whitespace-splitting word2vec tool sees
    assert [len(row) for row in rows] == [1 + embeddings.shape[1]] * len(ITEMS)
    assert [unescape(row[0]) for row in rows] == ITEMS
    np.testing.assert_array_equal(np.array([row[1:] for row in rows], dtype=np.float64).astype(np.float32), embeddings)


def test_the_binary_file_is_written_only_when_asked(tmp_path):
    path = write_export(tmp_path / "plain", np.eye(3, dtype=np.float32), vocabulary(ITEMS[:3], None), {})
    assert (path / "embeddings.w2v.txt").is_file() and not (path / "embeddings.w2v.bin").exists()


def test_projector_vectors_read_back_as_tensorboard_reads_them(export):
    path, embeddings = export
    with open(path / "projector" / "vectors.tsv", newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle, delimiter="\t"))
    assert len(rows) == len(ITEMS) and {len(row) for row in rows} == {embeddings.shape[1]}
    np.testing.assert_array_equal(np.array(rows, dtype=np.float64).astype(np.float32), embeddings)
    # TensorBoard's own reader (projector_plugin._read_tensor_tsv_file): lines split on tabs, float()
    text = (path / "projector" / "vectors.tsv").read_text(encoding="utf-8")
    tensor = np.array([list(map(float, line.split("\t"))) for line in text.split("\n") if line], dtype="float32")
    np.testing.assert_array_equal(tensor, embeddings)


def test_projector_metadata_has_a_header_and_one_row_per_item(export):
    path, _ = export
    with open(path / "projector" / "metadata.tsv", newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    assert rows[0] == ["item", "count", "artist"]
    assert len(rows) == len(ITEMS) + 1 and {len(row) for row in rows} == {3}
    assert [unescape(row[0]) for row in rows[1:]] == ITEMS
    assert [int(row[1]) for row in rows[1:]] == vocabulary().counts.tolist()
    assert [unescape(row[2]) for row in rows[1:]] == ARTISTS
    # the Projector splits lines on "\n" alone and skips blank ones: every row must be one non-blank line
    lines = (path / "projector" / "metadata.tsv").read_text(encoding="utf-8").split("\n")
    assert lines[-1] == "" and len(lines) - 1 == len(ITEMS) + 1 and all(line.strip() for line in lines[:-1])


def test_projector_metadata_without_artists_leaves_the_column_empty(tmp_path):
    path = write_export(tmp_path / "e", np.eye(2, dtype=np.float32), vocabulary(["a", "b"], None), {})
    assert (path / "projector" / "metadata.tsv").read_text() == "item\tcount\tartist\na\t14\t\nb\t7\t\n"


def test_the_projector_config_points_at_the_two_files_beside_it(export):
    path, _ = export
    config = path / "projector" / "projector_config.pbtxt"
    fields = dict(re.findall(r'(\w+): "([^"]*)"', config.read_text()))
    assert re.fullmatch(r"embeddings \{\n(  \w+: \"[^\"]*\"\n)+\}\n", config.read_text())
    assert fields == {"tensor_name": "track2vec", "tensor_path": "vectors.tsv", "metadata_path": "metadata.tsv"}
    # TensorBoard resolves a relative path against the config file's directory
    assert (config.parent / fields["tensor_path"]).is_file() and (config.parent / fields["metadata_path"]).is_file()


def test_read_export_is_unchanged_by_the_extra_files(export):
    path, embeddings = export
    back = read_export(path)
    np.testing.assert_array_equal(back.embeddings, embeddings)
    assert back.vocabulary.items.tolist() == ITEMS and back.vocabulary.artists.tolist() == ARTISTS


@pytest.mark.parametrize("name", ITEMS + ["", "%", "%%20", " ", "\r\n", "\x1c", "\u3000"])
def test_escape_leaves_no_white_space_and_unescape_undoes_it(name):
    key = escape(name)
    assert not any(character.isspace() for character in key)
    assert unescape(key) == name


def test_escape_changes_only_white_space_and_percent_signs():
    assert escape("track_12") == "track_12" and escape("東京") == "東京" and escape("artist_3") == "artist_3"
    assert escape("two words") == "two%20words" and escape("50%") == "50%25" and escape("a\tb") == "a%09b"
    assert escape("\u00a0") == "%C2%A0"
    assert len({escape(name) for name in ITEMS}) == len(ITEMS)  # "a%20b" and "a b" stay apart


def test_embeddings_that_do_not_match_the_vocabulary_are_refused(tmp_path):
    with pytest.raises(DataError, match="do not match a vocabulary of 3 items"):
        write_standard_formats(tmp_path, np.zeros((2, 4), np.float32), vocabulary(ITEMS[:3], None))
