"""Row 10: building the Million-Playlist-size corpus: seconds and peak resident memory.

Every measurement runs in a fresh Python process (its peak is the kernel's VmHWM, its own),
with the on-disk cache in a new temporary directory:

(a) ``builtin:mpd`` and intermediate sizes ``builtin:mpd:N`` (``--quick``: ``builtin:mpd:100000``
    only), first load: generate the playlists and write the cache, then ``build_corpus`` with the
    library's defaults (the targets of issue 13 apply to the full size);
(b) the same, loaded again: read the cache, then ``build_corpus`` (what every later run does);
(c) the former path, re-enacted at 100,000 playlists: the playlists as a Python string per
    token, one unicode array of them, ``np.unique`` on strings and encoding by search (what
    ``build_corpus`` did before issue 13); the same vocabulary comes out;
(d) Million Playlist Dataset slices: playlists of ``builtin:mpd:N`` written as N / 1,000 slices
    in the challenge's JSON layout (every field of a track), then read by ``load_playlists``
    and encoded by ``build_corpus``; seconds per slice, and that times the real set's 1,000.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from bench.common import RowReport, Settings, mib, run_child, seconds, times

FULL_PLAYLISTS = 1_000_000
TARGET_SECONDS = 60.0  # "about a minute on 2 cores" (issue 13)
TARGET_BYTES = 4 * 2**30
FORMER_PLAYLISTS = 100_000  # a Python string per token grows past a small machine at 1M: measured at this size
SLICE_PLAYLISTS = 1_000
DATASET_SLICES = 1_000


def spec(playlists: int) -> str:
    return "builtin:mpd" if playlists == FULL_PLAYLISTS else f"builtin:mpd:{playlists}"


# ---------------------------------------------------------------------------------------
# In the child process


def child(arguments: dict) -> dict:
    """One stage in a fresh process: ``build`` (load + build_corpus), ``former`` or ``write-slices``."""
    from bench.row_resources import peak_rss

    stage = arguments["stage"]
    if stage == "write-slices":
        return write_slices(arguments["spec"], Path(arguments["directory"]))
    from track2vec.corpus import build_corpus
    from track2vec.data.loaders import load_playlists

    started = time.perf_counter()
    playlists = load_playlists(arguments["spec"])
    loaded = time.perf_counter()
    if stage == "former":
        vocabulary = former_vocabulary(playlists)
    else:
        vocabulary = build_corpus(playlists).vocabulary
    built = time.perf_counter()
    return {"load": loaded - started, "build": built - loaded, "peak": peak_rss(), "tokens": len(playlists.tokens),
            "playlists": len(playlists), "vocabulary": len(vocabulary), "head": vocabulary.items[:100].tolist()}


def former_vocabulary(playlists):
    """``build_corpus``'s vocabulary as it was made before: from a Python string per token."""
    import numpy as np

    from track2vec.vocabulary import build_vocabulary

    items = [playlists.playlist(k) for k in range(len(playlists))]
    artists = playlists.artists
    lengths = np.fromiter((len(p) for p in items), dtype=np.int64, count=len(items))
    flat = np.array([item for playlist in items for item in playlist], dtype=str)
    is_last = np.zeros(len(flat), dtype=bool)
    is_last[np.cumsum(lengths) - 1] = True
    vocabulary = build_vocabulary(flat[~is_last], 2, artists)
    vocabulary.encode(flat)
    return vocabulary


def write_slices(spec_: str, directory: Path) -> dict:
    """``spec_``'s playlists as Million Playlist Dataset slices of 1,000 playlists; returns bytes written."""
    import numpy as np

    from track2vec.data import builtin

    corpus = builtin.generate(spec_.partition(":")[2], 0, use_cache=False)
    rng = np.random.default_rng(0)
    alphabet = np.array(list("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"))
    # Spotify ids: 22 base-62 characters, random but fixed per track, artist and album.
    track_ids = ["".join(row) for row in alphabet[rng.integers(0, 62, (corpus.catalogue.n_tracks, 22))]]
    artist_ids = ["".join(row) for row in alphabet[rng.integers(0, 62, (len(corpus.catalogue.artist_genre), 22))]]
    track_artist = corpus.catalogue.track_artist.tolist()
    tracks, bounds = corpus.tracks.tolist(), corpus.offsets.tolist()
    written = 0
    for first in range(0, len(bounds) - 1, SLICE_PLAYLISTS):
        last = min(first + SLICE_PLAYLISTS, len(bounds) - 1) - 1
        playlists = []
        for pid in range(first, last + 1):
            entries = [{"pos": pos, "artist_name": f"Artist {track_artist[t]}",
                        "track_uri": f"spotify:track:{track_ids[t]}",
                        "artist_uri": f"spotify:artist:{artist_ids[track_artist[t]]}",
                        "track_name": f"Track {t}", "album_uri": f"spotify:album:{track_ids[t][::-1]}",
                        "duration_ms": 180_000 + t % 120_000, "album_name": f"Album {t // 12}"}
                       for pos, t in enumerate(tracks[bounds[pid]:bounds[pid + 1]])]
            playlists.append({"name": f"playlist {pid}", "collaborative": "false", "pid": pid,
                              "modified_at": 1_500_000_000, "num_tracks": len(entries), "num_albums": len(entries),
                              "num_followers": 1, "tracks": entries, "num_edits": 1,
                              "duration_ms": sum(e["duration_ms"] for e in entries), "num_artists": len(entries)})
        text = json.dumps({"info": {"generated_on": "bench", "slice": f"{first}-{last}", "version": "v1"},
                           "playlists": playlists}, indent=4)
        (directory / f"mpd.slice.{first}-{last}.json").write_text(text)
        written += len(text)
    return {"bytes": written}


# ---------------------------------------------------------------------------------------
# In the benchmark process


def run(settings: Settings) -> RowReport:
    report = RowReport(10, "Million-Playlist-size corpus: build time and peak memory")
    sizes = settings.mpd_playlists
    with tempfile.TemporaryDirectory(prefix="track2vec-bench-cache-") as cache:
        env = {"TRACK2VEC_CACHE": cache}
        measured = {}
        for playlists in sizes:
            first = run_child("corpus", {"stage": "build", "spec": spec(playlists)}, timeout=3600, env=env)
            again = run_child("corpus", {"stage": "build", "spec": spec(playlists)}, timeout=3600, env=env)
            measured[playlists] = first, again
            sizing(report, playlists, first, again)
        former_size = min(FORMER_PLAYLISTS, max(sizes))
        if former_size in measured:
            now = measured[former_size][1]
        else:  # the first load fills the cache; the second is measured
            for _ in range(2):
                now = run_child("corpus", {"stage": "build", "spec": spec(former_size)}, timeout=3600, env=env)
        former = run_child("corpus", {"stage": "former", "spec": spec(former_size)}, timeout=3600, env=env)
    ours, theirs = now["load"] + now["build"], former["load"] + former["build"]
    report.add(f"cached load + build_corpus vs the former path (a Python string per token), {spec(former_size)}",
               f"{seconds(ours)}, peak {mib(now['peak'])}", f"{seconds(theirs)}, peak {mib(former['peak'])}",
               times(theirs / ours), "", None,
               "same vocabulary" if former["head"] == now["head"] and former["vocabulary"] == now["vocabulary"]
               else "VOCABULARIES DIFFER")
    report.detail(f"(c) former path, {spec(former_size)}: load {seconds(former['load'])}, "
                  f"build {seconds(former['build'])}, peak RSS {mib(former['peak'])}")
    slices(settings, report)
    return report


def sizing(report: RowReport, playlists: int, first: dict, again: dict) -> None:
    """The measures and details of one size: its first (generating) and its cached load."""
    full = playlists == FULL_PLAYLISTS
    for label, result in (("first load (generate, write the cache) + build_corpus", first),
                          ("cached load + build_corpus", again)):
        total = result["load"] + result["build"]
        met = total <= TARGET_SECONDS and result["peak"] <= TARGET_BYTES
        report.add(f"{label}, {spec(playlists)}", f"{seconds(total)}, peak {mib(result['peak'])}", "", "",
                   f"<= {TARGET_SECONDS:.0f} s, <= {mib(TARGET_BYTES)}" if full else "", met if full else None,
                   f"load {seconds(result['load'])}, build_corpus {seconds(result['build'])}")
    report.detail(f"(a, b) {spec(playlists)}: {first['playlists']:,} playlists, {first['tokens']:,} tokens, "
                  f"vocabulary {first['vocabulary']:,}")
    for label, result in (("first load", first), ("cached load", again)):
        report.detail(f"    {label:12s} load {seconds(result['load'])}, build {seconds(result['build'])}, "
                      f"peak RSS {mib(result['peak'])}")


def slices(settings: Settings, report: RowReport) -> None:
    count = settings.mpd_slices
    with tempfile.TemporaryDirectory(prefix="track2vec-bench-mpd-") as directory:
        written = run_child("corpus", {"stage": "write-slices", "spec": spec(count * SLICE_PLAYLISTS),
                                       "directory": directory}, timeout=3600)
        result = run_child("corpus", {"stage": "build", "spec": directory}, timeout=3600)
    per_slice = result["load"] / count
    report.add(f"read Million Playlist Dataset slices + build_corpus, {count} slices",
               f"{seconds(per_slice)} per slice, peak {mib(result['peak'])}", "", "", "", None,
               f"{written['bytes'] / count / 2**20:.0f} MiB of JSON per slice; x {DATASET_SLICES:,} slices: "
               f"~{per_slice * DATASET_SLICES / 60:.0f} min to read the whole set (linear in slices)")
    report.detail(f"(d) {count} slices of {spec(count * SLICE_PLAYLISTS)} in the challenge's layout, "
                  f"{written['bytes'] / 2**20:,.0f} MiB of JSON: read {seconds(result['load'])}, "
                  f"build_corpus {seconds(result['build'])}, peak RSS {mib(result['peak'])}, "
                  f"{result['tokens']:,} tokens, vocabulary {result['vocabulary']:,}")
