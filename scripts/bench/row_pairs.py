"""Row 1: pair generation, ``SkipGramSampler.epoch`` against the notebook's generator."""

from __future__ import annotations

import math
import random
from itertools import count

import numpy as np

from bench import notebook
from bench.common import PAPER, RowReport, Settings, alternate, describe_corpus, load_corpus, median, paired_ratios, \
    playlist_lists, si, spread, times

NOTEBOOK_BATCH_PLAYLISTS = 50  # the notebook's min_batch_size: playlists per generator step
TARGET = 100.0


def ours(corpus, epochs: count):
    """A callable that runs one full epoch of our sampler and returns its positive pairs."""
    from track2vec.sampling import SkipGramSampler

    sampler = SkipGramSampler(corpus.tokens, corpus.offsets, corpus.counts, PAPER["window"], PAPER["negatives"],
                              PAPER["alpha"], PAPER["subsample"], seed=0)

    def run() -> int:
        return sum(len(batch.targets) for batch in sampler.epoch(next(epochs)))

    run()  # warm-up: Numba loads (or first compiles) its loops once per process
    return run


def notebook_generator(corpus, n_playlists: int):
    """A callable that draws ``n_playlists`` playlists through the notebook's generator; returns positive pairs."""
    corpus_num = playlist_lists(corpus)
    st_smooth, st = notebook.sampling_tables(corpus.counts, PAPER["alpha"])
    steps = max(1, math.ceil(n_playlists / NOTEBOOK_BATCH_PLAYLISTS))

    def run() -> int:
        generator = notebook.track_ns_generator(corpus_num, NOTEBOOK_BATCH_PLAYLISTS, PAPER["window"],
                                                PAPER["negatives"], st_smooth, st, PAPER["subsample"])
        return sum(int(np.count_nonzero(next(generator)[1] == 1)) for _ in range(steps))

    return run


def run(settings: Settings) -> RowReport:
    report = RowReport(1, "Pair generation: SkipGramSampler.epoch vs the notebook's generator")
    random.seed(0)
    np.random.seed(0)
    report.detail(f"setting: window {PAPER['window']}, {PAPER['negatives']} negatives per positive pair, "
                  f"exponent {PAPER['alpha']}, subsampling t={PAPER['subsample']:g}; {settings.rounds} alternating rounds")
    report.detail(f"ours: one full epoch per round, after one warm-up epoch; notebook: {settings.notebook_playlists:,} playlists per round "
                  f"({NOTEBOOK_BATCH_PLAYLISTS} per generator step, random.sample as in the notebook)")
    report.detail("rate = positive pairs (each with its k negatives drawn) per second of generation")
    for name, spec in settings.pair_corpora:
        corpus = load_corpus(spec)
        samples = alternate({"ours": ours(corpus, count()), "notebook": notebook_generator(corpus, settings.notebook_playlists)},
                            settings.rounds)
        rates = {key: [s.value / s.seconds for s in values] for key, values in samples.items()}
        ratios = paired_ratios(rates["ours"], rates["notebook"])
        ratio = median(ratios)
        report.add(f"pairs/s, {name}", si(median(rates["ours"]), "pairs/s"), si(median(rates["notebook"]), "pairs/s"),
                   times(ratio), f">= {TARGET:.0f}x", ratio >= TARGET)
        report.detail(f"{name}: {describe_corpus(corpus)}")
        report.detail(f"  ours     {spread(rates['ours'], '{:,.0f}')} pairs/s "
                      f"({samples['ours'][0].value:,} pairs per epoch)")
        report.detail(f"  notebook {spread(rates['notebook'], '{:,.0f}')} pairs/s "
                      f"({median([s.value for s in samples['notebook']]):,.0f} pairs per round)")
        report.detail(f"  per-round ratios: {spread(ratios, '{:,.1f}')}")
    return report
