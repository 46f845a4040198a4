"""Read playlists from Deezer ``.npy`` files, plain text, or the built-in generator."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from track2vec.data.safe_npy import load_npy
from track2vec.errors import DataError

BUILTIN_PREFIX = "builtin"


@dataclass
class Playlists:
    """Playlists as item tokens, plus each item's artist where the source has one."""

    items: list[list[str]]
    artists: dict[str, str] = field(default_factory=dict)
    source: str = ""
    fingerprint: str = ""
    dropped_short: int = 0  # playlists with fewer than 2 items, left out
    oracle: dict[str, float] | None = None  # upper bound known for synthetic data


def load_playlists(spec: str, seed: int = 0) -> Playlists:
    """Load playlists from ``spec``: a ``.npy`` path, a text path, or ``builtin[:SIZE]``.

    ``seed`` only matters for the built-in generator.
    """
    if spec == BUILTIN_PREFIX or spec.startswith(BUILTIN_PREFIX + ":"):
        return _load_builtin(spec.partition(":")[2] or "small", seed)
    path = Path(spec)
    if not path.exists():
        raise DataError(f"{spec}: no such file")
    if path.is_dir():
        raise DataError(f"{spec}: is a directory, expected a .npy or text file")
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DataError(f"{spec}: cannot read ({error.strerror})") from None
    if not raw.strip():
        raise DataError(f"{spec}: file is empty")
    fingerprint = "sha256:" + hashlib.sha256(raw).hexdigest()
    if raw.startswith(b"\x93NUMPY"):
        token_lists = _playlists_from_array(load_npy(path), spec)
    elif path.suffix == ".npy":
        raise DataError(f"{spec}: not a .npy file (no NumPy header)")
    else:
        token_lists = _playlists_from_text(raw, spec)
    items, artists = _split_items_and_metadata(token_lists)
    return _finish(items, artists, source=str(path.resolve()), fingerprint=fingerprint)


def _load_builtin(size: str, seed: int) -> Playlists:
    from track2vec.data import builtin

    if size not in builtin.SIZES:
        raise DataError(f"builtin:{size}: unknown built-in size (choose from {', '.join(builtin.SIZES)})")
    corpus = builtin.generate(size, seed)
    items, artists = _split_items_and_metadata(corpus.playlists)
    oracle = {"ndcg_at_10": corpus.oracle_ndcg_at_10, "hr_at_10": corpus.oracle_hr_at_10}
    return _finish(items, artists, source=f"builtin:{size}", fingerprint=f"builtin:{size}:seed={seed}", oracle=oracle)


def _finish(items, artists, source, fingerprint, oracle=None) -> Playlists:
    kept = [playlist for playlist in items if len(playlist) >= 2]
    if not kept:
        raise DataError(f"{source}: no playlist has 2 or more items")
    return Playlists(kept, artists, source, fingerprint, len(items) - len(kept), oracle)


def _playlists_from_array(array: np.ndarray, spec: str) -> list[list[str]]:
    if array.dtype != object or array.ndim != 1:
        raise DataError(
            f"{spec}: expected a 1-D object array of playlists (lists of tokens), "
            f"got a {array.dtype} array of shape {array.shape}"
        )
    playlists = []
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
        playlists.append(tokens)
    if not playlists:
        raise DataError(f"{spec}: the array holds no playlists")
    return playlists


def _playlists_from_text(raw: bytes, spec: str) -> list[list[str]]:
    if b"\x00" in raw:
        raise DataError(f"{spec}: binary data (NUL bytes), expected text with one playlist per line")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DataError(f"{spec}: not UTF-8 text (bad byte at offset {error.start})") from None
    playlists = [line.split() for line in text.splitlines()]
    playlists = [tokens for tokens in playlists if tokens]
    if not playlists:
        raise DataError(f"{spec}: no tokens found")
    return playlists


def _split_items_and_metadata(token_lists: list[list[str]]) -> tuple[list[list[str]], dict[str, str]]:
    """Separate item tokens from metadata tokens.

    Deezer playlists alternate ``track_<id>`` and ``artist_<id>``; the e-commerce
    set alternates a product code and ``"useless"``. Anything else is a plain
    sequence of items.
    """
    sample = [token for playlist in token_lists[:200] for token in playlist]
    if any(token.startswith("track_") for token in sample):
        items, artists = [], {}
        for tokens in token_lists:
            tracks = []
            for token in tokens:
                if token.startswith("track_"):
                    tracks.append(token)
                elif token.startswith("artist_") and tracks:
                    artists.setdefault(tracks[-1], token)
            items.append(tracks)
        return items, artists
    if sample and all(token == "useless" for playlist in token_lists[:200] for token in playlist[1::2]):
        return [tokens[0::2] for tokens in token_lists], {}
    return token_lists, {}
