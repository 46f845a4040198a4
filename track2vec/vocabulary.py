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
    if min_count < 1:
        raise DataError(f"min_count must be >= 1, got {min_count}")
    unique, counts = np.unique(tokens, return_counts=True)
    keep = counts >= min_count
    unique, counts = unique[keep], counts[keep]
    if len(unique) == 0:
        raise DataError(f"the vocabulary is empty: no item occurs {min_count} or more times in the training playlists")
    order = np.lexsort((unique, -counts))
    unique, counts = unique[order], counts[order].astype(np.int64)
    artist_column = None
    if artists:
        artist_column = np.array([artists.get(item, "") for item in unique.tolist()], dtype=str)
    return Vocabulary(unique, counts, artist_column)


def artist_ids(vocabulary: Vocabulary) -> np.ndarray | None:
    """Each item's artist as an integer id [V] (-1 where unknown); None when the corpus names no artist."""
    if vocabulary.artists is None:
        return None
    names, ids = np.unique(vocabulary.artists, return_inverse=True)
    ids = ids.astype(np.int32)
    unknown = names == ""
    if unknown.any():
        ids = np.where(ids == np.flatnonzero(unknown)[0], -1, ids)
        ids = np.where(ids > np.flatnonzero(unknown)[0], ids - 1, ids)
    return ids.astype(np.int32)

