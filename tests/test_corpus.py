"""The corpus split: training part, vocabulary, and held-out (next-to-last, last) pairs."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from track2vec.corpus import build_corpus
from track2vec.data.loaders import Playlists
from track2vec.errors import DataError, Track2VecError
from track2vec.vocabulary import build_vocabulary


def playlists_of(items: list[list[str]]) -> Playlists:
    return Playlists.from_lists(items, {}, source="test-playlists", fingerprint="test")


def random_playlists(seed: int, n: int = 400, pool: int = 40) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, pool + 1)
    weights /= weights.sum()
    return [[f"i{j}" for j in rng.choice(pool, rng.integers(2, 12), p=weights)] for _ in range(n)]


def identified_playlists(n: int) -> list[list[str]]:
    """Playlist k ends with (q_k, r_k), both seen earlier in it: every held-out pair names its playlist."""
    rng = np.random.default_rng(n)
    result = []
    for k in range(n):
        body = [f"c{j}" for j in rng.integers(0, 10, rng.integers(0, 5))]
        result.append([f"r{k}", f"q{k}", *body, f"q{k}", f"r{k}"])
    return result


def decode(corpus, pairs: np.ndarray) -> list[tuple[str, str]]:
    items = corpus.vocabulary.items
    return [(str(items[a]), str(items[b])) for a, b in pairs]


@pytest.fixture(scope="module")
def random_items() -> list[list[str]]:
    return random_playlists(seed=11)


# --- determinism -----------------------------------------------------------------------------------


def test_split_is_deterministic_per_seed_and_differs_across_seeds(random_items):
    first = build_corpus(playlists_of(random_items), min_count=1, n_validation=50, n_test=50, seed=3)
    again = build_corpus(playlists_of(random_items), min_count=1, n_validation=50, n_test=50, seed=3)
    other = build_corpus(playlists_of(random_items), min_count=1, n_validation=50, n_test=50, seed=4)
    for name in ("tokens", "offsets", "validation_pairs", "test_pairs"):
        np.testing.assert_array_equal(getattr(first, name), getattr(again, name))
    assert first.stats == again.stats
    assert not np.array_equal(first.validation_pairs, other.validation_pairs)
    assert not np.array_equal(first.test_pairs, other.test_pairs)
    # The seed only chooses the held-out sample: training part and vocabulary do not depend on it.
    np.testing.assert_array_equal(first.vocabulary.items, other.vocabulary.items)
    np.testing.assert_array_equal(first.tokens, other.tokens)


# --- held-out pairs --------------------------------------------------------------------------------


def test_validation_and_test_are_disjoint_samples_of_playlists():
    items = identified_playlists(300)
    corpus = build_corpus(playlists_of(items), min_count=1, n_validation=120, n_test=100, seed=1)
    validation, test = decode(corpus, corpus.validation_pairs), decode(corpus, corpus.test_pairs)
    assert len(validation) == 120 and len(test) == 100
    owners_validation = [int(q[1:]) for q, r in validation]
    owners_test = [int(q[1:]) for q, r in test]
    assert all(f"r{k}" == r for (q, r), k in zip(validation + test, owners_validation + owners_test))
    assert len(set(owners_validation)) == 120  # without replacement
    assert len(set(owners_test)) == 100
    assert not set(owners_validation) & set(owners_test)  # disjoint by playlist


def test_every_pair_is_the_last_two_items_of_a_distinct_playlist(random_items):
    corpus = build_corpus(playlists_of(random_items), min_count=1, n_validation=100, n_test=100, seed=7)
    vocabulary = set(corpus.vocabulary.items.tolist())
    available = Counter(
        (p[-2], p[-1]) for p in random_items
        if len(p) >= 3 and p[-2] != p[-1] and p[-2] in vocabulary and p[-1] in vocabulary
    )
    drawn = Counter(decode(corpus, corpus.validation_pairs) + decode(corpus, corpus.test_pairs))
    assert drawn and not drawn - available  # a sub-multiset: no playlist is used twice
    assert sum(drawn.values()) == 200


def test_training_part_is_every_playlist_without_its_last_item(random_items):
    corpus = build_corpus(playlists_of(random_items), min_count=3, n_validation=30, n_test=30, seed=0)
    vocabulary = set(corpus.vocabulary.items.tolist())
    assert corpus.n_playlists == len(random_items)
    items = corpus.vocabulary.items
    for index, playlist in enumerate(random_items):
        training = items[corpus.tokens[corpus.offsets[index] : corpus.offsets[index + 1]]].tolist()
        assert training == [item for item in playlist[:-1] if item in vocabulary]
    assert corpus.tokens.dtype == np.int32 and corpus.offsets[0] == 0 and corpus.offsets[-1] == len(corpus.tokens)
    out_of_vocabulary = sum(item not in vocabulary for playlist in random_items for item in playlist[:-1])
    assert corpus.stats["training_tokens_out_of_vocabulary"] == out_of_vocabulary
    assert corpus.stats["training_tokens"] == len(corpus.tokens)


def test_an_item_seen_only_as_a_last_item_does_not_leak_into_the_vocabulary():
    items = [["a", "b", "only_last"], ["a", "b", "c"], ["b", "a", "c"], ["c", "a", "b"]]
    corpus = build_corpus(playlists_of(items), min_count=1, n_validation=10, n_test=10, seed=0)
    assert "only_last" not in corpus.vocabulary.items.tolist()
    assert corpus.stats["pairs_out_of_vocabulary"] == 1


# --- vocabulary ------------------------------------------------------------------------------------


@pytest.mark.parametrize("min_count", [1, 2, 5, 20])
def test_vocabulary_is_ordered_by_descending_training_count_and_respects_min_count(random_items, min_count):
    corpus = build_corpus(playlists_of(random_items), min_count=min_count, n_validation=10, n_test=10, seed=0)
    counts = Counter(item for playlist in random_items for item in playlist[:-1])
    expected = sorted((item for item, count in counts.items() if count >= min_count), key=lambda i: (-counts[i], i))
    assert corpus.vocabulary.items.tolist() == expected
    assert corpus.vocabulary.counts.tolist() == [counts[item] for item in expected]
    assert corpus.stats["vocabulary_size"] == len(expected)


def test_vocabulary_carries_artists_and_encodes_unknown_items_as_minus_one():
    vocabulary = build_vocabulary(np.array(["t2", "t1", "t2", "t3", "t1", "t2"]), 1, {"t1": "a1", "t2": "a2"})
    assert vocabulary.items.tolist() == ["t2", "t1", "t3"]
    assert vocabulary.artists.tolist() == ["a2", "a1", ""]
    assert vocabulary.encode(np.array(["t3", "zz", "t2", "a", "t1"])).tolist() == [2, -1, 0, -1, 1]


def test_empty_vocabulary_after_min_count_is_a_data_error(random_items):
    with pytest.raises(DataError, match="vocabulary is empty"):
        build_corpus(playlists_of(random_items), min_count=10**6)


def test_min_count_below_one_is_refused(random_items):
    with pytest.raises(Track2VecError, match="min_count"):
        build_corpus(playlists_of(random_items), min_count=0)


# --- dropped pairs and sizes -----------------------------------------------------------------------


def test_out_of_vocabulary_and_repeated_pairs_are_dropped_and_counted():
    good = [["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"], ["a", "c", "b"], ["b", "a", "c"]]
    unknown_last = [["a", "b", "x1"], ["c", "a", "x2"]]
    unknown_next_to_last = [["a", "y1", "b"]]  # y1 is in training once: dropped with min_count=2
    repeated = [["a", "b", "b"], ["c", "a", "a"], ["b", "c", "c"]]
    too_short = [["a", "b"], ["c", "b"]]  # the training part would keep a single item: no pair
    items = good + unknown_last + unknown_next_to_last + repeated + too_short
    corpus = build_corpus(playlists_of(items), min_count=2, n_validation=100, n_test=100, seed=0)
    assert corpus.stats["pairs_out_of_vocabulary"] == 3
    assert corpus.stats["pairs_repeating_an_item"] == 3
    drawn = decode(corpus, corpus.validation_pairs) + decode(corpus, corpus.test_pairs)
    assert Counter(drawn) == Counter((p[-2], p[-1]) for p in good)
    assert corpus.stats["validation_pairs"] + corpus.stats["test_pairs"] == len(good)


@pytest.mark.parametrize(
    "usable, n_validation, n_test, expected",
    [
        (10, 10_000, 10_000, (5, 5)),
        (11, 10_000, 10_000, (6, 5)),
        (10, 3, 100, (3, 7)),
        (10, 100, 2, (8, 2)),
        (10, 100, 0, (10, 0)),
        (10, 4, 4, (4, 4)),
        (1, 10_000, 10_000, (1, 0)),
    ],
)
def test_small_corpora_give_fewer_pairs_never_overlapping(usable, n_validation, n_test, expected):
    items = identified_playlists(usable)
    corpus = build_corpus(playlists_of(items), min_count=1, n_validation=n_validation, n_test=n_test, seed=2)
    assert (len(corpus.validation_pairs), len(corpus.test_pairs)) == expected
    drawn = decode(corpus, corpus.validation_pairs) + decode(corpus, corpus.test_pairs)
    assert len(set(drawn)) == len(drawn)


def test_no_usable_validation_pair_is_a_data_error():
    items = [["a", "b"], ["b", "a"], ["a", "b", "b"], ["b", "a", "zz"]]  # too short, repeated, unknown
    with pytest.raises(DataError, match="validation set is empty"):
        build_corpus(playlists_of(items), min_count=1)


@pytest.mark.parametrize("n_validation, n_test", [(-1, 10), (0, 10), (10, -1)])
def test_invalid_sample_sizes_are_refused(random_items, n_validation, n_test):
    # A negative size must not slice from the end (``pairs[:-1]``) and silently use almost every pair.
    with pytest.raises(Track2VecError, match="validation|test"):
        build_corpus(playlists_of(random_items), min_count=1, n_validation=n_validation, n_test=n_test)


def test_held_out_pairs_name_the_playlist_they_end():
    from track2vec.data.loaders import load_playlists

    playlists = load_playlists("builtin:tiny")
    corpus = build_corpus(playlists, seed=3)
    items = corpus.vocabulary.items
    for pairs, sources in ((corpus.validation_pairs, corpus.validation_playlists), (corpus.test_pairs, corpus.test_playlists)):
        assert len(sources) == len(pairs)
        for (query, answer), index in zip(pairs, sources):
            assert playlists.items[index][-2:] == [items[query], items[answer]]
    assert not set(corpus.validation_playlists) & set(corpus.test_playlists)


def test_artist_ids_number_the_named_artists_and_mark_unknown_ones():
    from track2vec.vocabulary import Vocabulary, artist_ids

    vocabulary = Vocabulary(np.array(["t1", "t2", "t3", "t4"]), np.array([4, 3, 2, 1]),
                            np.array(["artist_b", "", "artist_a", "artist_b"]))
    ids = artist_ids(vocabulary)
    assert ids.tolist()[1] == -1 and ids[0] == ids[3] != ids[2] and set(ids.tolist()) == {-1, 0, 1}
    assert artist_ids(Vocabulary(np.array(["t1"]), np.array([1]))) is None
    assert artist_ids(Vocabulary(np.array(["t1"]), np.array([1]), np.array([""]))) is None  # none named


def test_counting_ids_gives_the_vocabulary_of_counting_their_names():
    from track2vec.vocabulary import vocabulary_of_ids

    rng = np.random.default_rng(3)
    names = np.array([f"n{k}" for k in rng.permutation(300)])  # ids do not sort like names
    ids = rng.choice(300, 5000, p=np.arange(300, 0, -1) / np.arange(300, 0, -1).sum())
    artists = np.array([f"a{k % 7}" if k % 3 else "" for k in range(300)])
    for min_count in (1, 3, 20):
        from_ids, id_of_name = vocabulary_of_ids(ids, names, min_count, artists)
        from_names = build_vocabulary(names[ids], min_count, {n: a for n, a in zip(names.tolist(), artists) if a})
        assert from_ids.items.tolist() == from_names.items.tolist()
        assert from_ids.counts.tolist() == from_names.counts.tolist()
        assert from_ids.artists.tolist() == from_names.artists.tolist()
        np.testing.assert_array_equal(id_of_name[ids], from_names.encode(names[ids]))


def test_names_that_occur_in_no_playlist_stay_out_of_the_vocabulary():
    playlists = Playlists(np.array([0, 1, 0, 2, 0, 1], dtype=np.int32), np.array([0, 3, 6]),
                          np.array(["a", "b", "c", "never"]), source="test")
    corpus = build_corpus(playlists, min_count=1, n_validation=1, n_test=0)
    assert corpus.vocabulary.items.tolist() == ["a", "b", "c"]
    assert corpus.vocabulary.counts.tolist() == [2, 1, 1]  # training parts: a b, c a


def test_the_validation_sample_is_seeded_distinct_sorted_and_keeps_small_sets_whole():
    from track2vec.corpus import sample_indices, validation_sample

    rows = sample_indices(10_000, 2_000, seed=3)
    assert len(rows) == len(np.unique(rows)) == 2_000 and (np.diff(rows) > 0).all() and rows[-1] < 10_000
    np.testing.assert_array_equal(rows, sample_indices(10_000, 2_000, seed=3))  # every trial: the same pairs
    assert not np.array_equal(rows, sample_indices(10_000, 2_000, seed=4))
    np.testing.assert_array_equal(sample_indices(500, 2_000, seed=3), np.arange(500))  # fewer pairs: all of them
    np.testing.assert_array_equal(sample_indices(10_000, 0, seed=3), np.arange(10_000))  # 0: all
    pairs = np.arange(20, dtype=np.int32).reshape(10, 2)
    assert validation_sample(pairs, 0, 0) is pairs
    np.testing.assert_array_equal(validation_sample(pairs, 4, 1), pairs[sample_indices(10, 4, 1)])
    with pytest.raises(Track2VecError, match="must be >= 0"):
        sample_indices(10, -1, 0)
