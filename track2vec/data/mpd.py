"""The Million Playlist Dataset's own format: ``mpd.slice.<first>-<last>.json`` files, read one at a time.

A slice is ``{"info": {...}, "playlists": [{"pid", "name", "tracks": [{"pos", "track_uri",
"artist_uri", "album_uri", "track_name", "artist_name", ...}]}]}`` (1,000 playlists, ~30 MB).
A playlist's items are its ``track_uri`` values in ``pos`` order; a track's ``artist_uri`` is
kept as its artist (the first one seen, as for Deezer's ``artist_`` tokens). Only one
slice's JSON is in memory at a time: each track URI becomes an integer id as it is read.

``--data`` names slices as a directory (its ``mpd.slice.*.json`` files), a glob pattern
(quote it from the shell), or one ``.json`` file. They are read in the order of the numeric
range in their names (``mpd.slice.0-999.json`` before ``mpd.slice.1000-1999.json``); files
named otherwise come after, by name.

The fingerprint of a set of slices is ``mpd-slices:sha256:`` and the SHA-256 of one line
``<file name>\\t<size in bytes>\\t<SHA-256 of the file>\\n`` per slice, in reading order.
"""

from __future__ import annotations

import glob
import hashlib
import json
import re
from array import array
from operator import itemgetter
from pathlib import Path

import numpy as np

from track2vec.data.playlists import IdTable, Playlists, names_array, playable
from track2vec.errors import DataError

SLICE_GLOB = "mpd.slice.*.json"
_SLICE_NAME = re.compile(r"mpd\.slice\.(\d+)-(\d+)\.json")
_GLOB_CHARACTERS = "*?["


def is_slices(spec: str) -> bool:
    """Whether ``spec`` names slices: a directory, a ``.json`` file, or a pattern that is no file's name."""
    path = Path(spec)
    if path.is_dir():
        return True
    if path.exists():
        return path.suffix.lower() == ".json"
    return any(character in spec for character in _GLOB_CHARACTERS)


def slice_files(spec: str) -> list[Path]:
    """The slice files ``spec`` names, in reading order; none is a DataError."""
    path = Path(spec)
    if path.is_dir():
        files = [file for file in path.glob(SLICE_GLOB) if file.is_file()]
        if not files:
            raise DataError(f"{spec}: is a directory without {SLICE_GLOB} files (expected a .npy or text "
                            "file, or a directory of Million Playlist Dataset slices)")
    elif path.exists():
        files = [path]
    else:
        files = [Path(name) for name in glob.glob(spec) if Path(name).is_file()]
        if not files:
            raise DataError(f"{spec}: no file matches this pattern")
    return sorted(files, key=_reading_order)


def _reading_order(path: Path) -> tuple:
    match = _SLICE_NAME.fullmatch(path.name)
    if match:
        return (0, int(match.group(1)), int(match.group(2)), path.name, str(path))
    return (1, 0, 0, path.name, str(path))


def read_slices(spec: str) -> Playlists:
    """The playlists of every slice that ``spec`` names (playlists of fewer than 2 tracks left out)."""
    files = slice_files(spec)
    table = IdTable()
    artist_ids: dict[str, int] = {}
    track_artist = array("i")  # track id -> artist id, -1 while unknown
    fingerprint = hashlib.sha256()
    for path in files:
        try:
            raw = path.read_bytes()
        except OSError as error:
            raise DataError(f"{path}: cannot read ({error.strerror})") from None
        fingerprint.update(f"{path.name}\t{len(raw)}\t{hashlib.sha256(raw).hexdigest()}\n".encode())
        playlists = _slice_playlists(raw, path)
        del raw
        for number, playlist in enumerate(playlists):
            tracks = _tracks_in_order(playlist, path, number)
            ids = table.add(map(itemgetter(1), tracks))
            for track, (_, _, artist) in zip(ids, tracks):
                if track == len(track_artist):
                    track_artist.append(-1)
                if artist is not None and track_artist[track] < 0:
                    track_artist[track] = artist_ids.setdefault(artist, len(artist_ids))
        del playlists
    tokens, offsets, names = table.arrays()
    name_artists = None
    if artist_ids:  # index -1 (unknown) picks the "" appended last
        artist_names = np.append(names_array(list(artist_ids)), "")
        name_artists = artist_names[np.frombuffer(track_artist, dtype=np.int32)]
    source = spec if not Path(spec).exists() else str(Path(spec).resolve())
    return playable(tokens, offsets, names, name_artists, source=source,
                    fingerprint="mpd-slices:sha256:" + fingerprint.hexdigest())


def _slice_playlists(raw: bytes, path: Path) -> list:
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as error:
        raise DataError(f"{path}: not JSON ({error.msg} at line {error.lineno}, column {error.colno})") from None
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not JSON (not UTF-8 text: bad byte at offset {error.start})") from None
    except RecursionError:
        raise DataError(f"{path}: not JSON that can be read (nested too deeply)") from None
    if not isinstance(data, dict) or not isinstance(data.get("playlists"), list):
        raise DataError(f'{path}: no "playlists" list (expected a Million Playlist Dataset slice)')
    return data["playlists"]


def _tracks_in_order(playlist, path: Path, number: int) -> list[tuple[int, str, str | None]]:
    """``(pos, track_uri, artist_uri or None)`` of a playlist's tracks, sorted by ``pos``."""
    if not isinstance(playlist, dict) or not isinstance(playlist.get("tracks"), list):
        raise DataError(f'{path}: playlist {number} has no "tracks" list')
    label = f"pid {playlist['pid']}" if "pid" in playlist else f"playlist {number}"
    tracks = []
    for index, track in enumerate(playlist["tracks"]):
        if not isinstance(track, dict):
            raise DataError(f"{path}: {label}, track {index}: not an object")
        uri, pos, artist = track.get("track_uri"), track.get("pos"), track.get("artist_uri")
        if not isinstance(uri, str) or not uri:
            raise DataError(f'{path}: {label}, track {index}: no "track_uri"')
        if "\x00" in uri:
            raise DataError(f'{path}: {label}, track {index}: a NUL character in "track_uri"')
        if not isinstance(pos, int) or isinstance(pos, bool):
            raise DataError(f'{path}: {label}, track {index}: no whole-number "pos"')
        tracks.append((pos, uri, artist if isinstance(artist, str) and artist else None))
    tracks.sort(key=itemgetter(0))
    return tracks
