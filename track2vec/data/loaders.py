"""Read playlists from Deezer ``.npy`` files, plain text, event logs, Million Playlist Dataset slices, or the generator.

Every reader hands back ``Playlists``: item ids, offsets and the distinct item names; no
Python object per token outlives the reading of its playlist.
"""

from __future__ import annotations

import bz2
import difflib
import gzip
import hashlib
import io
import lzma
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from track2vec.data import events, mpd
from track2vec.data.playlists import IdTable, Playlists, playable
from track2vec.data.safe_npy import load_npy
from track2vec.errors import DataError

__all__ = ["BUILTIN_PREFIX", "Playlists", "load_playlists", "playable"]

BUILTIN_PREFIX = "builtin"
# Magic number -> (name, decompress, what it raises on a broken stream). bzip2's includes its first block's magic.
_COMPRESSIONS = {
    b"\x1f\x8b": ("gzip", gzip.decompress, (OSError, EOFError)),
    b"\xfd7zXZ\x00": ("xz", lzma.decompress, (lzma.LZMAError,)),
}
_COMPRESSIONS.update({b"BZh" + bytes([level]) + b"1AY&SY": ("bzip2", bz2.decompress, (OSError, ValueError))
                      for level in b"123456789"})
_FORMAT_SAMPLE = 200  # playlists looked at to tell Deezer's and the e-commerce token format apart


def load_playlists(spec: str, seed: int = 0) -> Playlists:
    """Load playlists from ``spec``: a ``.npy`` path, a text path (one playlist per line, or an event
    log with a header: ``track2vec.data.events``), Million Playlist Dataset slices (a directory, a
    glob, or one ``.json`` file) or ``builtin[:SIZE]``.

    ``seed`` only matters for the built-in generator.
    """
    if spec == BUILTIN_PREFIX or spec.startswith(BUILTIN_PREFIX + ":"):
        return _load_builtin(spec.partition(":")[2] or "small", seed)
    if mpd.is_slices(spec):
        return mpd.read_slices(spec)
    path = Path(spec)
    if not path.exists():
        raise DataError(f"{spec}: no such file{_builtin_hint(spec)}")
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DataError(f"{spec}: cannot read ({error.strerror})") from None
    fingerprint = "sha256:" + hashlib.sha256(raw).hexdigest()
    raw, suffix = _decompressed(raw, path, spec)
    if not raw or raw.isspace():
        raise DataError(f"{spec}: file is empty")
    if raw.startswith(b"\x93NUMPY"):
        arrays = _split_items_and_metadata(*_table_from_array(load_npy(io.BytesIO(raw), spec), spec).arrays())
    elif suffix == ".npy":
        raise DataError(f"{spec}: not a .npy file (no NumPy header)")
    else:
        arrays = _arrays_from_text(_decode_text(raw, spec), suffix, spec)
    del raw
    tokens, offsets, names, name_artists = arrays
    return playable(tokens, offsets, names, name_artists, source=str(path.resolve()), fingerprint=fingerprint)


def _decompressed(raw: bytes, path: Path, spec: str) -> tuple[bytes, str]:
    """The file's bytes, decompressed where they are gzip, bzip2 or xz, and its suffix without ``.gz``/``.bz2``/``.xz``.

    Compression is told by the bytes' own magic number, not by the name.
    """
    suffix = path.suffix.lower()
    if suffix in (".gz", ".bz2", ".xz"):
        suffix = Path(path.stem).suffix.lower()
    for magic, (name, decompress, errors) in _COMPRESSIONS.items():
        if raw.startswith(magic):
            try:
                return decompress(raw), suffix
            except errors as error:
                raise DataError(f"{spec}: truncated or corrupt {name} file ({error})") from None
    return raw, suffix


def _builtin_hint(spec: str) -> str:
    """A hint where a missing path looks like a misspelt ``builtin[:SIZE]`` (a bare word, not a path)."""
    word = spec.partition(":")[0]
    if "/" in spec or "." in word or difflib.SequenceMatcher(None, word.lower(), BUILTIN_PREFIX).ratio() < 0.75:
        return ""
    return f" (the built-in corpus is `{BUILTIN_PREFIX}` or `{BUILTIN_PREFIX}:SIZE`)"


def _load_builtin(size: str, seed: int) -> Playlists:
    from track2vec.data import builtin

    try:
        builtin.resolve_size(size)
    except ValueError as error:
        raise DataError(f"builtin:{size}: {error}") from None
    corpus = builtin.generate(size, seed)
    oracle = {"ndcg_at_10": corpus.oracle_ndcg_at_10, "hr_at_10": corpus.oracle_hr_at_10}
    artists = corpus.track_artist_names()
    artists[np.bincount(corpus.tracks, minlength=len(artists)) == 0] = ""  # only tracks that occur have one
    return playable(corpus.tracks, corpus.offsets, corpus.track_names(), artists,
                    source=f"builtin:{corpus.size}", fingerprint=f"builtin:{corpus.size}:seed={seed}", oracle=oracle)


def _table_from_array(array: np.ndarray, spec: str) -> IdTable:
    if array.dtype != object or array.ndim != 1:
        raise DataError(
            f"{spec}: expected a 1-D object array of playlists (lists of tokens), "
            f"got a {array.dtype} array of shape {array.shape}"
        )
    table = IdTable()
    for index, playlist in enumerate(array):
        if not isinstance(playlist, (list, tuple, np.ndarray)):
            raise DataError(f"{spec}: playlist {index} is a {type(playlist).__name__}, not a list of tokens")
        tokens = []
        for token in playlist:
            if isinstance(token, bytes):
                token = token.decode("utf-8", "replace")
            elif not isinstance(token, (str, int, np.integer)):
                raise DataError(f"{spec}: playlist {index} holds a {type(token).__name__}, expected str or int tokens")
            tokens.append(str(token))
        table.add(tokens)
    if not len(table):
        raise DataError(f"{spec}: the array holds no playlists")
    return table


def _decode_text(raw: bytes, spec: str) -> str:
    if b"\x00" in raw:
        raise DataError(f"{spec}: binary data (NUL bytes), expected text with one playlist per line")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DataError(f"{spec}: not UTF-8 text (bad byte at offset {error.start})") from None


def _arrays_from_text(text: str, suffix: str, spec: str):
    """An event log when the first non-blank line names its columns, else one playlist per line."""
    lines = _lines(text)
    for number, first_line in enumerate(lines, start=1):
        if first_line.strip():
            break
    header = events.read_header(first_line)
    if header is not None:
        return events.read_events(lines, header, spec, first_row_line=number + 1)
    if suffix in (".csv", ".tsv"):
        table = _table_from_rows(text, first_line, suffix, spec)
    else:
        table = _table_from_text(_lines(text), spec)
    arrays = table.arrays()
    separator = next((candidate for candidate in (",", ";") if candidate in first_line), None)
    if separator and not (np.diff(arrays[1]) >= 2).any():
        raise DataError(f"{spec}: no playlist has 2 or more items: a text file's items are separated by white "
                        f"space, and its lines are single tokens holding {separator!r} (name it .csv to split them "
                        f"there)")
    return _split_items_and_metadata(*arrays)


def _lines(text: str, chunk: int = 1 << 20):
    """The lines of ``text`` (``str.splitlines``), split a chunk of about ``chunk`` characters at a time.

    An event log has a line per interaction: split all at once, its lines would be a Python string
    each, held together; ``io.StringIO`` would copy the text at four bytes a character.
    """
    start = 0
    while start < len(text):
        end = text.find("\n", start + chunk)
        end = len(text) if end < 0 else end + 1
        yield from text[start:end].splitlines()
        start = end


def _table_from_rows(text: str, first_line: str, suffix: str, spec: str) -> IdTable:
    """A .csv or .tsv file without a header: a row a playlist, every non-empty field an item.

    Only when its rows differ in length. Rows all of one length are a table, an event log without
    its header (YooChoose's clicks: session, time, item, category), which read as playlists would
    be silently wrong: refused, asking for the header.
    """
    delimiter = next((candidate for candidate in ("\t", ";", ",") if candidate in first_line), None)
    widths = {len(row) for row in events.csv_rows(_lines(text), delimiter) if row} if delimiter else set()
    if len(widths) < 2:
        shape = f"every row has {widths.pop()} fields, a table" if widths else "no row has a delimiter"
        raise DataError(f"{spec}: {shape}: a {suffix} file of interactions needs {events.EXPECTED} "
                        f"(a {suffix} file of playlists has rows of different lengths); its first line is "
                        f"{first_line[:80]!r}")
    table = IdTable()
    for row in events.csv_rows(_lines(text), delimiter):
        items = [field.strip() for field in row if field.strip()]
        if items:
            table.add(items)
    return table


def _table_from_text(lines: Iterable[str], spec: str) -> IdTable:
    table = IdTable()
    for line in lines:
        tokens = line.split()
        if tokens:
            table.add(tokens)
    if not len(table):
        raise DataError(f"{spec}: no tokens found")
    return table


def _split_items_and_metadata(
    tokens: np.ndarray, offsets: np.ndarray, names: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Separate item tokens from metadata tokens: ``(tokens, offsets, names, name_artists)`` of the items.

    Deezer playlists alternate ``track_<id>`` and ``artist_<id>``: when a token of the first
    200 playlists starts with ``track_``, the ``track_`` tokens are the items and an
    ``artist_`` token is the artist of the track before it in its playlist (the first such
    artist of a track wins). The e-commerce set alternates a product code and ``"useless"``:
    when every second token of the first 200 playlists is ``"useless"``, the items are the
    tokens at even positions. Anything else is a plain sequence of items.
    """
    sample = tokens[: offsets[min(len(offsets) - 1, _FORMAT_SAMPLE)]]
    is_track = np.char.startswith(names, "track_")
    if is_track[sample].any():
        return _tracks_and_artists(tokens, offsets, names, is_track)
    position = np.arange(len(tokens)) - np.repeat(offsets[:-1], np.diff(offsets))
    if len(sample) and (names[sample[position[: len(sample)] % 2 == 1]] == "useless").all():
        tokens, offsets, used = _keep_tokens(tokens, offsets, position % 2 == 0, len(names))
        return tokens, offsets, names[used], None
    return tokens, offsets, names, None


def _tracks_and_artists(
    tokens: np.ndarray, offsets: np.ndarray, names: np.ndarray, is_track: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    token_is_track = is_track[tokens]
    last_track = np.maximum.accumulate(np.where(token_is_track, np.arange(len(tokens)), -1))
    playlist_start = np.repeat(offsets[:-1], np.diff(offsets))
    attached = np.char.startswith(names, "artist_")[tokens] & (last_track >= playlist_start)
    followed = tokens[last_track[attached]]  # the track that each attached artist token follows
    tracks, first = np.unique(followed, return_index=True)  # a track's first artist wins
    artists = tokens[attached][first]
    tokens, offsets, used = _keep_tokens(tokens, offsets, token_is_track, len(names))
    if not len(tracks):
        return tokens, offsets, names[used], None
    name_artists = np.full(len(used), "", dtype=names.dtype)
    name_artists[np.searchsorted(used, tracks)] = names[artists]
    return tokens, offsets, names[used], name_artists


def _keep_tokens(
    tokens: np.ndarray, offsets: np.ndarray, keep: np.ndarray, n_names: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The tokens where ``keep``, renumbered over the names they use: ``(tokens, offsets, used)``.

    ``used`` (sorted) are the old ids of the names still used; new id ``i`` is old id ``used[i]``.
    """
    counted = np.concatenate([[0], np.cumsum(keep)])
    tokens = tokens[keep]
    used = np.flatnonzero(np.bincount(tokens, minlength=n_names))
    new_id = np.full(n_names, -1, dtype=np.int32)
    new_id[used] = np.arange(len(used), dtype=np.int32)
    return new_id[tokens], counted[offsets].astype(np.int64), used
