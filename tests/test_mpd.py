"""Million Playlist Dataset slices (``mpd.slice.*.json``): items, artists, order, fingerprint, bad slices."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from track2vec.corpus import build_corpus
from track2vec.data.loaders import load_playlists
from track2vec.errors import DataError


def track(pos: int, number: int, artist: int | None = None) -> dict:
    """A track entry as the challenge writes it (``artist`` defaults to ``number % 5``)."""
    artist = number % 5 if artist is None else artist
    return {"pos": pos, "artist_name": f"Artist {artist}", "track_uri": f"spotify:track:t{number}",
            "artist_uri": f"spotify:artist:a{artist}", "track_name": f"Song {number}",
            "album_uri": f"spotify:album:b{number // 3}", "duration_ms": 200_000 + number, "album_name": "Album"}


def playlist(pid: int, numbers: list[int], order: list[int] | None = None) -> dict:
    """Tracks ``numbers`` at positions 0, 1, ...; listed in the JSON in ``order`` (default: by position)."""
    tracks = [track(pos, number) for pos, number in enumerate(numbers)]
    if order is not None:
        tracks = [tracks[index] for index in order]
    return {"name": f"list {pid}", "collaborative": "false", "pid": pid, "modified_at": 1_500_000_000,
            "num_tracks": len(numbers), "num_albums": 1, "num_followers": 1, "tracks": tracks,
            "num_edits": 1, "duration_ms": 1, "num_artists": 1}


def write_slice(directory: Path, first: int, playlists: list[dict]) -> Path:
    last = first + len(playlists) - 1
    path = directory / f"mpd.slice.{first}-{last}.json"
    info = {"generated_on": "2017-12-03 08:41:42.057563", "slice": f"{first}-{last}", "version": "v1"}
    path.write_text(json.dumps({"info": info, "playlists": playlists}, indent=2))
    return path


# Three slices whose names sort differently as text ("10-11" < "2-3") and as numbers (2-3 < 10-11).
SLICES = {
    0: [playlist(0, [1, 2, 3]), playlist(1, [2, 4], order=[1, 0])],
    2: [playlist(2, [3, 1, 5, 2], order=[3, 1, 0, 2]), playlist(3, [9])],  # pid 3: one track, too short
    10: [playlist(10, [6, 1, 6, 2]), playlist(11, [])],
}
EXPECTED = [  # slices by their numeric range, playlists in file order, tracks by "pos"
    ["t1", "t2", "t3"], ["t2", "t4"], ["t3", "t1", "t5", "t2"], ["t6", "t1", "t6", "t2"],
]


@pytest.fixture
def slices(tmp_path) -> Path:
    directory = tmp_path / "mpd" / "data"
    directory.mkdir(parents=True)
    for first, playlists in SLICES.items():
        write_slice(directory, first, playlists)
    (directory / "README.md").write_text("not a slice")
    return directory


def uris(numbers: list[str]) -> list[str]:
    return [f"spotify:track:{name}" for name in numbers]


def fingerprint_of(paths: list[Path]) -> str:
    lines = "".join(f"{p.name}\t{p.stat().st_size}\t{hashlib.sha256(p.read_bytes()).hexdigest()}\n" for p in paths)
    return "mpd-slices:sha256:" + hashlib.sha256(lines.encode()).hexdigest()


def test_a_directory_of_slices_reads_track_uris_in_pos_order_with_their_artists(slices):
    playlists = load_playlists(str(slices))
    assert playlists.items == [uris(p) for p in EXPECTED]
    assert playlists.dropped_short == 2  # pid 3 (one track) and pid 11 (none)
    kept = {uri for p in playlists.items for uri in p}
    number = lambda uri: int(uri.rsplit(":t", 1)[1])  # noqa: E731
    assert {uri: playlists.artists[uri] for uri in kept} == {uri: f"spotify:artist:a{number(uri) % 5}" for uri in kept}
    assert playlists.source == str(slices.resolve())
    ordered = [slices / "mpd.slice.0-1.json", slices / "mpd.slice.2-3.json", slices / "mpd.slice.10-11.json"]
    assert playlists.fingerprint == fingerprint_of(ordered)
    assert playlists.oracle is None


def test_a_glob_and_a_single_slice_file_read_the_same_way(slices):
    whole = load_playlists(str(slices))
    globbed = load_playlists(str(slices / "mpd.slice.*.json"))
    assert globbed.items == whole.items and globbed.fingerprint == whole.fingerprint
    assert globbed.artists == whole.artists
    one = load_playlists(str(slices / "mpd.slice.2-3.json"))
    assert one.items == [uris(EXPECTED[2])] and one.dropped_short == 1
    assert one.fingerprint == fingerprint_of([slices / "mpd.slice.2-3.json"])
    some = load_playlists(str(slices / "mpd.slice.[02]-*.json"))
    assert some.items == [uris(p) for p in EXPECTED[:3]]


def test_the_fingerprint_follows_the_content_not_the_location(slices, tmp_path):
    before = load_playlists(str(slices)).fingerprint
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    for path in slices.glob("mpd.slice.*.json"):
        (moved / path.name).write_bytes(path.read_bytes())
    assert load_playlists(str(moved)).fingerprint == before
    write_slice(moved, 2, [playlist(2, [3, 1, 5, 7]), playlist(3, [9])])  # one track changed
    assert load_playlists(str(moved)).fingerprint != before


def test_the_first_artist_seen_of_a_track_is_kept(tmp_path):
    first = [track(0, 1, artist=7), track(1, 2)]
    later = [track(0, 1, artist=8), track(1, 2)]
    missing = {key: value for key, value in track(0, 3).items() if key != "artist_uri"}
    write_slice(tmp_path, 0, [{"pid": 0, "tracks": first}, {"pid": 1, "tracks": later},
                              {"pid": 2, "tracks": [missing, track(1, 2)]}])
    playlists = load_playlists(str(tmp_path))
    assert playlists.artists["spotify:track:t1"] == "spotify:artist:a7"
    assert "spotify:track:t3" not in playlists.artists  # no artist_uri: unknown


def test_slices_build_a_corpus_whose_vocabulary_is_track_uris_with_artists(slices):
    corpus = build_corpus(load_playlists(str(slices)), min_count=1, n_validation=2, n_test=1, seed=0)
    training = [uri for p in EXPECTED for uri in uris(p)[:-1]]
    counts = {uri: training.count(uri) for uri in set(training)}
    expected = sorted(counts, key=lambda uri: (-counts[uri], uri))
    assert corpus.vocabulary.items.tolist() == expected
    assert corpus.vocabulary.counts.tolist() == [counts[uri] for uri in expected]
    assert all(artist.startswith("spotify:artist:a") for artist in corpus.vocabulary.artists)
    pairs = {tuple(corpus.vocabulary.items[pair].tolist()) for pair in np.concatenate(
        [corpus.validation_pairs, corpus.test_pairs])}
    assert pairs <= {tuple(uris(p)[-2:]) for p in EXPECTED}


# --- bad slices: one line naming the file and the problem ---------------------------------------------


def broken(directory: Path, name: str, content: str | bytes) -> Path:
    path = directory / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


@pytest.mark.parametrize(
    "content, says",
    [
        ('{"playlists": [', "not JSON (Expecting value at line 1, column 16)"),
        (b'{"playlists": ["caf\xe9"]}', "not JSON"),
        ('{"info": {}}', 'no "playlists" list'),
        ('[1, 2]', 'no "playlists" list'),
        ('{"playlists": [{"pid": 4, "name": "x"}]}', 'playlist 0 has no "tracks" list'),
        ('{"playlists": [{"pid": 4, "tracks": [{"pos": 0, "artist_uri": "a"}]}]}', 'pid 4, track 0: no "track_uri"'),
        ('{"playlists": [{"tracks": [{"pos": 0, "track_uri": "t"}, {"track_uri": "u"}]}]}',
         'playlist 0, track 1: no whole-number "pos"'),
        ('{"playlists": [{"pid": 1, "tracks": ["spotify:track:t1"]}]}', "pid 1, track 0: not an object"),
    ],
    ids=["cut", "latin-1", "no-playlists", "a-list", "no-tracks", "no-track-uri", "no-pos", "track-a-string"],
)
def test_a_bad_slice_is_refused_naming_the_file(slices, content, says):
    path = broken(slices, "mpd.slice.20-21.json", content)
    with pytest.raises(DataError) as raised:
        load_playlists(str(slices))
    message = str(raised.value)
    assert message.startswith(f"{path}: ") and says in message and "\n" not in message


def test_an_empty_directory_and_a_glob_matching_nothing_are_refused(tmp_path):
    with pytest.raises(DataError, match="is a directory without mpd.slice.*.json files"):
        load_playlists(str(tmp_path))
    pattern = str(tmp_path / "mpd.slice.*.json")
    with pytest.raises(DataError, match="no file matches this pattern") as raised:
        load_playlists(pattern)
    assert str(raised.value).startswith(pattern)


def test_slices_with_no_playlist_of_two_tracks_are_refused(tmp_path):
    write_slice(tmp_path, 0, [playlist(0, [1]), playlist(1, [])])
    with pytest.raises(DataError, match="no playlist has 2 or more items"):
        load_playlists(str(tmp_path))
