"""Loaded playlists as integer ids: one flat array of tokens, offsets, and the distinct item names.

No Python object per token: a loader turns each distinct item into an id as it reads
(``IdTable``), and everything after works on NumPy arrays of ids.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from track2vec.errors import DataError


@dataclass(eq=False)
class Playlists:
    """Playlists of items, plus each item's artist where the source has one.

    Playlist ``k`` is ``names[tokens[offsets[k]:offsets[k + 1]]]``. ``names`` are distinct;
    some may occur in no playlist (items of playlists left out as too short, tracks of the
    built-in catalogue that no playlist drew). ``name_artists[i]`` is the artist of
    ``names[i]`` ("" where unknown); None when the source carries no artists at all.
    """

    tokens: np.ndarray  # int32 [n_tokens]: indices into names
    offsets: np.ndarray  # int64 [n_playlists + 1]
    names: np.ndarray  # unicode [n_names]
    name_artists: np.ndarray | None = None  # unicode [n_names]
    source: str = ""
    fingerprint: str = ""
    dropped_short: int = 0  # playlists with fewer than 2 items, left out
    oracle: dict[str, float] | None = None  # upper bound known for synthetic data

    @classmethod
    def from_lists(cls, items: Iterable[Iterable[str]], artists: dict[str, str] | None = None,
                   **fields) -> Playlists:
        """Playlists from lists of item names (every playlist kept) and an item -> artist mapping.

        Artists of items that are in no playlist are not kept.
        """
        table = IdTable()
        for playlist in items:
            table.add(playlist)
        tokens, offsets, names = table.arrays()
        name_artists = names_array([artists.get(name, "") for name in names.tolist()]) if artists else None
        return cls(tokens, offsets, names, name_artists, **fields)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def playlist(self, index: int) -> list[str]:
        """Playlist ``index`` as a list of item names."""
        return self.names[self.tokens[self.offsets[index]:self.offsets[index + 1]]].tolist()

    @cached_property
    def items(self) -> list[list[str]]:
        """Every playlist as a list of item names: a Python string per token, for small corpora and tests."""
        flat = self.names[self.tokens].tolist()
        bounds = self.offsets.tolist()
        return [flat[start:end] for start, end in zip(bounds[:-1], bounds[1:])]

    @cached_property
    def artists(self) -> dict[str, str]:
        """Item name -> artist, for the items whose artist is known."""
        if self.name_artists is None:
            return {}
        known = np.flatnonzero(self.name_artists != "")
        return dict(zip(self.names[known].tolist(), self.name_artists[known].tolist()))

    def head(self, count: int) -> Playlists:
        """The first ``count`` playlists (names and artists unchanged)."""
        count = min(count, len(self))
        offsets = self.offsets[: count + 1]
        return Playlists(self.tokens[: offsets[-1]], offsets, self.names, self.name_artists,
                         self.source, self.fingerprint, self.dropped_short, self.oracle)


def playable(tokens: np.ndarray, offsets: np.ndarray, names: np.ndarray, name_artists: np.ndarray | None,
             source: str, fingerprint: str, oracle: dict[str, float] | None = None) -> Playlists:
    """``Playlists`` of the playlists with 2 or more items (the others are counted); none is an error."""
    lengths = np.diff(offsets)
    keep = lengths >= 2
    if not keep.any():
        raise DataError(f"{source}: no playlist has 2 or more items")
    if not keep.all():
        tokens = tokens[np.repeat(keep, lengths)]
        offsets = np.concatenate([[0], np.cumsum(lengths[keep])]).astype(np.int64)
    return Playlists(tokens, offsets, names, name_artists, source, fingerprint, int((~keep).sum()), oracle)


class _Ids(dict):
    """str -> id; a new key gets the next id (a lookup of a known key runs at C speed)."""

    def __missing__(self, key: str) -> int:
        value = self[key] = len(self)
        return value


class IdTable:
    """Gives each distinct string an id in order of first appearance and collects playlists of ids."""

    def __init__(self) -> None:
        self.index: dict[str, int] = _Ids()
        self._tokens = array("i")
        self._lengths = array("q")

    def add(self, playlist: Iterable[str]) -> list[int]:
        """Append a playlist; returns its ids."""
        ids = list(map(self.index.__getitem__, playlist))
        self._tokens.extend(ids)
        self._lengths.append(len(ids))
        return ids

    def __len__(self) -> int:
        return len(self._lengths)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(tokens, offsets, names)`` of the playlists added so far."""
        tokens = np.frombuffer(self._tokens, dtype=np.int32).copy() if self._tokens else np.empty(0, np.int32)
        lengths = np.frombuffer(self._lengths, dtype=np.int64) if self._lengths else np.empty(0, np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        names = names_array(list(self.index))
        if any(name.endswith("\x00") for name in self.index):
            # A unicode array drops trailing NULs: names that differed only by them are one item.
            names, inverse = np.unique(names, return_inverse=True)
            tokens = inverse.astype(np.int32)[tokens]
        return tokens, offsets, names


def names_array(names: list[str]) -> np.ndarray:
    """``names`` as a unicode array (an empty list gives an empty one)."""
    return np.array(names, dtype=str) if names else np.empty(0, dtype="<U1")
