"""Where sparse updates pay: a training step's time with dense Adam against lazy-adam, by vocabulary size.

Dense Adam updates every row of the embedding tables at every step; lazy-adam only the rows the step
touches, at the price of gathers and scatters. For each vocabulary size and architecture this builds the
model with either optimizer (the library's defaults otherwise: dim 50, 5 negatives, batch 4,096, XLA),
trains it on the same Zipf-distributed random ids, warm, and prints milliseconds per step side by side,
the ratio, and what the default optimizer ("auto", ``track2vec.config.SPARSE_FROM_ITEMS``) picks there.
The two optimizers alternate ``--repeats`` times; medians are printed.

    python scripts/measure_sparse_optimizer.py [--sizes 3500,25000,50000,100000,185000] [--repeats 2]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

OPTIMIZERS = ("adam", "lazy-adam")


def step_ms(architecture: str, optimizer: str, vocabulary_size: int, batch_size: int, steps: int, seed: int) -> float:
    """Milliseconds per training step of a warm model on random ids drawn as counts**-0.8 (Zipf-like)."""
    import keras

    from track2vec.config import TrainConfig
    from track2vec.model import build_model
    from track2vec.training import batch_labels

    keras.backend.clear_session()
    defaults = TrainConfig(architecture=architecture).resolved(vocabulary_size)
    rng = np.random.default_rng(seed)
    probabilities = 1.0 / np.arange(1, vocabulary_size + 1) ** 0.8
    probabilities /= probabilities.sum()
    width = 1 + defaults.negatives
    model = build_model(architecture, vocabulary_size, defaults.dim, defaults.negatives, defaults.learning_rate,
                        optimizer=optimizer, seed=seed, batch_size=batch_size, log_q=np.log(probabilities))
    targets = rng.choice(vocabulary_size, size=(steps * batch_size, 1), p=probabilities).astype(np.int32)
    contexts = rng.choice(vocabulary_size, size=(steps * batch_size, width), p=probabilities).astype(np.int32)
    labels = batch_labels(steps * batch_size, width)
    warm = 2 * 16 * batch_size  # compile, then two calls of the compiled steps
    model.fit((targets[:warm], contexts[:warm]), labels[:warm], batch_size=batch_size, epochs=1, verbose=0)
    started = time.perf_counter()
    model.fit((targets, contexts), labels, batch_size=batch_size, epochs=1, verbose=0)
    return (time.perf_counter() - started) / steps * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="3500,25000,50000,100000,185000")
    parser.add_argument("--architectures", default="tied-cosine,softmax")
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from track2vec.runtime import configure_backend

    configure_backend(threads=args.threads)
    from track2vec.config import SPARSE_FROM_ITEMS, TrainConfig

    print(f"ms per step, median of {args.repeats} alternating runs; batch {args.batch_size}, {args.steps} timed steps, "
          f"{args.threads} thread(s); auto switches to lazy-adam from {SPARSE_FROM_ITEMS:,} items")
    print(f"{'architecture':12s} {'items':>9s} {'adam':>9s} {'lazy-adam':>10s} {'lazy/adam':>10s}  auto picks")
    for architecture in args.architectures.split(","):
        for size in (int(value) for value in args.sizes.split(",")):
            times: dict[str, list[float]] = {name: [] for name in OPTIMIZERS}
            for _ in range(args.repeats):
                for name in OPTIMIZERS:
                    times[name].append(step_ms(architecture, name, size, args.batch_size, args.steps, args.seed))
            adam, lazy = (statistics.median(times[name]) for name in OPTIMIZERS)
            print(f"{architecture:12s} {size:>9,} {adam:>9.1f} {lazy:>10.1f} {lazy / adam:>9.2f}x  "
                  f"{TrainConfig().optimizer_for(size)}", flush=True)


if __name__ == "__main__":
    main()
