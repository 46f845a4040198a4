#!/usr/bin/env python
"""Measure sgd's linearly decaying rate against a constant one, beside the default and gensim.

For each corpus: gensim's skip-gram (5 epochs, row 3's paper setting, scored like ours: the
best on the validation pairs of input-input cosine and target-context, each with every
popularity weight), TrainConfig's default, and ``sgns`` trained by ``sgd`` at each of the given
learning rates, with a linearly decaying rate (``lr_schedule`` "linear", sgd's default) and with a
constant one. Every run trains 5 epochs of the paper's setting on the same playlists and prints its
validation NDCG@10 per epoch and its training seconds per epoch.

Usage::

    .venv/bin/python scripts/measure_sgd_decay.py --data ecommerce builtin:deezer nowplaying --rates 0.03 0.05
    .venv/bin/python scripts/measure_sgd_decay.py --data builtin:deezer --no-default
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the bench package
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # track2vec, also when not installed

from bench.common import ECOMMERCE, NOWPLAYING, PAPER, Variant, describe_corpus, load_corpus, text_table  # noqa: E402
from bench.row_training import OursRun, epoch_recorder, train_gensim  # noqa: E402
from track2vec.gensim_baseline import training_sentences  # noqa: E402

EPOCHS, BATCH = 5, 8192
SHORT_NAMES = {"ecommerce": ECOMMERCE, "nowplaying": NOWPLAYING}


def train(corpus, label: str, **values) -> list[str]:
    from track2vec.config import TrainConfig
    from track2vec.training import Trainer

    trainer = Trainer(corpus, TrainConfig(**{**PAPER, **values, "epochs": EPOCHS, "seed": 0}))
    run = OursRun(Variant(), label, 0.0)
    trainer.fit(callbacks=[epoch_recorder(trainer, run)])
    return [label, " ".join(f"{e.ndcg:.4f}" for e in run.epochs),
            f"{sum(e.train_seconds for e in run.epochs) / len(run.epochs):.1f}", trainer.scoring.describe()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", nargs="+", default=["ecommerce", "builtin:deezer", "nowplaying"])
    parser.add_argument("--rates", nargs="+", type=float, default=[0.03, 0.05])
    parser.add_argument("--no-default", action="store_true",
                        help="leave out TrainConfig's default (dense Adam: slow on large vocabularies)")
    args = parser.parse_args()
    for name in args.data:
        corpus = load_corpus(SHORT_NAMES.get(name, name))
        print(f"{name}: {describe_corpus(corpus)}", flush=True)
        gensim = train_gensim(corpus, training_sentences(corpus), EPOCHS, seed=0)
        rows = [["gensim (sg, 5 negatives)", f"after 5: {gensim.ndcg:.4f}", f"{gensim.seconds / EPOCHS:.1f}",
                 gensim.scoring]]
        if not args.no_default:
            rows.append(train(corpus, "TrainConfig default"))
        for rate in args.rates:
            for schedule in ("constant", "linear"):
                rows.append(train(corpus, f"sgns sgd b{BATCH} lr {rate:g}, {schedule} rate", architecture="sgns",
                                  optimizer="sgd", batch_size=BATCH, learning_rate=rate, lr_schedule=schedule))
        print(text_table(rows, ["configuration", "validation NDCG@10 per epoch", "s/epoch", "scoring chosen"]),
              flush=True)


if __name__ == "__main__":
    main()
