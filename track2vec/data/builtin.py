"""Built-in synthetic playlists in Deezer's token format, with a known best possible model.

The catalogue
    ``n_genres`` genres sit on a ring: genre ``g`` is related to ``g - 1`` and ``g + 1``.
    Every artist belongs to one genre (each genre has at least one artist), every
    track to one artist (each artist has at least two tracks; artist sizes are
    lognormal, so a few artists have many tracks). Track popularity is Zipf-like,
    ``w_r ∝ 1 / (r + offset) ** exponent`` over popularity ranks ``r``; ranks are
    partly shared within an artist (a popular artist tends to have popular tracks).
    Track and artist ids are random, so they do not sort by popularity or genre.

The playlists
    A playlist is a Markov walk over tracks that depends only on the current track
    ``i``. The first track is drawn by popularity; each next track, never ``i`` itself,
    is drawn by popularity from

    - another track of ``i``'s artist, with probability ``p_artist``;
    - another track of ``i``'s genre, with probability ``p_genre``;
    - any track of one of the two neighbouring genres (half each), ``p_drift``;
    - any other track of the catalogue, ``p_random``.

    "Never ``i`` itself" renormalises within a group, so for ``j != i``::

        P(j | i) = p_artist [a_j = a_i] w_j / (W_{a_i} - w_i)
                 + p_genre  [g_j = g_i] w_j / (W_{g_i} - w_i)
                 + p_drift / 2 [g_j = g_i ± 1] w_j / W_{g_j}
                 + p_random w_j / (1 - w_i)

    with ``W`` the total popularity of an artist or genre. Lengths are
    ``2 + Geometric`` with the preset's mean.

The oracle
    Ranking all tracks by the true ``P(next | next-to-last)`` is the best any model
    can do. ``oracle_ndcg_at_10`` and ``oracle_hr_at_10`` are its scores on the
    (next-to-last, last) pairs of a random sample of at most 5,000 playlists of
    3 or more tracks (those the evaluation holds out a pair from).

Sampling is vectorised: all playlists advance one position at a time, and a draw
inside a group is an inverse-CDF ``searchsorted`` on cumulative popularity in a
layout where every artist and every genre is a contiguous range.

Sizes
    ``tiny``, ``small`` and ``deezer`` are fixed presets. ``mpd`` is the Million Playlist
    Dataset's size (1,000,000 playlists of 66 tracks on average, about 2.26M distinct tracks
    of 296,000 artists, ~66M track occurrences); ``mpd:N`` (1,000 <= N <= 1,000,000) is N
    playlists over a catalogue scaled in proportion: ``round(2,270,000 * N / 1,000,000)``
    tracks and ``round(296,000 * N / 1,000,000)`` artists, the same 200 genres, mean length,
    popularity curve and walk. ``mpd:1000000`` is ``mpd``. The ``mpd`` sizes are cached on
    disk by size, seed and format version (``track2vec.data.cache``): made once, then loaded.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from operator import itemgetter

import numpy as np

from track2vec.data import cache

SIZES: dict[str, dict] = {
    # For tests: a study of a few trials in well under a minute.
    "tiny": dict(
        n_playlists=600, mean_length=15, n_tracks=600, n_artists=60, n_genres=6,
        zipf_exponent=1.0, zipf_offset=10.0,
        p_artist=0.3, p_genre=0.4, p_drift=0.2, p_random=0.1,
    ),
    # The README's main job: a short study; nearly every track occurs several times.
    "small": dict(
        n_playlists=3_000, mean_length=20, n_tracks=4_000, n_artists=400, n_genres=20,
        zipf_exponent=1.0, zipf_offset=10.0,
        p_artist=0.3, p_genre=0.4, p_drift=0.2, p_random=0.1,
    ),
    # Deezer scale: ~300,000 distinct tracks, a long tail of tracks that occur once.
    "deezer": dict(
        n_playlists=100_000, mean_length=24, n_tracks=420_000, n_artists=60_000, n_genres=100,
        zipf_exponent=1.0, zipf_offset=10.0,
        p_artist=0.3, p_genre=0.4, p_drift=0.2, p_random=0.1,
    ),
    # The Million Playlist Dataset's size: 1M playlists, ~2.26M distinct tracks, ~66M occurrences.
    # ``mpd:N`` scales playlists, tracks and artists by N / 1M (see the module docstring).
    "mpd": dict(
        n_playlists=1_000_000, mean_length=66, n_tracks=2_270_000, n_artists=296_000, n_genres=200,
        zipf_exponent=1.0, zipf_offset=100.0,
        p_artist=0.3, p_genre=0.4, p_drift=0.2, p_random=0.1,
    ),
}
SCALABLE = ("mpd",)  # sizes that take ``:N`` playlists
MIN_SCALED_PLAYLISTS = 1_000
CACHED = ("mpd",)  # sizes (with any ``:N``) kept in the on-disk cache
CACHE_FORMAT = 1  # bump when the generator's output or the cached arrays change

_ORACLE_PLAYLISTS = 5_000
_TOP = 10
_MIN_TRACKS_PER_ARTIST = 2


@dataclass(frozen=True, eq=False)
class SyntheticCatalogue:
    """Genres, artists, tracks and the exact transition model of the generator.

    ``order`` lays the tracks out by (genre, artist, descending popularity); ``position``
    is its inverse. Artists and genres are contiguous ranges ``[lo, hi)`` of that layout.
    """

    track_artist: np.ndarray  # int32 [n_tracks]
    artist_genre: np.ndarray  # int32 [n_artists]
    popularity: np.ndarray  # float64 [n_tracks], sums to 1
    track_genre: np.ndarray  # int32 [n_tracks]
    p_artist: float
    p_genre: float
    p_drift: float
    p_random: float
    order: np.ndarray  # int32 [n_tracks]: layout position -> track id
    position: np.ndarray  # int32 [n_tracks]: track id -> layout position
    cumulative: np.ndarray  # float64 [n_tracks + 1]: cumulative popularity along the layout
    artist_lo: np.ndarray  # int64 [n_artists]
    artist_hi: np.ndarray
    genre_lo: np.ndarray  # int64 [n_genres]
    genre_hi: np.ndarray

    @property
    def n_tracks(self) -> int:
        return len(self.track_artist)

    @property
    def n_genres(self) -> int:
        return len(self.genre_lo)

    @property
    def artist_mass(self) -> np.ndarray:
        return self.cumulative[self.artist_hi] - self.cumulative[self.artist_lo]

    @property
    def genre_mass(self) -> np.ndarray:
        return self.cumulative[self.genre_hi] - self.cumulative[self.genre_lo]

    def transition(self, current: np.ndarray, following: np.ndarray) -> np.ndarray:
        """P(following | current), elementwise over broadcast arrays of track ids."""
        current, following = np.asarray(current), np.asarray(following)
        pop_i, pop_j = self.popularity[current], self.popularity[following]
        artist_i, genre_i = self.track_artist[current], self.track_genre[current]
        genre_j = self.track_genre[following]
        genre_mass = self.genre_mass
        n = self.n_genres
        prob = self.p_random * pop_j / (1.0 - pop_i)
        prob = prob + np.where(genre_j == genre_i, self.p_genre * pop_j / (genre_mass[genre_i] - pop_i), 0.0)
        prob = prob + np.where(
            self.track_artist[following] == artist_i,
            self.p_artist * pop_j / (self.artist_mass[artist_i] - pop_i),
            0.0,
        )
        neighbours = (genre_j == (genre_i + 1) % n).astype(np.int8) + (genre_j == (genre_i - 1) % n)
        prob = prob + neighbours * (0.5 * self.p_drift * pop_j / genre_mass[genre_j])
        return np.where(following == current, 0.0, prob)

    def next_item_scores(self, current: np.ndarray) -> np.ndarray:
        """True P(next | current) as a [len(current), n_tracks] array; meant for small catalogues."""
        current = np.asarray(current, dtype=np.int64)
        return self.transition(current[:, None], np.arange(self.n_tracks)[None, :])

    def _draw(
        self, rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray, exclude: np.ndarray
    ) -> np.ndarray:
        """One popularity-weighted layout position in each ``[lo, hi)``, never ``exclude`` (-1: none)."""
        cumulative = self.cumulative
        excluded = exclude >= 0
        excluded_mass = np.where(excluded, cumulative[exclude + 1] - cumulative[exclude], 0.0)
        x = cumulative[lo] + rng.random(len(lo)) * (cumulative[hi] - cumulative[lo] - excluded_mass)
        # Skip over the excluded track's slice of the CDF: an exact draw from the rest.
        x += np.where(excluded & (x >= cumulative[exclude]), excluded_mass, 0.0)
        # Searched in sorted order: each search starts where the last ended, so a catalogue of millions
        # of tracks is walked in memory order instead of at random (the same positions come out).
        order = np.argsort(x)
        found = np.empty(len(x), dtype=np.int64)
        found[order] = np.searchsorted(cumulative, x[order], side="right")
        drawn = np.clip(found - 1, lo, hi - 1)
        # Rounding can still land on the excluded track; move to a neighbour in the group.
        clash = drawn == exclude
        drawn[clash] = np.where(drawn[clash] + 1 < hi[clash], drawn[clash] + 1, drawn[clash] - 1)
        return drawn

    def _step(self, rng: np.random.Generator, current: np.ndarray) -> np.ndarray:
        """Next layout positions for current layout positions (one Markov step each)."""
        tracks = self.order[current]
        artist, genre = self.track_artist[tracks], self.track_genre[tracks]
        thresholds = np.cumsum([self.p_artist, self.p_genre, self.p_drift])
        choice = np.searchsorted(thresholds, rng.random(len(current)), side="right")  # 3: whole catalogue
        neighbour = (genre + np.where(rng.random(len(current)) < 0.5, 1, -1)) % self.n_genres
        cases = [choice == 0, choice == 1, choice == 2]
        lo = np.select(cases, [self.artist_lo[artist], self.genre_lo[genre], self.genre_lo[neighbour]], 0)
        hi = np.select(
            cases, [self.artist_hi[artist], self.genre_hi[genre], self.genre_hi[neighbour]], self.n_tracks
        )
        exclude = np.where(choice == 2, -1, current)
        return self._draw(rng, lo, hi, exclude)


@dataclass(frozen=True, eq=False)
class BuiltinCorpus:
    """Generated playlists, the catalogue behind them and the oracle's scores.

    Playlist ``k`` is the track ids ``tracks[offsets[k]:offsets[k + 1]]``; ``playlists`` spells
    them out in Deezer's token format.
    """

    tracks: np.ndarray  # int32 [n_tokens]
    offsets: np.ndarray  # int64 [n_playlists + 1]
    catalogue: SyntheticCatalogue
    seed: int
    size: str
    oracle_ndcg_at_10: float
    oracle_hr_at_10: float

    @property
    def playlists(self) -> list[list[str]]:
        """Every playlist as alternating ``track_<id>``, ``artist_<id>`` tokens (a Python string per token)."""
        return _to_tokens(self.catalogue, self.tracks, self.offsets)

    def track_names(self) -> np.ndarray:
        """``track_<id>`` of every track id, as a unicode array."""
        return np.array([f"track_{t}" for t in range(self.catalogue.n_tracks)], dtype=str)

    def track_artist_names(self) -> np.ndarray:
        """``artist_<id>`` of every track id's artist, as a unicode array."""
        artists = np.array([f"artist_{a}" for a in range(len(self.catalogue.artist_genre))], dtype=str)
        return artists[self.catalogue.track_artist]


def resolve_size(size: str) -> tuple[str, dict]:
    """The canonical name and the generator options of ``size`` (a preset, or ``mpd:N``).

    Raises ValueError, one line, for an unknown size or a playlist count out of range.
    """
    name, colon, count = size.partition(":")
    if name not in SIZES:
        raise ValueError(f"unknown built-in size (choose from {', '.join(SIZES)}, or "
                         f"{' or '.join(f'{s}:N' for s in SCALABLE)} playlists)")
    options = dict(SIZES[name])
    if not colon:
        return name, options
    full = options["n_playlists"]
    if name not in SCALABLE:
        raise ValueError(f"built-in size {name} takes no playlist count (only {', '.join(SCALABLE)} does)")
    if not (count.isascii() and count.isdigit()) or not MIN_SCALED_PLAYLISTS <= int(count) <= full:
        raise ValueError(f"the playlist count of {name}:N must be a whole number from "
                         f"{MIN_SCALED_PLAYLISTS:,} to {full:,}, got {count!r}")
    n_playlists = int(count)
    if n_playlists == full:
        return name, options
    options["n_playlists"] = n_playlists
    for key in ("n_tracks", "n_artists"):
        options[key] = round(options[key] * n_playlists / full)
    return f"{name}:{n_playlists}", options


def generate(size: str = "small", seed: int = 0, use_cache: bool | None = None) -> BuiltinCorpus:
    """Generate the ``size`` preset's playlists; the same ``(size, seed)`` gives the same corpus.

    ``use_cache`` (default: for the ``CACHED`` sizes) loads the arrays from the on-disk
    cache when they are there, and writes them there when they were made.
    """
    size, options = resolve_size(size)
    if use_cache is None:
        use_cache = size.partition(":")[0] in CACHED
    catalogue_options = dict(options)
    n_playlists = catalogue_options.pop("n_playlists")
    mean_length = catalogue_options.pop("mean_length")
    name = _cache_name(size, seed, options)
    if use_cache:
        stored = cache.load_arrays(name, _CACHED_ARRAYS)
        if stored is not None and _consistent(stored, options):
            catalogue = _lay_out(stored["track_artist"], stored["artist_genre"], stored["popularity"],
                                 options["n_genres"], *(options[key] for key in _WALK_PROBABILITIES))
            ndcg, hr = stored["oracle"].tolist()
            return BuiltinCorpus(stored["tracks"], stored["offsets"], catalogue, seed, size, ndcg, hr)

    rng = np.random.default_rng(seed)
    catalogue = _make_catalogue(rng, **catalogue_options)
    tracks, offsets = _walk(rng, catalogue, n_playlists, mean_length)

    lengths = np.diff(offsets)
    eligible = np.flatnonzero(lengths >= 3)
    if len(eligible) > _ORACLE_PLAYLISTS:
        eligible = np.sort(rng.choice(eligible, _ORACLE_PLAYLISTS, replace=False))
    ends = offsets[eligible + 1]
    ndcg, hr = _oracle_scores(catalogue, tracks[ends - 2], tracks[ends - 1])

    if use_cache:
        cache.save_arrays(name, {
            "tracks": tracks, "offsets": offsets, "track_artist": catalogue.track_artist,
            "artist_genre": catalogue.artist_genre, "popularity": catalogue.popularity,
            "oracle": np.array([ndcg, hr]),
        })
    return BuiltinCorpus(tracks, offsets, catalogue, seed, size, ndcg, hr)


_CACHED_ARRAYS = ("tracks", "offsets", "track_artist", "artist_genre", "popularity", "oracle")
_WALK_PROBABILITIES = ("p_artist", "p_genre", "p_drift", "p_random")


def _cache_name(size: str, seed: int, options: dict) -> str:
    """File name of a corpus in the cache: size, seed, format version and a digest of the options."""
    digest = hashlib.sha256(json.dumps([CACHE_FORMAT, options], sort_keys=True).encode()).hexdigest()[:12]
    return f"builtin-{size.replace(':', '-')}-seed{seed}-v{CACHE_FORMAT}-{digest}.npz"


def _consistent(stored: dict[str, np.ndarray], options: dict) -> bool:
    """Whether cached arrays have the dtypes, shapes and ranges that the options imply."""
    tracks, offsets = stored["tracks"], stored["offsets"]
    track_artist, artist_genre = stored["track_artist"], stored["artist_genre"]
    n_tracks, n_artists = options["n_tracks"], options["n_artists"]
    return (
        tracks.dtype == np.int32 and offsets.dtype == np.int64 and track_artist.dtype == np.int32
        and artist_genre.dtype == np.int32 and stored["popularity"].dtype == np.float64
        and stored["oracle"].shape == (2,) and tracks.ndim == 1
        and offsets.shape == (options["n_playlists"] + 1,) and offsets[0] == 0 and offsets[-1] == len(tracks)
        and bool(np.all(np.diff(offsets) >= 2))
        and track_artist.shape == (n_tracks,) and artist_genre.shape == (n_artists,)
        and stored["popularity"].shape == (n_tracks,)
        and (len(tracks) == 0 or 0 <= tracks.min() and tracks.max() < n_tracks)
        and 0 <= track_artist.min() and track_artist.max() < n_artists
        and 0 <= artist_genre.min() and artist_genre.max() < options["n_genres"]
        and np.bincount(track_artist, minlength=n_artists).min() >= _MIN_TRACKS_PER_ARTIST
        and np.bincount(artist_genre, minlength=options["n_genres"]).min() >= 1
    )


def _make_catalogue(
    rng: np.random.Generator,
    n_tracks: int,
    n_artists: int,
    n_genres: int,
    zipf_exponent: float,
    zipf_offset: float,
    p_artist: float,
    p_genre: float,
    p_drift: float,
    p_random: float,
) -> SyntheticCatalogue:
    if n_genres < 3 or n_artists < n_genres or n_tracks < _MIN_TRACKS_PER_ARTIST * n_artists:
        raise ValueError("need at least 3 genres, an artist per genre and 2 tracks per artist")
    probabilities = (p_artist, p_genre, p_drift, p_random)
    if not np.isclose(sum(probabilities), 1.0) or min(probabilities) < 0:
        raise ValueError("p_artist, p_genre, p_drift and p_random must be >= 0 and sum to 1")

    artist_genre = rng.permutation(
        np.concatenate([np.arange(n_genres), rng.integers(0, n_genres, n_artists - n_genres)])
    ).astype(np.int32)
    artist_weight = rng.lognormal(0.0, 1.0, n_artists)
    sizes = _MIN_TRACKS_PER_ARTIST + rng.multinomial(
        n_tracks - _MIN_TRACKS_PER_ARTIST * n_artists, artist_weight / artist_weight.sum()
    )
    track_artist = rng.permutation(np.repeat(np.arange(n_artists, dtype=np.int32), sizes))
    track_genre = artist_genre[track_artist]

    # Popularity rank: an artist effect plus a track effect, mapped onto a Zipf curve.
    appeal = rng.normal(size=n_artists)[track_artist] + rng.normal(size=n_tracks)
    zipf = 1.0 / (np.arange(1, n_tracks + 1) + zipf_offset) ** zipf_exponent
    popularity = np.empty(n_tracks)
    popularity[np.argsort(-appeal, kind="stable")] = zipf / zipf.sum()
    return _lay_out(track_artist, artist_genre, popularity, n_genres, p_artist, p_genre, p_drift, p_random)


def _lay_out(
    track_artist: np.ndarray, artist_genre: np.ndarray, popularity: np.ndarray, n_genres: int,
    p_artist: float, p_genre: float, p_drift: float, p_random: float,
) -> SyntheticCatalogue:
    """The catalogue of these tracks, artists and popularities: the layout by genre and artist."""
    n_tracks, n_artists = len(track_artist), len(artist_genre)
    track_genre = artist_genre[track_artist]
    order = np.lexsort((-popularity, track_artist, track_genre)).astype(np.int32)
    position = np.empty(n_tracks, dtype=np.int32)
    position[order] = np.arange(n_tracks, dtype=np.int32)
    cumulative = np.concatenate([[0.0], np.cumsum(popularity[order])])

    laid_artist = track_artist[order]
    starts = np.flatnonzero(np.r_[True, laid_artist[1:] != laid_artist[:-1]])
    artist_lo = np.empty(n_artists, dtype=np.int64)
    artist_hi = np.empty(n_artists, dtype=np.int64)
    artist_lo[laid_artist[starts]] = starts
    artist_hi[laid_artist[starts]] = np.r_[starts[1:], n_tracks]
    laid_genre = track_genre[order]
    genres = np.arange(n_genres)
    genre_lo = np.searchsorted(laid_genre, genres, side="left").astype(np.int64)
    genre_hi = np.searchsorted(laid_genre, genres, side="right").astype(np.int64)

    return SyntheticCatalogue(
        track_artist, artist_genre, popularity, track_genre,
        float(p_artist), float(p_genre), float(p_drift), float(p_random),
        order, position, cumulative, artist_lo, artist_hi, genre_lo, genre_hi,
    )


def _walk(
    rng: np.random.Generator, catalogue: SyntheticCatalogue, n_playlists: int, mean_length: float
) -> tuple[np.ndarray, np.ndarray]:
    """All playlists as flat track ids and offsets; playlist k is ``tracks[offsets[k]:offsets[k+1]]``."""
    lengths = 1 + rng.geometric(1.0 / (mean_length - 1.0), n_playlists)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    # Longest first, so the playlists still growing at step t are a prefix of this order.
    by_length = np.argsort(-lengths, kind="stable")
    sorted_lengths = lengths[by_length]
    starts = offsets[by_length]

    positions = np.empty(offsets[-1], dtype=np.int32)
    everything = np.zeros(n_playlists, dtype=np.int64), np.full(n_playlists, catalogue.n_tracks)
    positions[starts] = catalogue._draw(rng, *everything, exclude=np.full(n_playlists, -1))  # by popularity
    for t in range(1, int(sorted_lengths[0])):
        active = starts[: np.searchsorted(-sorted_lengths, -t, side="left")]
        positions[active + t] = catalogue._step(rng, positions[active + t - 1])
    return catalogue.order[positions], offsets


def _oracle_scores(
    catalogue: SyntheticCatalogue, query: np.ndarray, target: np.ndarray
) -> tuple[float, float]:
    """NDCG@10 and HR@10 of ranking all tracks but ``query`` by the true P(· | query).

    Within each of the classes "same artist", "same genre", "neighbouring genre" and
    "any track", P(j | query) grows with popularity, so the top 10 lies among the
    11 most popular tracks of each class besides the query: those are the only
    candidates scored, which keeps the Deezer size fast.
    """
    k = _TOP + 2  # one slot for the query itself, one spare
    cat = catalogue
    artist, genre = cat.track_artist[query], cat.track_genre[query]
    n = cat.n_genres
    genre_top = _genre_top(cat, k)
    candidates = np.concatenate(
        [
            _range_top(cat, cat.artist_lo[artist], cat.artist_hi[artist], k),
            genre_top[genre],
            genre_top[(genre + 1) % n],
            genre_top[(genre - 1) % n],
            np.broadcast_to(np.argsort(-cat.popularity, kind="stable")[:k], (len(query), k)),
        ],
        axis=1,
    )
    candidates = np.sort(candidates, axis=1)
    valid = (candidates >= 0) & (candidates != query[:, None])
    valid[:, 1:] &= candidates[:, 1:] != candidates[:, :-1]
    scores = np.where(valid, cat.transition(query[:, None], np.maximum(candidates, 0)), -1.0)
    target_scores = cat.transition(query, target)
    rank = (scores > target_scores[:, None]).sum(axis=1)
    hit = rank < _TOP
    ndcg = np.where(hit, 1.0 / np.log2(rank + 2.0), 0.0)
    return float(ndcg.mean()), float(hit.mean())


def _range_top(cat: SyntheticCatalogue, lo: np.ndarray, hi: np.ndarray, k: int) -> np.ndarray:
    """The (up to) k most popular track ids of each layout range ``[lo, hi)`` of one artist; -1 pads."""
    slots = lo[:, None] + np.arange(k)
    return np.where(slots < hi[:, None], cat.order[np.minimum(slots, cat.n_tracks - 1)], -1)


def _genre_top(cat: SyntheticCatalogue, k: int) -> np.ndarray:
    """[n_genres, k]: the k most popular track ids of each genre, -1 padded."""
    by_genre = np.lexsort((-cat.popularity, cat.track_genre))
    lo = np.searchsorted(cat.track_genre[by_genre], np.arange(cat.n_genres), side="left")
    hi = np.searchsorted(cat.track_genre[by_genre], np.arange(cat.n_genres), side="right")
    slots = lo[:, None] + np.arange(k)
    return np.where(slots < hi[:, None], by_genre[np.minimum(slots, cat.n_tracks - 1)], -1)


def _to_tokens(catalogue: SyntheticCatalogue, tracks: np.ndarray, offsets: np.ndarray) -> list[list[str]]:
    """Interleave track and artist tokens; each distinct token is one shared ``str`` object."""
    track_names = [f"track_{t}" for t in range(catalogue.n_tracks)]
    artist_names = [f"artist_{a}" for a in range(len(catalogue.artist_genre))]
    track_artist_names = itemgetter(*catalogue.track_artist.tolist())(artist_names)
    flat_tracks = tracks.tolist()
    tokens: list[str] = [""] * (2 * len(flat_tracks))
    tokens[0::2] = itemgetter(*flat_tracks)(track_names)
    tokens[1::2] = itemgetter(*flat_tracks)(track_artist_names)
    bounds = (2 * offsets).tolist()
    return [tokens[bounds[k] : bounds[k + 1]] for k in range(len(bounds) - 1)]
