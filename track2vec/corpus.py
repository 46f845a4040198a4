"""The encoded corpus: flat token arrays for training, held-out pairs for evaluation.

Every playlist loses its last item for training. Validation and test pairs are
(next-to-last, last) items of disjoint random samples of playlists, drawn
without replacement. The vocabulary is counted on the training part only, so
no held-out item leaks into the counts that drive sampling.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass

import numpy as np

from track2vec.data.loaders import Playlists
from track2vec.errors import ConfigError, DataError
from track2vec.vocabulary import Vocabulary, vocabulary_of_ids

# Defaults of every tool that builds a corpus (track2vec train, track2vec-tune run).
DEFAULT_DATA = "builtin"  # the built-in synthetic corpus (track2vec/data/builtin.py)
DATA_HELP = ("a Deezer-style .npy file, a text or .csv file (one playlist per line), an event log (a row an "
             "interaction, a header naming its session and item columns, e.g. SessionId ItemId Time), "
             "any of them gzip, bzip2 or xz compressed, Million Playlist Dataset slices "
             "(a directory of mpd.slice.*.json files, a quoted glob, or one .json file), "
             "or builtin[:tiny|small|deezer|mpd|mpd:N]")
DEFAULT_MIN_COUNT = 2  # the notebook's
DEFAULT_VALIDATION_PAIRS = 10_000
DEFAULT_TEST_PAIRS = 10_000
# Stream of the validation sample's generator beside the split's (seed alone): a sample of the
# same seed is not correlated with the order the split drew.
_SAMPLE_STREAM = 0x76616C


@dataclass
class Corpus:
    """Everything a training run needs, in a form that Ray's object store shares zero-copy."""

    vocabulary: Vocabulary
    tokens: np.ndarray  # int32, training playlists concatenated
    offsets: np.ndarray  # int64 [n_playlists + 1]; playlist i is tokens[offsets[i]:offsets[i+1]]
    validation_pairs: np.ndarray  # int32 [n, 2]: (next-to-last, last)
    test_pairs: np.ndarray  # int32 [m, 2]
    seed: int
    fingerprint: str = ""
    stats: dict[str, int] = field(default_factory=dict)
    oracle: dict[str, float] | None = None
    # Index (in the loaded playlists, and in ``offsets`` unless the training playlists were sampled:
    # track2vec/corpus_sample.py) of the playlist each held-out pair ends.
    validation_playlists: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    test_playlists: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))

    @property
    def n_playlists(self) -> int:
        return len(self.offsets) - 1

    @property
    def counts(self) -> np.ndarray:
        return self.vocabulary.counts

    @property
    def nbytes(self) -> int:
        """Bytes of its arrays (the vocabulary's included): what a process that reads it holds."""
        return _array_bytes(self)


def _array_bytes(value) -> int:
    """Bytes of the NumPy arrays in a (nested) dataclass or dict."""
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if is_dataclass(value):
        return sum(_array_bytes(getattr(value, f.name)) for f in fields(value))
    if isinstance(value, dict):
        return sum(_array_bytes(v) for v in value.values())
    return 0


def build_corpus(
    playlists: Playlists,
    min_count: int = DEFAULT_MIN_COUNT,
    n_validation: int = DEFAULT_VALIDATION_PAIRS,
    n_test: int = DEFAULT_TEST_PAIRS,
    seed: int = 0,
) -> Corpus:
    """Encode ``playlists`` and split off validation and test pairs (seeded).

    With fewer usable pairs than requested, a sample that asks for less than half
    gets all it asks for and the other gets the rest; otherwise they share them.
    """
    if n_validation < 1:
        raise ConfigError(f"the number of validation pairs must be >= 1, got {n_validation}")
    if n_test < 0:
        raise ConfigError(f"the number of test pairs must be >= 0, got {n_test}")
    offsets = np.asarray(playlists.offsets, dtype=np.int64)
    lengths = np.diff(offsets)
    ends = offsets[1:]
    is_last = np.zeros(len(playlists.tokens), dtype=bool)
    is_last[ends - 1] = True
    training = playlists.tokens[~is_last]
    del is_last
    vocabulary, id_of_name = vocabulary_of_ids(training, playlists.names, min_count, playlists.name_artists)

    train_ids = id_of_name[training]
    del training
    in_vocabulary = train_ids >= 0
    tokens = train_ids[in_vocabulary]
    # Each playlist's training part is all but its last item: offsets shifted by one per playlist.
    train_starts = offsets[:-1] - np.arange(len(lengths))
    dropped = np.flatnonzero(~in_vocabulary)
    del train_ids, in_vocabulary
    per_playlist = (lengths - 1) - np.bincount(
        np.searchsorted(train_starts, dropped, side="right") - 1, minlength=len(lengths))
    offsets = np.concatenate([[0], np.cumsum(per_playlist)]).astype(np.int64)
    ids = id_of_name[playlists.tokens[np.concatenate([ends - 2, ends - 1])]].reshape(2, -1)

    eligible = lengths >= 3  # the training part keeps at least two items
    pairs = ids.T[eligible]
    known = (pairs >= 0).all(axis=1)
    repeated = known & (pairs[:, 0] == pairs[:, 1])
    usable = pairs[known & ~repeated]
    source_playlist = np.flatnonzero(eligible)[known & ~repeated]
    rng = np.random.default_rng(seed)
    shuffle = rng.permutation(len(usable))
    usable, source_playlist = usable[shuffle], source_playlist[shuffle]
    if len(usable) < n_validation + n_test:
        n_validation = min(n_validation, max((len(usable) + 1) // 2, len(usable) - n_test))
        n_test = min(n_test, len(usable) - n_validation)
    validation_pairs = usable[:n_validation].astype(np.int32)
    test_pairs = usable[n_validation : n_validation + n_test].astype(np.int32)
    validation_playlists = source_playlist[:n_validation]
    test_playlists = source_playlist[n_validation : n_validation + n_test]
    if len(validation_pairs) == 0:
        raise DataError(
            f"{playlists.source}: the validation set is empty: no playlist of 3 or more items "
            "has its last two items in the vocabulary"
        )
    stats = {
        "playlists": len(lengths),
        "playlists_too_short": int(playlists.dropped_short),
        "training_tokens": len(tokens),
        "training_tokens_out_of_vocabulary": len(dropped),
        "vocabulary_size": len(vocabulary),
        "pairs_out_of_vocabulary": int((~known).sum()),
        "pairs_repeating_an_item": int(repeated.sum()),
        "validation_pairs": len(validation_pairs),
        "test_pairs": len(test_pairs),
    }
    return Corpus(vocabulary, tokens.astype(np.int32, copy=False), offsets, validation_pairs, test_pairs,
                  seed, playlists.fingerprint, stats, playlists.oracle, validation_playlists, test_playlists)


def sample_indices(count: int, size: int, seed: int) -> np.ndarray:
    """Sorted indices of a seeded sample of ``size`` of ``count`` rows, without replacement.

    ``size`` 0, or ``size >= count``, keeps every row. The same ``(count, size, seed)``
    always gives the same rows, so every trial of a study scores the same sample.
    """
    if size < 0:
        raise ConfigError(f"the validation sample must be >= 0 pairs (0: all), got {size}")
    if size == 0 or size >= count:
        return np.arange(count)
    rng = np.random.default_rng([seed, _SAMPLE_STREAM])
    return np.sort(rng.choice(count, size, replace=False))


def validation_sample(pairs: np.ndarray, size: int, seed: int) -> np.ndarray:
    """The rows of ``pairs`` at ``sample_indices(len(pairs), size, seed)`` (``pairs`` itself when all are kept)."""
    indices = sample_indices(len(pairs), size, seed)
    return pairs if len(indices) == len(pairs) else pairs[indices]
