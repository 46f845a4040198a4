#!/usr/bin/env python
"""Measure a trial's peak memory against ``track2vec.memory.estimate_peak_mib``, side by side.

Each configuration trains one epoch in a fresh process, as a 1-CPU trial worker does (the
benchmark's ``memory`` child, row 5): TensorFlow and Keras imported, the corpus unpickled, the
model built and compiled, then evaluated. Training keeps only the first ``--playlists``
playlists; the vocabulary, and so the tables and the optimizer state, stay full size. Printed for
each: the measured peak (the kernel's VmHWM), the estimate and their ratio. The estimate is what
``track2vec-tune run`` caps a search space with (the README's "memory per trial"), so it should not
fall below the measured peak.

By default the host allocator is chosen as a trial worker chooses it (``track2vec.runtime.configure_backend``:
TensorFlow's pooling allocator below a vocabulary size, malloc from it); ``--allocator both`` runs each
configuration with the pool and with malloc (TensorFlow's default), one after the other, and ``--stages``
prints each stage's peak and seconds (import, corpus, model, first call, later steps, evaluation), to see
where the two differ.

Usage::

    .venv/bin/python scripts/measure_trial_memory.py --data builtin:deezer --playlists 2000
    .venv/bin/python scripts/measure_trial_memory.py --data builtin:mpd --only lazy-adam --allocator both --stages
"""

from __future__ import annotations

import argparse
import pickle
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench.common import load_corpus, run_child, truncated  # noqa: E402

# TF_CPU_ALLOCATOR_USE_BFC for each mode: configure_backend's pool, or TensorFlow's default (malloc).
ALLOCATORS = {"pooled": "true", "malloc": "false"}


def in_a_study(**config) -> dict:
    """A configuration as a study trains it: the study fixes the softmax's shared rows (tune.search_space)."""
    from track2vec.config import SHARED_NEGATIVE_ROWS

    return {"shared_rows": SHARED_NEGATIVE_ROWS, **config}


# (what it varies, configuration): the corners that set each term of the estimate, and the defaults.
CONFIGURATIONS = (
    ("small everything", in_a_study(architecture="softmax", dim=16, batch_size=256, negatives=1)),
    ("large tables", in_a_study(architecture="softmax", dim=256, batch_size=256, negatives=1)),
    ("large softmax step", in_a_study(architecture="softmax", dim=16, batch_size=16384, negatives=20)),
    ("the space's largest corner", in_a_study(architecture="softmax", dim=256, batch_size=16384, negatives=20,
                                              window=10)),
    ("sgns, large step", in_a_study(architecture="sgns", dim=256, batch_size=16384, negatives=20)),
    ("middle of the space", in_a_study(architecture="softmax", dim=64, batch_size=2048, negatives=10)),
    # The same with sparse updates: at a large vocabulary dense Adam's copies of the tables dominate.
    ("middle of the space, lazy-adam", in_a_study(architecture="softmax", dim=64, batch_size=2048, negatives=10,
                                                  optimizer="lazy-adam")),
    # What `track2vec train` trains when nothing is named: its "auto" settings for the vocabulary.
    ("TrainConfig's default", {}),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="builtin:deezer")
    parser.add_argument("--playlists", type=int, default=2000, help="training playlists kept (vocabulary unchanged)")
    parser.add_argument("--only", nargs="*", help="run only the configurations whose label contains one of these")
    parser.add_argument("--allocator", choices=["trial", *ALLOCATORS, "both"], default="trial",
                        help="TensorFlow's host allocator in the trial (default: as a trial worker chooses it)")
    parser.add_argument("--stages", action="store_true", help="print each stage's peak and seconds")
    args = parser.parse_args()
    allocators = list(ALLOCATORS) if args.allocator == "both" else [args.allocator]

    from track2vec.config import TrainConfig
    from track2vec.memory import estimate_peak_mib
    from track2vec.vocabulary import artist_ids

    corpus = truncated(load_corpus(args.data), args.playlists)
    corpus_bytes = corpus.nbytes
    with tempfile.TemporaryDirectory(prefix="track2vec-memory-") as directory:
        path = Path(directory) / "corpus.pkl"
        path.write_bytes(pickle.dumps(corpus, protocol=5))
        groups = artist_ids(corpus.vocabulary)
        n_groups = 0 if groups is None else int(groups.max()) + 1
        print(f"{args.data}: vocabulary {len(corpus.vocabulary):,}, {args.playlists:,} training playlists, "
              f"corpus {corpus_bytes / 2**20:,.0f} MiB; one epoch each in a fresh process")
        for label, config in CONFIGURATIONS:
            if args.only and not any(part in label for part in args.only):
                continue
            estimated = estimate_peak_mib(TrainConfig(**config), len(corpus.vocabulary), corpus_bytes, n_groups)
            for allocator in allocators:
                result = run_child("memory", {"corpus": str(path), "config": config,
                                              "vocabulary_size": len(corpus.vocabulary)}, timeout=3600,
                                   env={"TF_CPU_ALLOCATOR_USE_BFC": ALLOCATORS.get(allocator)})
                measured = result["peak"] / 2**20
                print(f"  {label:28s} {allocator:6s} measured {measured:7,.0f} MiB   estimated {estimated:7,.0f} MiB   "
                      f"estimate / measured {estimated / measured:.2f}   {config}", flush=True)
                if args.stages:
                    for stage, peak in result["stages"].items():
                        print(f"      {stage:40s} peak {peak / 2**20:7,.0f} MiB   {result['seconds'].get(stage, 0):7.1f} s")


if __name__ == "__main__":
    main()
