#!/usr/bin/env python
"""Measure what tuning's validation sample (``--validation-sample``) costs and saves.

Trains a set of configurations drawn from the default search space (Optuna's random
sampler, seeded) for a few epochs each on one corpus, then scores every one on all
validation pairs (the exact NDCG@10, as the winner is scored) and on seeded samples of
them, each the way a trial scores an epoch: the best of every scoring the configuration
allows. Printed side by side, for every sample size:

* rank agreement of the configurations: Spearman's rho and Kendall's tau between the
  sampled and the exact validation NDCG@10 (median and range over the sample seeds);
* whether the sample's best configuration is the exact best, and the exact NDCG@10 lost
  when it is not (the regret);
* the seconds of scoring one epoch (``Trainer.score_on``) on the sample against all pairs.

Training may keep only the first N playlists (``--playlists``): the vocabulary, and so the
cost of scoring a pair, and the validation pairs stay those of the whole corpus.

Usage::

    .venv/bin/python scripts/measure_validation_sample.py --data builtin:deezer --playlists 2000 \\
        --configurations 10 --epochs 1 --sizes 500 1000 2000 5000
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from track2vec.corpus import Corpus, build_corpus, sample_indices  # noqa: E402
from track2vec.data.loaders import load_playlists  # noqa: E402
from track2vec.evaluation import pair_gains, rank_targets  # noqa: E402
from track2vec.scoring import CONTEXT_SCORINGS, score_table  # noqa: E402

K = 10


@dataclasses.dataclass(frozen=True)
class Scored:
    """One trained configuration: its per-pair NDCG gains under every scoring, and scoring times."""

    config: dict
    gains: np.ndarray  # float64 [n_validation_pairs, n_scorings]
    seconds_all: float  # ranking all validation pairs under every scoring, as Trainer.score_on does
    seconds_sample: dict[int, float]  # sample size -> Trainer.score_on over that sample (timed configurations only)


def configurations(count: int, seed: int) -> list[dict]:
    """``count`` configurations of the default search space, drawn by Optuna's seeded random sampler."""
    import optuna

    from tune.search_space import build_space

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = build_space({})
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    return [{**space.fixed, **study.ask(space.distributions).params} for _ in range(count)]


def corpus_of(spec: str, playlists: int | None, seed: int) -> Corpus:
    """The whole corpus' vocabulary and validation pairs, training on its first ``playlists`` only."""
    corpus = build_corpus(load_playlists(spec, seed), seed=seed)
    if playlists is None or playlists >= corpus.n_playlists:
        return corpus
    end = int(corpus.offsets[playlists])
    return dataclasses.replace(corpus, tokens=corpus.tokens[:end], offsets=corpus.offsets[: playlists + 1])


def score(corpus: Corpus, config: dict, epochs: int, sizes: list[int], seed: int, timed: bool) -> Scored:
    from track2vec.config import TrainConfig
    from track2vec.training import Trainer

    trainer = Trainer(corpus, TrainConfig.from_dict({**config, "epochs": epochs, "seed": seed}))
    trainer.fit()
    pairs = corpus.validation_pairs
    columns = []
    # What Trainer.score_on does on every pair (ranks under each scoring), timed: the per-pair gains are kept.
    started = time.perf_counter()
    for method in trainer.config.scoring_methods():
        if method in CONTEXT_SCORINGS and trainer.context_embeddings() is None:
            continue
        table = score_table(method, trainer.embeddings(), corpus.counts, trainer.context_embeddings(),
                            trainer.context_bias())
        ranks = rank_targets(table, pairs, trainer.config.popularity_weights())
        columns += [pair_gains(ranks[:, column], K)[0] for column in range(ranks.shape[1])]
    seconds_all = time.perf_counter() - started
    seconds_sample = {}
    for size in sizes if timed else ():
        sample = pairs[sample_indices(len(pairs), size, seed)]
        started = time.perf_counter()
        trainer.score_on(sample)
        seconds_sample[size] = time.perf_counter() - started
    return Scored(config, np.stack(columns, axis=1), seconds_all, seconds_sample)


def agreement(scored: list[Scored], size: int, sample_seeds: list[int]) -> dict:
    """Rank agreement, winner agreement and regret of the sampled validation NDCG@10 against the exact one."""
    from scipy.stats import kendalltau, spearmanr

    exact = np.array([s.gains.mean(axis=0).max() for s in scored])
    n_pairs = len(scored[0].gains)
    rhos, taus, same_winner, regrets = [], [], [], []
    for sample_seed in sample_seeds:
        rows = sample_indices(n_pairs, size, sample_seed)
        sampled = np.array([s.gains[rows].mean(axis=0).max() for s in scored])
        rhos.append(spearmanr(sampled, exact).statistic)
        taus.append(kendalltau(sampled, exact).statistic)
        chosen = int(np.argmax(sampled))
        same_winner.append(chosen == int(np.argmax(exact)))
        regrets.append(float(exact.max() - exact[chosen]))
    return {"rho": rhos, "tau": taus, "same_winner": sum(same_winner), "seeds": len(sample_seeds),
            "regret": regrets}


def print_table(scored: list[Scored], sizes: list[int], sample_seeds: int, n_pairs: int) -> None:
    timed = [s for s in scored if s.seconds_sample]
    exact_seconds = statistics.median(s.seconds_all for s in timed)
    print(f"\n{len(scored)} configurations; scoring one epoch on all {n_pairs:,} pairs: median "
          f"{exact_seconds:.2f} s ({len(timed)} timed)")
    print(f"{'sample':>8}  {'Spearman rho':>22}  {'Kendall tau':>22}  {'same winner':>11}  {'max regret':>10}  "
          f"{'seconds per epoch':>17}  {'saved':>6}", flush=True)
    for size in sorted(sizes):
        result = agreement(scored, size, list(range(sample_seeds)))
        seconds_ = statistics.median(s.seconds_sample[size] for s in timed)
        print(f"{min(size, n_pairs):>8,}  {spread(result['rho']):>22}  {spread(result['tau']):>22}  "
              f"{result['same_winner']:>5} of {result['seeds']:<3}  {max(result['regret']):>10.4f}  "
              f"{seconds_:>17.2f}  {1 - seconds_ / exact_seconds:>6.0%}", flush=True)
    print(flush=True)


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} [{min(values):.3f}-{max(values):.3f}]"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="builtin:deezer")
    parser.add_argument("--playlists", type=int, default=2_000, help="train on the first N playlists (0: all)")
    parser.add_argument("--configurations", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 1000, 2000, 5000])
    parser.add_argument("--sample-seeds", type=int, default=10, help="samples drawn per size (seeds 0..N-1)")
    parser.add_argument("--seed", type=int, default=0, help="of the split, the configurations and training")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--timed", type=int, default=2, help="configurations whose sample scoring is also timed")
    args = parser.parse_args(argv)

    from track2vec.runtime import configure_backend

    configure_backend(args.threads)
    corpus = corpus_of(args.data, args.playlists or None, args.seed)
    n_pairs = len(corpus.validation_pairs)
    print(f"{args.data}: vocabulary {len(corpus.vocabulary):,}, {n_pairs:,} validation pairs, training on "
          f"{corpus.n_playlists:,} playlists; {args.configurations} configurations of the default space, "
          f"{args.epochs} epoch(s) each", flush=True)
    scored = []
    for number, config in enumerate(configurations(args.configurations, args.seed)):
        started = time.perf_counter()
        scored.append(score(corpus, config, args.epochs, args.sizes, args.seed, timed=number < args.timed))
        exact = scored[-1].gains.mean(axis=0).max()
        print(f"  {number:2d}: exact validation NDCG@10 {exact:.4f} ({time.perf_counter() - started:.0f} s) "
              f"{ {key: (round(v, 4) if isinstance(v, float) else v) for key, v in config.items()} }", flush=True)
        if len(scored) >= 3:  # a table after every configuration: a run cut short still says what it saw
            print_table(scored, args.sizes, args.sample_seeds, n_pairs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
