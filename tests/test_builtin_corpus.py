"""The built-in synthetic corpus: determinism, token format, structure and the oracle."""

from __future__ import annotations

import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from track2vec.data import builtin
from track2vec.data.builtin import SIZES, BuiltinCorpus, generate, resolve_size


@pytest.fixture(scope="module")
def small() -> BuiltinCorpus:
    return generate("small", seed=0)


def track_ids(playlist: list[str]) -> list[int]:
    return [int(token.removeprefix("track_")) for token in playlist[0::2]]


def held_out_pairs(corpus: BuiltinCorpus) -> tuple[np.ndarray, np.ndarray]:
    """(next-to-last, last) tracks of every playlist of 3 or more tracks, as the oracle uses them."""
    pairs = np.array([track_ids(p)[-2:] for p in corpus.playlists if len(p) >= 6])
    return pairs[:, 0], pairs[:, 1]


def test_default_size_is_small_and_sizes_are_named():
    assert {"small", "deezer"} <= set(SIZES)
    corpus = generate()
    assert corpus.size == "small" and corpus.seed == 0


def test_same_seed_same_playlists_other_seed_different(small):
    again = generate("small", seed=0)
    other = generate("small", seed=1)
    assert again.playlists == small.playlists
    assert again.oracle_ndcg_at_10 == small.oracle_ndcg_at_10
    assert other.playlists != small.playlists


def test_unknown_size_is_rejected():
    with pytest.raises(ValueError, match="unknown built-in size"):
        generate("huge")


def test_playlists_alternate_track_and_its_one_artist(small):
    artist_of: dict[str, str] = {}
    for playlist in small.playlists:
        assert len(playlist) >= 4 and len(playlist) % 2 == 0
        assert all(type(token) is str for token in playlist)
        for track, artist in zip(playlist[0::2], playlist[1::2]):
            assert track.startswith("track_") and track[6:].isdigit()
            assert artist.startswith("artist_") and artist[7:].isdigit()
            assert artist_of.setdefault(track, artist) == artist
            assert artist == f"artist_{small.catalogue.track_artist[int(track[6:])]}"


def test_consecutive_tracks_differ(small):
    for playlist in small.playlists:
        ids = track_ids(playlist)
        assert all(a != b for a, b in zip(ids, ids[1:]))


def test_sizes_match_the_preset(small):
    preset = SIZES["small"]
    lengths = np.array([len(p) // 2 for p in small.playlists])
    assert len(small.playlists) == preset["n_playlists"]
    assert lengths.min() >= 2
    assert abs(lengths.mean() - preset["mean_length"]) < 1.0
    assert lengths.std() > 5  # lengths vary


def test_popularity_is_heavy_tailed_and_ids_are_shuffled(small):
    counts = Counter(t for p in small.playlists for t in track_ids(p))
    occurrences = np.sort(np.array(list(counts.values())))[::-1]
    top_share = occurrences[: len(occurrences) // 100].sum() / occurrences.sum()
    assert top_share > 0.1  # top 1% of tracks: >10x their even share
    assert np.mean(occurrences >= 2) > 0.9  # yet nearly every track can be learned
    popularity = small.catalogue.popularity
    assert popularity.sum() == pytest.approx(1.0)
    ids = np.arange(len(popularity))
    assert abs(np.corrcoef(ids, popularity)[0, 1]) < 0.1


def test_consecutive_tracks_share_a_genre_far_above_chance(small):
    genre = small.catalogue.track_genre
    same, total = 0, 0
    for playlist in small.playlists:
        g = genre[track_ids(playlist)]
        same += int((g[1:] == g[:-1]).sum())
        total += len(g) - 1
    genre_share = np.bincount(genre, weights=small.catalogue.popularity)
    chance = float((genre_share**2).sum())
    assert same / total > 0.5
    assert same / total > 5 * chance


def test_next_item_scores_are_distributions_without_the_current_track(small):
    current = np.array([0, 5, 17, 1234, small.catalogue.n_tracks - 1])
    scores = small.catalogue.next_item_scores(current)
    assert scores.shape == (len(current), small.catalogue.n_tracks)
    assert np.allclose(scores.sum(axis=1), 1.0)
    assert (scores[np.arange(len(current)), current] == 0).all()
    assert (np.delete(scores, current, axis=1) > 0).all()


def test_sampler_follows_next_item_scores(small):
    cat = small.catalogue
    current = int(np.argmax(cat.popularity))
    n = 200_000
    drawn = cat.order[cat._step(np.random.default_rng(7), np.full(n, cat.position[current]))]
    true = cat.next_item_scores(np.array([current]))[0]
    assert (drawn != current).all()
    empirical = np.bincount(drawn, minlength=cat.n_tracks) / n
    n_artists = len(cat.artist_genre)
    by_artist_true = np.bincount(cat.track_artist, weights=true, minlength=n_artists)
    by_artist_seen = np.bincount(cat.track_artist, weights=empirical, minlength=n_artists)
    assert 0.5 * np.abs(by_artist_true - by_artist_seen).sum() < 0.03
    likely = np.argsort(-true)[:20]
    sigma = np.sqrt(true[likely] * (1 - true[likely]) / n)
    assert (np.abs(empirical[likely] - true[likely]) < 5 * sigma).all()


def test_oracle_is_bounded_and_matches_brute_force_ranking(small):
    assert 0 < small.oracle_ndcg_at_10 <= small.oracle_hr_at_10 <= 1
    query, target = held_out_pairs(small)  # fewer than 5,000: the oracle used them all
    ndcg, hits = [], []
    for block in range(0, len(query), 512):
        q, t = query[block : block + 512], target[block : block + 512]
        scores = small.catalogue.next_item_scores(q)
        rank = (scores > scores[np.arange(len(q)), t][:, None]).sum(axis=1)
        hits.append(rank < 10)
        ndcg.append(np.where(rank < 10, 1 / np.log2(rank + 2.0), 0.0))
    assert small.oracle_hr_at_10 == pytest.approx(np.concatenate(hits).mean())
    assert small.oracle_ndcg_at_10 == pytest.approx(np.concatenate(ndcg).mean())


def test_oracle_beats_popularity_ranking(small):
    popularity = small.catalogue.popularity
    query, target = held_out_pairs(small)
    above = (popularity[None, :] > popularity[target][:, None]).sum(axis=1)
    rank = above - (popularity[query] > popularity[target])  # the query is not ranked
    popular_hr = np.mean(rank < 10)
    popular_ndcg = np.mean(np.where(rank < 10, 1 / np.log2(rank + 2.0), 0.0))
    assert small.oracle_hr_at_10 > 2 * popular_hr
    assert small.oracle_ndcg_at_10 > 2 * popular_ndcg


@pytest.mark.slow
def test_deezer_size_is_deezer_scale():
    corpus = generate("deezer", seed=0)
    lengths = np.array([len(p) // 2 for p in corpus.playlists])
    distinct = len({token for p in corpus.playlists for token in p[0::2]})
    assert len(corpus.playlists) == 100_000
    assert 22 <= lengths.mean() <= 26
    assert 250_000 <= distinct <= 350_000
    assert 0 < corpus.oracle_ndcg_at_10 <= corpus.oracle_hr_at_10 <= 1


# --- the Million Playlist Dataset's size: mpd, mpd:N, the on-disk cache ----------------------------


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Path:
    directory = tmp_path / "cache"
    monkeypatch.setenv("TRACK2VEC_CACHE", str(directory))
    return directory


def test_mpd_is_the_million_playlist_datasets_size_and_mpd_n_scales_it():
    name, full = resolve_size("mpd")
    assert name == "mpd" and full["n_playlists"] == 1_000_000 and full["mean_length"] == 66
    assert 2_200_000 <= full["n_tracks"] <= 2_300_000 and full["n_artists"] == 296_000
    assert resolve_size("mpd:1000000") == ("mpd", full)
    name, scaled = resolve_size("mpd:200000")
    assert name == "mpd:200000" and scaled["n_playlists"] == 200_000
    assert scaled["n_tracks"] == round(full["n_tracks"] / 5) and scaled["n_artists"] == round(full["n_artists"] / 5)
    assert {k: v for k, v in scaled.items() if k not in ("n_playlists", "n_tracks", "n_artists")} == {
        k: v for k, v in full.items() if k not in ("n_playlists", "n_tracks", "n_artists")}


@pytest.mark.parametrize("size, says", [
    ("mpd:999", "from 1,000 to 1,000,000"), ("mpd:1000001", "from 1,000 to 1,000,000"), ("mpd:", "whole number"),
    ("mpd:2e5", "whole number"), ("mpd:-5", "whole number"), ("deezer:5000", "takes no playlist count"),
    ("mpd2", "unknown built-in size"),
])
def test_bad_mpd_sizes_are_refused(size, says):
    with pytest.raises(ValueError, match=says):
        resolve_size(size)


def test_scaled_mpd_has_the_datasets_shape(cache_dir):
    corpus = generate("mpd:20000", seed=0)
    lengths = np.diff(corpus.offsets)
    assert len(lengths) == 20_000 and lengths.min() >= 2
    assert 64 <= lengths.mean() <= 68  # the dataset: 66.3 tracks per playlist
    distinct = len(np.unique(corpus.tracks))
    assert 0.95 * 45_246 <= distinct <= 1.05 * 45_246  # 2,262,292 distinct tracks per 1M playlists, scaled
    counts = np.bincount(corpus.tracks)
    assert counts.max() / len(corpus.tracks) < 0.002  # no track dominates (the dataset's top: 0.07%)
    assert 0 < corpus.oracle_ndcg_at_10 <= corpus.oracle_hr_at_10 <= 1


def test_mpd_sizes_are_cached_by_size_and_seed_and_loaded_without_generating(cache_dir, monkeypatch):
    made = generate("mpd:1000", seed=4)
    files = sorted(cache_dir.iterdir())
    assert len(files) == 1 and files[0].suffix == ".npz" and "mpd-1000" in files[0].name and "seed4" in files[0].name
    with np.load(files[0], allow_pickle=False) as stored:  # plain arrays: nothing to unpickle
        assert all(stored[key].dtype != object for key in stored.files)

    def no_walk(*args, **kwargs):
        raise AssertionError("generated again instead of loading the cache")

    monkeypatch.setattr(builtin, "_walk", no_walk)
    loaded = generate("mpd:1000", seed=4)
    np.testing.assert_array_equal(loaded.tracks, made.tracks)
    np.testing.assert_array_equal(loaded.offsets, made.offsets)
    for name in ("popularity", "track_artist", "cumulative", "order", "artist_lo", "genre_hi"):
        np.testing.assert_array_equal(getattr(loaded.catalogue, name), getattr(made.catalogue, name))
    assert (loaded.oracle_ndcg_at_10, loaded.oracle_hr_at_10) == (made.oracle_ndcg_at_10, made.oracle_hr_at_10)
    with pytest.raises(AssertionError, match="generated again"):
        generate("mpd:1000", seed=5)  # another seed is another file
    with pytest.raises(AssertionError, match="generated again"):
        generate("mpd:1001", seed=4)  # another size too


@pytest.mark.parametrize("damage", ["garbage", "truncated", "wrong arrays"])
def test_a_damaged_cache_file_is_made_again(cache_dir, damage):
    made = generate("mpd:1000", seed=1)
    (path,) = cache_dir.iterdir()
    if damage == "garbage":
        path.write_bytes(b"not a zip file")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:5000])
    else:
        with np.load(path, allow_pickle=False) as stored:
            arrays = {key: stored[key] for key in stored.files}
        arrays["tracks"] = arrays["tracks"][:-3] + 10**9
        np.savez(path, **arrays)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = generate("mpd:1000", seed=1)
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]  # the damaged file was closed
    np.testing.assert_array_equal(again.tracks, made.tracks)
    assert again.oracle_ndcg_at_10 == made.oracle_ndcg_at_10
    with np.load(path, allow_pickle=False) as stored:  # rewritten
        np.testing.assert_array_equal(stored["tracks"], made.tracks)


def test_small_sizes_write_no_cache(cache_dir):
    generate("tiny", seed=0)
    assert not cache_dir.exists()
