"""``track2vec``: train one configuration, or complete playlists with an export."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from track2vec.cli_support import DefaultsHelpFormatter, OneLineParser, add_version, run_main
from track2vec.config import ARCHITECTURE_CHOICES, DIRECTIONS, LR_SCHEDULE_CHOICES, OPTIMIZER_CHOICES, SPARSE_FROM_ITEMS, TrainConfig
from track2vec.corpus import DATA_HELP, DEFAULT_DATA, DEFAULT_MIN_COUNT, DEFAULT_TEST_PAIRS, DEFAULT_VALIDATION_PAIRS
from track2vec.count_rows import PASSES_PER_EPOCH
from track2vec.scoring import AUTO, SCORINGS

PROG = "track2vec"
DEFAULTS = TrainConfig()


def _auto_or(kind: type):
    """An argparse type: ``kind``, or "auto" (None: TrainConfig's choice)."""
    def parse(text: str):
        if text == AUTO:
            return None
        try:
            return kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'} or auto, "
                                             f"got {text!r}") from None
    return parse


BY_SIZE = f"auto: by vocabulary size, the softmax's own from {SPARSE_FROM_ITEMS:,} items (track2vec.config.default_recipe)"


def _corpus_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", default=DEFAULT_DATA, help=DATA_HELP)
    parser.add_argument("--min-count", type=int, default=DEFAULT_MIN_COUNT,
                        help="keep items seen at least this often in training")
    parser.add_argument("--seed", type=int, default=DEFAULTS.seed, help="seed of every random choice (split, sampling, init)")
    parser.add_argument("--validation-pairs", type=int, default=DEFAULT_VALIDATION_PAIRS, help="size of the validation sample")
    parser.add_argument("--test-pairs", type=int, default=DEFAULT_TEST_PAIRS, help="size of the held-out test sample")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog=PROG, description=__doc__)
    add_version(parser)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    train = commands.add_parser("train", help="train one configuration and export its embeddings",
                                formatter_class=DefaultsHelpFormatter)
    _corpus_arguments(train)
    train.add_argument("--architecture", choices=ARCHITECTURE_CHOICES, default=DEFAULTS.architecture,
                       help="sgns: separate target/context vectors (word2vec's negative sampling); tied-cosine: the notebook's "
                            "model; softmax: sgns' vectors plus a bias per item, trained with a sampled softmax; "
                            "count-softmax: softmax's vectors trained on each item's counted neighbours within the "
                            f"window (SR's rows forward, AR's both ways), {PASSES_PER_EPOCH} passes over them an epoch; "
                            f"auto: tied-cosine below {SPARSE_FROM_ITEMS:,} items, softmax from there")
    train.add_argument("--dim", type=int, default=DEFAULTS.dim, help="embedding dimension")
    train.add_argument("--window", type=int, default=DEFAULTS.window, help="context window on each side")
    train.add_argument("--direction", choices=DIRECTIONS, default=DEFAULTS.direction,
                       help="contexts on both sides of a target, or only after it (forward: what comes next)")
    train.add_argument("--shrink-windows", action="store_true",
                       help="word2vec's reduced window: each target draws its window in 1..--window")
    train.add_argument("--artist-vectors", action="store_true",
                       help="add each item's artist vector to its vectors (sgns, softmax; corpora that name artists)")
    train.add_argument("--negatives", type=int, default=DEFAULTS.negatives, help="negative samples per positive pair")
    train.add_argument("--shared-rows", type=_auto_or(int), default=AUTO,
                       help="softmax: every row is scored against the negatives of the batch's first N rows "
                            f"(fewer: cheaper steps, a coarser softmax); {BY_SIZE}")
    train.add_argument("--alpha", type=float, default=DEFAULTS.alpha,
                       help="negative-sampling exponent: negatives drawn from counts**alpha (0 = uniform)")
    train.add_argument("--subsample", type=float, default=DEFAULTS.subsample,
                       help="subsampling threshold t for frequent items (0 disables)")
    train.add_argument("--recency-scale", type=float, default=DEFAULTS.recency_scale,
                       help="keep a target d positions before its playlist's end with probability "
                            "exp(-d / recency-scale), so the ends of playlists weigh more (0: every position alike)")
    train.add_argument("--batch-size", type=_auto_or(int), default=AUTO,
                       help=f"positive pairs per training step; {BY_SIZE}")
    train.add_argument("--lr", type=_auto_or(float), default=AUTO, help=f"learning rate; {BY_SIZE}")
    train.add_argument("--optimizer", choices=OPTIMIZER_CHOICES, default=DEFAULTS.optimizer,
                       help=f"Keras optimizer; auto: adam below {SPARSE_FROM_ITEMS:,} items, lazy-adam (sparse) from there")
    train.add_argument("--lr-schedule", choices=LR_SCHEDULE_CHOICES, default=DEFAULTS.lr_schedule,
                       help="linear: the rate decays towards zero over the epochs (word2vec's); constant; "
                            "auto: linear for sgd, constant for the others")
    train.add_argument("--scoring", choices=(AUTO, *SCORINGS), default=DEFAULTS.scoring,
                       help="how candidates are ranked: cosine of item vectors, target-context dot product (sgns, "
                            "softmax), symmetric (target-context both ways), or auto: the best on validation after "
                            "each epoch")
    train.add_argument("--popularity-weight", type=_auto_or(float), default=AUTO,
                       help="weight of log(count) added to a candidate's score; auto: chosen on validation after "
                            "each epoch")
    train.add_argument("--epochs", type=int, default=DEFAULTS.epochs, help="passes over the training playlists")
    train.add_argument("--threads", type=int, default=None, help="TensorFlow threads (default: all cores)")
    train.add_argument("--out", type=Path, default=None, help="export directory (default: no export)")
    train.add_argument("--force", action="store_true", help="replace an existing export in --out")
    train.add_argument("--word2vec-binary", action="store_true",
                       help="also write embeddings.w2v.bin (word2vec's binary format) into --out")
    train.add_argument("--json", action="store_true", help="end with one JSON line of the final metrics")

    baselines = commands.add_parser(
        "baselines", help="score the counted baselines (popularity, SR, AR) on the validation and test pairs",
        description="Popularity, SR (sequential rules) and AR (co-occurrence) next-item baselines, their "
                    "parameters chosen on the validation pairs, scored on the validation and test pairs; "
                    "with --gensim also gensim's skip-gram with its defaults, its scoring chosen alike.",
        formatter_class=DefaultsHelpFormatter)
    _corpus_arguments(baselines)
    baselines.add_argument("--gensim", action="store_true",
                           help="add gensim's skip-gram with its default settings, trained on the same playlists "
                                "and scored alike (needs gensim: pip install gensim)")
    baselines.add_argument("--json", action="store_true", help="print JSON")

    from track2vec.recommend import add_recommend_arguments

    add_recommend_arguments(commands.add_parser(
        "recommend", help="suggest the next tracks of a playlist with an export",
        description="Suggest the next tracks of playlists with an exported model (NumPy only).",
        formatter_class=DefaultsHelpFormatter,
    ))
    return parser


def run_train(args: argparse.Namespace) -> dict:
    from track2vec.errors import ConfigError

    config = TrainConfig(
        architecture=args.architecture, dim=args.dim, window=args.window, negatives=args.negatives,
        alpha=args.alpha, subsample=args.subsample, recency_scale=args.recency_scale,
        batch_size=args.batch_size, learning_rate=args.lr,
        optimizer=args.optimizer, lr_schedule=args.lr_schedule, epochs=args.epochs, seed=args.seed, direction=args.direction,
        shrink_windows=args.shrink_windows, artist_vectors=args.artist_vectors, scoring=args.scoring,
        popularity_weight=args.popularity_weight, shared_rows=args.shared_rows,
    )
    if args.out is not None and args.out.exists() and not args.force:
        raise ConfigError(f"{args.out} already exists; pass --force to replace it")
    corpus = _load_corpus(args)

    from track2vec.runtime import configure_backend

    configure_backend(args.threads, vocabulary_size=len(corpus.vocabulary))
    from keras.backend import backend as keras_backend

    from track2vec.baselines import corpus_baselines
    from track2vec.export import write_export
    from track2vec.training import EpochPrinter, Trainer

    started = time.perf_counter()
    trainer = Trainer(corpus, config)
    resolved = trainer.config
    print(f"training: {resolved.architecture}, {trainer.optimizer}, batch {resolved.batch_size:,}, "
          f"lr {resolved.learning_rate:g}" + (f", {resolved.shared_rows} shared rows" if resolved.architecture == "softmax" else "")
          + (" (auto settings chosen by vocabulary size)" if resolved != config else ""))
    history = trainer.fit(callbacks=[EpochPrinter(trainer)])
    seconds = time.perf_counter() - started
    logs = {key: values[-1] for key, values in history.history.items()}
    k = config.k
    result = {
        f"val_ndcg_at_{k}": logs[f"val_ndcg_at_{k}"],
        f"val_hr_at_{k}": logs[f"val_hr_at_{k}"],
        "loss": logs["loss"],
        "accuracy": logs["accuracy"],
        "epochs": config.epochs,
        "seconds": seconds,
        "optimizer": trainer.optimizer,  # what trained: "auto" resolved for the vocabulary
    }
    baselines = corpus_baselines(corpus, k)
    for name, baseline in baselines.items():
        result[f"{name}_val_ndcg_at_{k}"] = baseline.validation.ndcg
        result[f"{name}_val_hr_at_{k}"] = baseline.validation.hit_rate
    if corpus.oracle:
        result["oracle_ndcg_at_10"] = corpus.oracle["ndcg_at_10"]
    print(f"scoring chosen on validation: {trainer.scoring.describe()}")
    print("baselines on the validation pairs (parameters chosen there):")
    for baseline in baselines.values():
        print(f"  {baseline.label:<40} val NDCG@{k} {baseline.validation.ndcg:.4f}  HR@{k} {baseline.validation.hit_rate:.4f}")
    if corpus.oracle:
        print(f"  {'generator oracle (best possible)':<40} NDCG@10 {corpus.oracle['ndcg_at_10']:.4f}")
    if args.out is not None:
        info = {
            "hyperparameters": trainer.config.as_dict(), "seed": config.seed, "min_count": args.min_count,
            "keras_backend": keras_backend(), "scoring": trainer.scoring.as_dict(),
            "baselines": {name: baseline.settings for name, baseline in baselines.items()},
            "data": {"source": args.data, "fingerprint": corpus.fingerprint, "stats": corpus.stats},
            "metrics": result,
        }
        path = write_export(args.out, trainer.embeddings(), corpus.vocabulary, info, force=args.force,
                            context_embeddings=trainer.context_embeddings(), context_bias=trainer.context_bias(),
                            word2vec_binary=args.word2vec_binary)
        print(f"exported to {path}")
    return result


def _load_corpus(args: argparse.Namespace):
    from track2vec.corpus import build_corpus
    from track2vec.data.loaders import load_playlists

    corpus = build_corpus(load_playlists(args.data, args.seed), args.min_count, args.validation_pairs,
                          args.test_pairs, args.seed)
    print(f"corpus: {corpus.stats['playlists']:,} playlists, {corpus.stats['training_tokens']:,} training items, "
          f"vocabulary {len(corpus.vocabulary):,}, {len(corpus.validation_pairs):,} validation / "
          f"{len(corpus.test_pairs):,} test pairs", flush=True)
    return corpus


def run_baselines(args: argparse.Namespace) -> dict:
    """Print popularity, SR and AR (and gensim's skip-gram with ``--gensim``) on the validation and test pairs,
    then whether the corpus's playlist ends pay (``track2vec.playlist_ends``); returns the baselines as a dict."""
    from track2vec.baselines import corpus_baselines

    corpus = _load_corpus(args)
    baselines = corpus_baselines(corpus)
    if args.gensim:
        from track2vec.gensim_baseline import gensim_baseline

        baselines["gensim"] = gensim_baseline(corpus, seed=args.seed)
    report = {name: {"settings": baseline.settings, "validation": baseline.validation.as_dict(),
                     "test": baseline.test.as_dict() if baseline.test else None}
              for name, baseline in baselines.items()}
    if args.json:
        print(json.dumps(report))
        return report
    width = max(44, *(len(baseline.label) for baseline in baselines.values()))
    print(f"{'baseline (parameters chosen on validation)':<{width}} {'val NDCG@10':>11} {'val HR@10':>9} "
          f"{'test NDCG@10':>12} {'test HR@10':>10}")
    for baseline in baselines.values():
        test = (f"{baseline.test.ndcg:>12.4f} {baseline.test.hit_rate:>10.4f}" if baseline.test else f"{'-':>12} {'-':>10}")
        print(f"{baseline.label:<{width}} {baseline.validation.ndcg:>11.4f} {baseline.validation.hit_rate:>9.4f} {test}")
    from track2vec.playlist_ends import check_playlist_ends

    ends = check_playlist_ends(corpus.tokens, corpus.offsets, len(corpus.vocabulary), corpus.validation_pairs,
                               seed=args.seed, fitted=baselines)
    print(ends.describe() + (": a study searches recency_scale" if ends.pays else ""))
    return report


def run_command(args: argparse.Namespace) -> int:
    if args.command == "recommend":
        from track2vec.recommend import run_recommend

        return run_recommend(args)
    if args.command == "baselines":
        run_baselines(args)
        return 0
    result = run_train(args)
    if args.json:
        print(json.dumps(result))
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_main(PROG, build_parser(), argv, run_command)


if __name__ == "__main__":
    sys.exit(main())
