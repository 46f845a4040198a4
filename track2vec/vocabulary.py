"""Item vocabulary: ids ordered by descending count, rare items dropped."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from track2vec.errors import DataError


@dataclass
class Vocabulary:
    """Kept items, their training counts and (where known) their artists; id = row index."""

    items: np.ndarray  # unicode array [V], most frequent first
    counts: np.ndarray  # int64 [V]
    artists: np.ndarray | None = None  # unicode array [V], "" where unknown

    def __len__(self) -> int:
        return len(self.items)

    def encode(self, tokens: np.ndarray) -> np.ndarray:
        """Map item tokens to ids; -1 for items outside the vocabulary."""
        order = np.argsort(self.items)
        sorted_items = self.items[order]
        position = np.searchsorted(sorted_items, tokens)
        position = np.minimum(position, len(sorted_items) - 1)
        found = sorted_items[position] == tokens
        return np.where(found, order[position], -1).astype(np.int32)


def build_vocabulary(tokens: np.ndarray, min_count: int, artists: dict[str, str] | None = None) -> Vocabulary:
    """Count ``tokens`` (a flat unicode array) and keep items seen at least ``min_count`` times.

    Ties in count are broken by item name so that ids are deterministic.
    """
    names, ids = np.unique(tokens, return_inverse=True)
    name_artists = np.array([artists.get(name, "") for name in names.tolist()], dtype=str) if artists else None
    return vocabulary_of_ids(ids.reshape(-1), names, min_count, name_artists)[0]


def vocabulary_of_ids(
    ids: np.ndarray, names: np.ndarray, min_count: int, name_artists: np.ndarray | None = None
) -> tuple[Vocabulary, np.ndarray]:
    """Count ``ids`` (indices into the distinct item ``names``) and keep items seen ``min_count`` times.

    Ids go by descending count, ties broken by item name. Returns the vocabulary and, for
    every name, its id (-1: not kept), an int32 array to encode tokens with.
    """
    if min_count < 1:
        raise DataError(f"min_count must be >= 1, got {min_count}")
    counts = np.bincount(ids, minlength=len(names))
    kept = np.flatnonzero(counts >= min_count)
    if len(kept) == 0:
        raise DataError(f"the vocabulary is empty: no item occurs {min_count} or more times in the training playlists")
    kept = kept[np.lexsort((names[kept], -counts[kept]))]
    id_of_name = np.full(len(names), -1, dtype=np.int32)
    id_of_name[kept] = np.arange(len(kept), dtype=np.int32)
    artists = None if name_artists is None else name_artists[kept]
    return Vocabulary(names[kept], counts[kept].astype(np.int64), artists), id_of_name


def artist_ids(vocabulary: Vocabulary) -> np.ndarray | None:
    """Each item's artist as an integer id [V] (-1 where unknown); None when the corpus names no artist.

    The one test of "does the corpus name artists" (artist vectors need it, the search space asks it).
    """
    if vocabulary.artists is None:
        return None
    named = vocabulary.artists != ""
    if not named.any():
        return None
    ids = np.full(len(vocabulary), -1, dtype=np.int32)
    ids[named] = np.unique(vocabulary.artists[named], return_inverse=True)[1].reshape(-1)
    return ids
