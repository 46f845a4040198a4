#!/usr/bin/env python
"""The dense-counts rule's cost estimate against measured epochs (tune/dense_counts.py).

A study searches ``count-softmax`` beside ``softmax`` where the rule estimates that an epoch of
count-softmax's counted rows costs no more than one of the softmax's sampled pairs at the default
configuration (and the corpus names no artists, and its playlist ends do not pay). For each corpus
this prints the rule's estimate, then trains both architectures at that configuration side by side
in this one process, alternating, and prints the seconds of their later epochs (the first includes
compiling) and the measured ratio.

    .venv/bin/python scripts/measure_dense_counts.py --data builtin ../shared/data/ecommerce_sessions.npy \\
        ../shared/data/kosarak_sessions.txt ../shared/data/nowplaying_sessions.txt [--epochs 3] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from track2vec.config import TrainConfig  # noqa: E402
from track2vec.corpus import build_corpus  # noqa: E402
from track2vec.data.loaders import load_playlists  # noqa: E402
from tune.dense_counts import EpochCosts  # noqa: E402
from tune.driver import has_artists  # noqa: E402
from tune.run import fit_space_to_corpus  # noqa: E402
from tune.spec import StudySpec  # noqa: E402

ARCHITECTURES = ("softmax", "count-softmax")


def later_epoch_seconds(trainers: dict, epochs: int) -> dict[str, float]:
    """The fastest epoch after the first of each trainer, the architectures' epochs interleaved."""
    seconds = {name: [] for name in trainers}
    for epoch in range(epochs):
        for name, trainer in trainers.items():
            start = time.perf_counter()
            trainer.fit(epochs=epoch + 1, initial_epoch=epoch)
            seconds[name].append(time.perf_counter() - start)
    return {name: min(times[1:]) for name, times in seconds.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", nargs="+", default=["builtin"])
    parser.add_argument("--epochs", type=int, default=3, help="epochs per architecture (the first is not timed)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.epochs < 2:
        raise SystemExit("measure_dense_counts: --epochs must be at least 2 (the first epoch compiles)")

    from track2vec.training import Trainer  # Keras' import, after the arguments

    print(f"default configuration (dim {TrainConfig.dim}, window {TrainConfig.window}, {TrainConfig.negatives} "
          f"negatives; each architecture's step recipe), seed {args.seed}, best later epoch of {args.epochs}")
    print(f"{'corpus':42s} {'items':>7s} {'train items':>11s} {'estimate':>9s} {'softmax s':>9s} "
          f"{'count s':>8s} {'measured':>9s}  rule")
    for data in args.data:
        corpus = build_corpus(load_playlists(data, seed=args.seed), seed=args.seed)
        items, tokens = len(corpus.vocabulary), len(corpus.tokens)
        estimate = EpochCosts(items, tokens).ratio
        spec, notes = fit_space_to_corpus(StudySpec(name="measure", seed=args.seed), corpus)  # as a study would
        fires = spec.overrides.get("architecture") == "count-softmax"
        trainers = {name: Trainer(corpus, TrainConfig(architecture=name, seed=args.seed, epochs=args.epochs))
                    for name in ARCHITECTURES}
        seconds = later_epoch_seconds(trainers, args.epochs)
        other = notes[0].split(":")[0] if notes else "artists" if has_artists(corpus) else "dearer"
        verdict = "fires" if fires else f"no: {other}"
        print(f"{Path(data).name[:42]:42s} {items:7,d} {tokens:11,d} {estimate:8.2f}x {seconds['softmax']:9.2f} "
              f"{seconds['count-softmax']:8.2f} {seconds['count-softmax'] / seconds['softmax']:8.2f}x  {verdict}",
              flush=True)
    print("estimate and measured: an epoch of count-softmax's rows over one of softmax's pairs; the rule fires where "
          "the estimate is at most 1, the corpus names no artists and the playlist-ends rule does not fire")


if __name__ == "__main__":
    main()
