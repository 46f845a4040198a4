"""Loading playlists: Deezer/e-commerce .npy, text, built-in; malicious and broken files are refused."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import itertools
import lzma
import os
import pickle
import re
from collections import Counter

import numpy as np
import pytest

from conftest import Reducer
from track2vec.data.builtin import SIZES
from track2vec.data import loaders
from track2vec.data.loaders import load_playlists
from track2vec.errors import DataError

# --- helpers ---------------------------------------------------------------------------------------


def object_array(playlists: list[list]) -> np.ndarray:
    """A 1-D object array of lists, as the Deezer and e-commerce dumps are."""
    array = np.empty(len(playlists), dtype=object)
    for index, playlist in enumerate(playlists):
        array[index] = list(playlist)
    return array


def save_object_npy(path, playlists: list[list]):
    np.save(path, object_array(playlists), allow_pickle=True)
    return path


DEEZER = [
    ["track_1", "artist_10", "track_2", "artist_20", "track_3", "artist_10"],
    ["track_2", "artist_20", "track_4", "artist_40"],
    ["track_3", "artist_10", "track_1", "artist_10", "track_5", "artist_50", "track_2", "artist_20"],
    ["track_9", "artist_90"],  # a single track: too short to use
]

# --- Deezer-format .npy ----------------------------------------------------------------------------


def test_deezer_npy_keeps_tracks_in_order_and_maps_each_track_to_its_artist(tmp_path):
    path = save_object_npy(tmp_path / "deezer.npy", DEEZER)
    playlists = load_playlists(str(path))
    assert playlists.items == [
        ["track_1", "track_2", "track_3"],
        ["track_2", "track_4"],
        ["track_3", "track_1", "track_5", "track_2"],
    ]
    kept = {track for playlist in playlists.items for track in playlist}
    assert {track: playlists.artists[track] for track in kept} == {
        "track_1": "artist_10", "track_2": "artist_20", "track_3": "artist_10",
        "track_4": "artist_40", "track_5": "artist_50",
    }
    assert playlists.dropped_short == 1
    assert playlists.source == str(path.resolve())
    assert playlists.fingerprint == "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    assert playlists.oracle is None


def test_fingerprint_identifies_the_content(tmp_path):
    first = load_playlists(str(save_object_npy(tmp_path / "a.npy", DEEZER)))
    same = load_playlists(str(save_object_npy(tmp_path / "b.npy", DEEZER)))
    other = load_playlists(str(save_object_npy(tmp_path / "c.npy", DEEZER[::-1])))
    assert first.fingerprint == same.fingerprint != other.fingerprint


def test_object_npy_with_numpy_integers_and_bytes_tokens_loads(tmp_path):
    # numpy integers are pickled through numpy's ``scalar``; bytes (protocol 2) through ``_codecs.encode``.
    array = object_array([[np.int64(11), 12, np.int32(13)], [b"x\xc3\xa9", "y", b"z"]])
    path = tmp_path / "mixed.npy"
    with open(path, "wb") as handle:
        np.lib.format.write_array_header_1_0(handle, np.lib.format.header_data_from_array_1_0(array))
        pickle.dump(array, handle, protocol=2)
    assert load_playlists(str(path)).items == [["11", "12", "13"], ["x\u00e9", "y", "z"]]


def test_npy_with_non_token_entries_is_refused(tmp_path):
    path = save_object_npy(tmp_path / "floats_inside.npy", [["a", 1.5], ["b", "c"]])
    with pytest.raises(DataError, match="playlist 0 holds a float"):
        load_playlists(str(path))
    strings = np.empty(2, dtype=object)
    strings[:] = ["a b", "c d"]
    np.save(tmp_path / "strings.npy", strings, allow_pickle=True)
    with pytest.raises(DataError, match="playlist 0 is a str"):
        load_playlists(str(tmp_path / "strings.npy"))


# --- real files ------------------------------------------------------------------------------------


def test_ecommerce_sessions_keep_product_codes_and_drop_the_useless_tokens(ecommerce_npy):
    playlists = load_playlists(str(ecommerce_npy))
    reference = np.load(ecommerce_npy, allow_pickle=True)  # a trusted file: the plain loader is the reference
    assert len(reference) == 4234
    expected = [list(session[0::2]) for session in reference]
    expected = [session for session in expected if len(session) >= 2]
    assert playlists.items == expected
    assert playlists.dropped_short == len(reference) - len(expected)
    assert not any(token == "useless" for session in playlists.items for token in session)
    assert playlists.artists == {}


def test_kosarak_text_one_session_per_line(kosarak_txt):
    playlists = load_playlists(str(kosarak_txt))
    lines = [line.split() for line in kosarak_txt.read_text().splitlines()]
    assert playlists.items == [tokens for tokens in lines if len(tokens) >= 2]
    assert playlists.dropped_short == sum(1 for tokens in lines if 0 < len(tokens) < 2)


# --- text files ------------------------------------------------------------------------------------


def test_text_file_one_playlist_per_line(tmp_path):
    path = tmp_path / "playlists.txt"
    path.write_text("a b c\n\n  d\te  a \nlonely\nb b\n", encoding="utf-8")
    playlists = load_playlists(str(path))
    assert playlists.items == [["a", "b", "c"], ["d", "e", "a"], ["b", "b"]]
    assert playlists.dropped_short == 1
    assert playlists.artists == {}


def test_text_file_in_deezer_token_format_is_split_into_tracks_and_artists(tmp_path):
    path = tmp_path / "deezer.txt"
    path.write_text("\n".join(" ".join(playlist) for playlist in DEEZER) + "\n")
    playlists = load_playlists(str(path))
    assert playlists.items[0] == ["track_1", "track_2", "track_3"]
    assert playlists.artists["track_4"] == "artist_40"


def test_text_file_with_utf8_tokens(tmp_path):
    path = tmp_path / "unicode.txt"
    path.write_text("café naïve 東京\nü ß\n", encoding="utf-8")
    assert load_playlists(str(path)).items == [["café", "naïve", "東京"], ["ü", "ß"]]


# --- event logs (a row an interaction, a header naming the columns) ------------------------------------


def load_log(tmp_path, name: str, *lines: str):
    """The playlists read from a file ``name`` holding ``lines``."""
    path = tmp_path / name
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return load_playlists(str(path))


def test_session_rec_event_log_groups_rows_into_sessions_ordered_by_time(tmp_path):
    playlists = load_log(tmp_path, "events.tsv", "SessionId\tItemId\tTime",
                         "7\tc\t30", "3\tx\t5.5", "7\ta\t10", "7\tb\t20", "3\ty\t1e1", "9\tlonely\t1",
                         "7\td\t30")  # d and c share a time: file order
    assert playlists.items == [["a", "b", "c", "d"], ["x", "y"]]  # sessions in order of their first row
    assert playlists.dropped_short == 1
    assert playlists.artists == {}
    assert playlists.fingerprint == "sha256:" + hashlib.sha256((tmp_path / "events.tsv").read_bytes()).hexdigest()


def test_diginetica_style_log_takes_the_session_column_before_the_user_column(tmp_path):
    playlists = load_log(tmp_path, "train-item-views.csv", "sessionId;userId;itemId;timeframe;eventdate",
                         "1;;81766;526309;2016-05-09", "1;;31331;1031018;2016-05-09", "2;5;32118;243569;2016-05-09",
                         "1;;32118;100;2016-05-09", "2;5;81766;10;2016-05-09")
    assert playlists.items == [["32118", "81766", "31331"], ["81766", "32118"]]


def test_csv_log_with_quotes_iso_times_and_artists(tmp_path):
    playlists = load_log(tmp_path, "listens.csv", "\ufeffuser_id, track_id, artist, timestamp, device",
                         'u1, "Song, Part 2", Band A, 2024-03-01T10:05:00, phone',
                         "u1, Intro, , 2024-03-01T10:00:00+00:00, phone",
                         "u2, Intro, Band A, 2024-03-02 09:00, laptop", "u2, Outro, Band B, 2024-03-01 23:00, laptop")
    assert playlists.items == [["Intro", "Song, Part 2"], ["Outro", "Intro"]]
    # The first non-empty artist a track's rows name.
    assert playlists.artists == {"Song, Part 2": "Band A", "Intro": "Band A", "Outro": "Band B"}


def test_a_playlist_log_names_its_tracks_and_artists_by_uri_and_name_and_orders_them_by_position(tmp_path):
    playlists = load_log(tmp_path, "plays.csv", "pid,pos,track_uri,artist_name",
                         "7,1,spotify:track:b,Band B", "7,0,spotify:track:a,Band A")
    assert playlists.items == [["spotify:track:a", "spotify:track:b"]]  # in the order of pos
    assert playlists.artists == {"spotify:track:a": "Band A", "spotify:track:b": "Band B"}


def test_log_without_a_time_column_keeps_file_order_and_space_separated_headers_count(tmp_path):
    playlists = load_log(tmp_path, "log.txt", "", "playlist   item", "p1 b", "p2 z", "p1 a", "p2 y")
    assert playlists.items == [["b", "a"], ["z", "y"]]


def test_a_playlist_per_line_file_whose_first_line_names_no_columns_is_read_as_playlists(tmp_path):
    # A session column but no item column.
    playlists = load_log(tmp_path, "playlists.txt", "session\tplaylist\tof\twords", "item\titem2")
    assert playlists.items == [["session", "playlist", "of", "words"], ["item", "item2"]]


def test_csv_and_tsv_files_of_playlists_of_different_lengths_read_a_row_a_playlist(tmp_path):
    playlists = load_log(tmp_path, "playlists.csv", "a,b,c", "", "d, e,", '"f, live",a')
    assert playlists.items == [["a", "b", "c"], ["d", "e"], ["f, live", "a"]]
    assert load_log(tmp_path, "playlists.tsv", "a\tb", "c\td\te").items == [["a", "b"], ["c", "d", "e"]]


@pytest.mark.parametrize("content, says", [
    ("1,214536502,2014-04-07T10:51:09.277Z\n1,214536500,2014-04-07T10:54:09.868Z\n",
     "every row has 3 fields, a table: a .csv file of interactions needs a header row"),
    ("a\nb\n", "no row has a delimiter"),
    ("SessionId,ItemId,Time\n", "no rows after the header"),
    ("SessionId,ItemId,Time\n1,a,1\n1,b\n", "line 3 has 2 fields; the header's columns need 3"),
    ("SessionId,ItemId,Time\n1,a,1\n1,b,yesterday\n", "time 'yesterday' is neither a number nor an ISO 8601"),
    ("SessionId,ItemId,Time\n1,a,1\n1,b,nan\n", "time 'nan' is not a finite number"),
    ("SessionId,ItemId,Time\n1,a,1\n1,,2\n", "line 3 has an empty item"),
])
def test_a_broken_event_log_is_one_data_error_naming_the_line(tmp_path, content, says):
    path = tmp_path / "clicks.csv"
    path.write_text(content)
    with pytest.raises(DataError, match=re.escape(says)):
        load_playlists(str(path))


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 1 << 20])
def test_lines_read_a_chunk_at_a_time_are_the_lines_of_the_whole_text(chunk):
    text = "SessionId,ItemId\r\n1,a\n\n1,b\r\n2,\u00e9\u2028x\n2,y"
    assert list(loaders._lines(text, chunk)) == text.splitlines()


def test_kosarak_as_an_event_log_loads_as_its_text_file(kosarak_txt, tmp_path):
    """The same sessions written as session-rec writes them, each session's rows reversed (so only
    the times put them in order) and the rows of neighbouring sessions interleaved."""
    sessions = [line.split() for line in kosarak_txt.read_text().splitlines()]
    rows = []
    for pair in range(0, len(sessions), 2):
        backwards = [[(number, position, item) for position, item in enumerate(sessions[number])][::-1]
                     for number in range(pair, min(pair + 2, len(sessions)))]
        rows += [row for rows_at in itertools.zip_longest(*backwards) for row in rows_at if row is not None]
    path = tmp_path / "kosarak.tsv"
    path.write_text("SessionId\tItemId\tTime\n"
                    + "".join(f"{number}\t{item}\t{1.4e9 + 60 * position}\n" for number, position, item in rows))
    events, text = load_playlists(str(path)), load_playlists(str(kosarak_txt))
    assert events.items == text.items
    assert events.dropped_short == text.dropped_short


# --- compressed files ------------------------------------------------------------------------------


@pytest.mark.parametrize("compress, suffix", [(gzip.compress, ".gz"), (bz2.compress, ".bz2"), (lzma.compress, ".xz")])
def test_compressed_files_load_as_their_content(tmp_path, compress, suffix):
    log = "SessionId\tItemId\tTime\n1\tb\t2\n1\ta\t1\n2\tc\t1\n2\td\t2\n".encode()
    path = tmp_path / f"events.tsv{suffix}"
    path.write_bytes(compress(log))
    playlists = load_playlists(str(path))
    assert playlists.items == [["a", "b"], ["c", "d"]]
    assert playlists.fingerprint == "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()  # the file as it is
    save_object_npy(tmp_path / "deezer.npy", DEEZER)
    (tmp_path / f"deezer.npy{suffix}").write_bytes(compress((tmp_path / "deezer.npy").read_bytes()))
    compressed = load_playlists(str(tmp_path / f"deezer.npy{suffix}"))
    assert compressed.items == load_playlists(str(tmp_path / "deezer.npy")).items
    assert compressed.artists["track_4"] == "artist_40"


def test_compression_is_told_by_the_bytes_not_the_name(tmp_path):
    (tmp_path / "playlists.txt").write_bytes(gzip.compress(b"a b\nc d\n"))
    assert load_playlists(str(tmp_path / "playlists.txt")).items == [["a", "b"], ["c", "d"]]
    (tmp_path / "plain.txt.gz").write_text("BZh9 a\nb c\n")  # not compressed, whatever the name says
    assert load_playlists(str(tmp_path / "plain.txt.gz")).items == [["BZh9", "a"], ["b", "c"]]


@pytest.mark.parametrize("compress, name", [(gzip.compress, "gzip"), (bz2.compress, "bzip2"), (lzma.compress, "xz")])
def test_a_truncated_compressed_file_is_one_data_error(tmp_path, compress, name):
    whole = compress(b"a b c\n" * 1000)
    (tmp_path / "cut.txt.z").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataError, match=f"truncated or corrupt {name} file"):
        load_playlists(str(tmp_path / "cut.txt.z"))


def test_a_compressed_csv_without_a_header_is_refused_as_a_csv(tmp_path):
    (tmp_path / "clicks.csv.gz").write_bytes(gzip.compress(b"1,2014-04-07,214536502,0\n" * 20))
    with pytest.raises(DataError, match="every row has 4 fields, a table: a .csv file"):
        load_playlists(str(tmp_path / "clicks.csv.gz"))


# --- built-in --------------------------------------------------------------------------------------


def test_builtin_tiny_is_deezer_like_with_an_oracle_and_seeded():
    playlists = load_playlists("builtin:tiny", seed=0)
    assert len(playlists.items) == SIZES["tiny"]["n_playlists"]
    assert all(len(p) >= 2 and all(t.startswith("track_") for t in p) for p in playlists.items)
    tracks = {t for p in playlists.items for t in p}
    assert tracks <= set(playlists.artists) and all(a.startswith("artist_") for a in playlists.artists.values())
    assert 0 < playlists.oracle["ndcg_at_10"] <= playlists.oracle["hr_at_10"] <= 1
    assert playlists.source == "builtin:tiny"
    assert load_playlists("builtin:tiny", seed=0).items == playlists.items
    other = load_playlists("builtin:tiny", seed=1)
    assert other.items != playlists.items and other.fingerprint != playlists.fingerprint


def test_unknown_builtin_size_is_a_data_error():
    with pytest.raises(DataError, match="unknown built-in size"):
        load_playlists("builtin:huge")


# --- malicious .npy --------------------------------------------------------------------------------


def test_crafted_npy_would_run_code_with_plain_numpy_but_is_refused(malicious_npy):
    path, sentinel = malicious_npy
    with pytest.raises(DataError, match=r"builtins\.open") as raised:
        load_playlists(str(path))
    assert str(path) in str(raised.value)
    assert not sentinel.exists()
    # Positive control: the same file really does create the file under np.load(allow_pickle=True).
    handle = np.load(path, allow_pickle=True)
    handle.close()
    assert sentinel.exists()


def test_crafted_npy_calling_os_system_is_refused_before_running(tmp_path, write_object_npy):
    sentinel = tmp_path / "system_ran"
    payload = pickle.dumps(Reducer(os.system, f"touch '{sentinel}'"), protocol=2)
    path = write_object_npy(tmp_path / "evil.npy", payload)
    with pytest.raises(DataError, match=rf"{os.system.__module__}\.system"):
        load_playlists(str(path))
    assert not sentinel.exists()
    pickle.loads(payload)  # positive control
    assert sentinel.exists()


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda target: (np.save, (str(target), np.arange(3))), id="numpy.save"),
        pytest.param(  # exec() of a string, reachable from numpy's own namespace
            lambda target: (getattr(np.testing._private.utils, "runstring", None),
                            (f"open({str(target)!r}, 'w').close()", {})),
            id="numpy.testing.runstring",
        ),
    ],
)
def test_crafted_npy_using_other_numpy_globals_is_refused(tmp_path, write_object_npy, make):
    sentinel = tmp_path / "numpy_wrote.npy"
    function, args = make(sentinel)
    if function is None:
        pytest.skip("this NumPy has no numpy.testing._private.utils.runstring")
    payload = pickle.dumps(Reducer(function, *args), protocol=4)
    path = write_object_npy(tmp_path / "evil.npy", payload)
    with pytest.raises(DataError, match=rf"refusing to load.*{function.__module__}\.{function.__name__}"):
        load_playlists(str(path))
    assert not sentinel.exists()
    pickle.loads(payload)  # positive control: the payload does write the file
    assert sentinel.exists()


def test_malicious_global_nested_inside_a_valid_looking_array_is_refused(tmp_path, write_object_npy):
    sentinel = tmp_path / "nested"
    array = object_array([["track_1", "artist_1", "track_2", "artist_2"], ["a", "b"]])
    array[1] = ["track_3", Reducer(open, str(sentinel), "w")]
    path = write_object_npy(tmp_path / "nested.npy", pickle.dumps(array, protocol=4), shape=(2,))
    with pytest.raises(DataError, match=rf"{open.__module__}\.open"):
        load_playlists(str(path))
    assert not sentinel.exists()


# --- broken inputs ---------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="no such file$"):
        load_playlists(str(tmp_path / "absent.npy"))


@pytest.mark.parametrize("spec", ["bulitin", "builtn:tiny", "Builtin"])
def test_a_misspelt_builtin_corpus_is_named_in_the_error(tmp_path, monkeypatch, spec):
    monkeypatch.chdir(tmp_path)  # no file of that name here
    with pytest.raises(DataError, match=r"no such file \(the built-in corpus is `builtin` or `builtin:SIZE`\)$"):
        load_playlists(spec)


def test_a_missing_word_unlike_builtin_gets_no_hint(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError, match="^sessions: no such file$"):
        load_playlists("sessions")


@pytest.mark.parametrize("content", [b"", b"  \n\n\t \n"], ids=["empty", "blank"])
def test_empty_file(tmp_path, content):
    path = tmp_path / "empty.txt"
    path.write_bytes(content)
    with pytest.raises(DataError, match="is empty"):
        load_playlists(str(path))


def test_directory(tmp_path):
    with pytest.raises(DataError, match="is a directory"):
        load_playlists(str(tmp_path))


def test_truncated_object_npy(tmp_path):
    full = save_object_npy(tmp_path / "full.npy", DEEZER * 20).read_bytes()
    truncated = tmp_path / "truncated.npy"
    truncated.write_bytes(full[: len(full) // 2])
    with pytest.raises(DataError, match="truncated or corrupt"):
        load_playlists(str(truncated))


def test_truncated_numeric_npy(tmp_path):
    np.save(tmp_path / "numbers.npy", np.arange(1000, dtype=np.int64))
    full = (tmp_path / "numbers.npy").read_bytes()
    (tmp_path / "numbers.npy").write_bytes(full[:-100])
    with pytest.raises(DataError, match="truncated or corrupt"):
        load_playlists(str(tmp_path / "numbers.npy"))


def test_npy_cut_inside_its_header(tmp_path):
    full = save_object_npy(tmp_path / "full.npy", DEEZER).read_bytes()
    (tmp_path / "cut.npy").write_bytes(full[:30])
    with pytest.raises(DataError, match="not a valid .npy file"):
        load_playlists(str(tmp_path / "cut.npy"))


@pytest.mark.parametrize(
    "array",
    [np.random.default_rng(0).random(50), np.zeros((4, 3)), np.array(["a b", "c d"])],
    ids=["floats", "2d-floats", "unicode"],
)
def test_npy_that_is_not_an_object_array_of_playlists(tmp_path, array):
    np.save(tmp_path / "numbers.npy", array)
    with pytest.raises(DataError, match="expected a 1-D object array of playlists"):
        load_playlists(str(tmp_path / "numbers.npy"))


def test_npy_suffix_without_numpy_header(tmp_path):
    (tmp_path / "fake.npy").write_text("a b c\n")
    with pytest.raises(DataError, match="no NumPy header"):
        load_playlists(str(tmp_path / "fake.npy"))


def test_text_with_nul_bytes(tmp_path):
    garbage = bytes(np.random.default_rng(1).integers(0, 256, 4000, dtype=np.uint8)) + b"\x00"
    (tmp_path / "garbage.bin").write_bytes(garbage)
    with pytest.raises(DataError, match="NUL bytes"):
        load_playlists(str(tmp_path / "garbage.bin"))


def test_text_with_invalid_utf8(tmp_path):
    (tmp_path / "latin1.txt").write_bytes("caf\u00e9 cr\u00e8me\nb c\n".encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8 text"):
        load_playlists(str(tmp_path / "latin1.txt"))


def test_every_playlist_shorter_than_two_items(tmp_path):
    (tmp_path / "singles.txt").write_text("a\nb\n\nc\n")
    with pytest.raises(DataError, match="no playlist has 2 or more items"):
        load_playlists(str(tmp_path / "singles.txt"))
    save_object_npy(tmp_path / "singles.npy", [["track_1", "artist_1"], ["track_2", "artist_2"], []])
    with pytest.raises(DataError, match="no playlist has 2 or more items"):
        load_playlists(str(tmp_path / "singles.npy"))


def test_empty_object_array(tmp_path):
    np.save(tmp_path / "none.npy", np.empty(0, dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="holds no playlists"):
        load_playlists(str(tmp_path / "none.npy"))


def test_counter_of_loaded_tokens_matches_source(tmp_path):
    """No token is lost or invented when loading a larger random Deezer file."""
    rng = np.random.default_rng(5)
    raw, expected = [], Counter()
    for _ in range(300):
        tracks = rng.integers(0, 500, rng.integers(2, 30))
        raw.append([token for t in tracks for token in (f"track_{t}", f"artist_{t % 37}")])
        expected.update(f"track_{t}" for t in tracks)
    playlists = load_playlists(str(save_object_npy(tmp_path / "random.npy", raw)))
    assert Counter(t for p in playlists.items for t in p) == expected
    assert all(playlists.artists[f"track_{t}"] == f"artist_{t % 37}" for t in range(500) if f"track_{t}" in expected)


# --- the integer form: ids, offsets, distinct names ---------------------------------------------------


def test_loaded_playlists_are_int_ids_into_distinct_names(tmp_path):
    path = save_object_npy(tmp_path / "deezer.npy", DEEZER)
    playlists = load_playlists(str(path))
    assert playlists.tokens.dtype == np.int32 and playlists.offsets.dtype == np.int64
    assert len(set(playlists.names.tolist())) == len(playlists.names)
    assert playlists.offsets[0] == 0 and playlists.offsets[-1] == len(playlists.tokens) and len(playlists) == 3
    assert [playlists.playlist(k) for k in range(len(playlists))] == playlists.items
    assert not any(name.startswith("artist_") for name in playlists.names.tolist())  # artists are metadata
    assert dict(zip(playlists.names.tolist(), playlists.name_artists.tolist()))["track_5"] == "artist_50"
    assert load_playlists(str(tmp_path / "deezer.npy")).name_artists is not None
    path.with_suffix(".txt").write_text("a b c\nd a\n")
    assert load_playlists(str(path.with_suffix(".txt"))).name_artists is None


def test_artist_tokens_attach_to_the_track_before_them_in_the_same_playlist_first_one_wins(tmp_path):
    raw = [["artist_0", "track_1", "artist_1", "artist_2", "x", "track_2"],
           ["artist_3", "track_2", "artist_4", "track_1", "artist_5"]]
    playlists = load_playlists(str(save_object_npy(tmp_path / "odd.npy", raw)))
    assert playlists.items == [["track_1", "track_2"], ["track_2", "track_1"]]
    assert playlists.artists == {"track_1": "artist_1", "track_2": "artist_4"}


def test_head_keeps_the_first_playlists():
    from track2vec.data.loaders import Playlists

    playlists = Playlists.from_lists([["a", "b"], ["c", "a", "d"], ["b", "d"]], {"a": "x"}, source="s")
    first = playlists.head(2)
    assert first.items == [["a", "b"], ["c", "a", "d"]] and first.artists == {"a": "x"} and first.source == "s"
    assert playlists.head(10).items == playlists.items


def test_tokens_differing_only_by_trailing_nul_are_one_item_as_in_a_unicode_array(tmp_path):
    playlists = load_playlists(str(save_object_npy(tmp_path / "nul.npy", [["a\x00", "b", "a"], ["b", "a"]])))
    assert playlists.items == [["a", "b", "a"], ["b", "a"]]
    assert playlists.names.tolist() == ["a", "b"]
