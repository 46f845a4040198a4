#!/usr/bin/env python
"""One epoch of word2vec's recipe on a large corpus: ours against gensim, side by side in one run.

What a trial of the default space trains from ``tune.large_corpus.RECIPE_FROM_TOKENS`` training tokens
(``sgns`` with ``sgd`` and a linearly decaying rate) against gensim's skip-gram with the same settings
(window both ways, not reduced; negatives; subsampling; exponent; dimension; gensim's own rate), on the
same playlists and threads. gensim trains from a corpus file (its fastest path: no Python per sentence);
writing that file is timed apart. Both are scored the same way on the same seeded sample of validation
pairs: the best of input-input cosine and target-context (gensim's output vectors ``syn1neg``), each
with every popularity weight. Prints the epoch's seconds, pairs (ours) and words (gensim) per second,
NDCG@10 and the ratio of the two epochs' times.

Usage::

    .venv/bin/python scripts/measure_large_corpus_epoch.py --data builtin:mpd
    .venv/bin/python scripts/measure_large_corpus_epoch.py --data builtin:mpd:100000 --dim 64 --threads 2
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the bench package
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # track2vec, also when not installed

from bench.common import describe_corpus, load_corpus  # noqa: E402
from track2vec.gensim_baseline import gensim_vectors  # noqa: E402

K = 10


def peak_mib() -> float:
    from tune.cost import peak_rss_mib

    return peak_rss_mib()


def write_corpus_file(corpus, path: Path) -> int:
    """The training playlists as gensim's corpus file: one playlist a line, item id ``i`` as the word ``i``."""
    bounds = corpus.offsets.tolist()
    tokens = corpus.tokens
    with open(path, "w") as handle:
        for start, end in zip(bounds[:-1], bounds[1:]):
            handle.write(" ".join(map(str, tokens[start:end].tolist())))
            handle.write("\n")
    return path.stat().st_size


def ours(corpus, config, pairs):
    from track2vec.training import Trainer

    trainer = Trainer(corpus, config, validation_pairs=pairs)
    history = trainer.fit()
    seconds = history.history["train_seconds"][-1]
    best = trainer.choose_scoring()
    return seconds, trainer.pairs_in_epoch, best


def gensim(corpus, config, pairs, corpus_file: Path, threads: int):
    from gensim.models import Word2Vec

    from track2vec.evaluation import best_scoring, evaluate_scorings

    model = Word2Vec(sg=1, hs=0, negative=config.negatives, window=config.window, sample=config.subsample,
                     ns_exponent=config.alpha, vector_size=config.dim, min_count=1, shrink_windows=False,
                     workers=threads, epochs=1, seed=config.seed)
    started = time.perf_counter()
    model.build_vocab(corpus_file=str(corpus_file))
    vocab_seconds = time.perf_counter() - started
    started = time.perf_counter()
    model.train(corpus_file=str(corpus_file), total_examples=model.corpus_count,
                total_words=model.corpus_total_words, epochs=1)
    train_seconds = time.perf_counter() - started
    size = len(corpus.counts)
    best = best_scoring(evaluate_scorings(gensim_vectors(model, size), corpus.counts, pairs,
                                          gensim_vectors(model, size, model.syn1neg), k=K))
    return vocab_seconds, train_seconds, model.corpus_total_words, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="builtin:mpd")
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--window", type=int, default=3)
    parser.add_argument("--negatives", type=int, default=5)
    parser.add_argument("--subsample", type=float, default=1e-3)
    parser.add_argument("--alpha", type=float, default=0.75)
    parser.add_argument("--batch-size", type=int, default=8192)
    parser.add_argument("--lr", type=float, default=0.03, help="ours (sgd, per pair, decaying linearly)")
    parser.add_argument("--threads", type=int, default=2, help="ours: TensorFlow's and the sampler's; gensim: workers")
    parser.add_argument("--validation-sample", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from track2vec.config import TrainConfig
    from track2vec.corpus import sample_indices
    from track2vec.runtime import configure_backend

    started = time.perf_counter()
    corpus = load_corpus(args.data)
    print(f"{args.data}: {describe_corpus(corpus)}; loaded in {time.perf_counter() - started:.1f} s, "
          f"peak RSS {peak_mib():,.0f} MiB", flush=True)
    configure_backend(args.threads, vocabulary_size=len(corpus.vocabulary))
    config = TrainConfig(architecture="sgns", optimizer="sgd", lr_schedule="linear", dim=args.dim,
                         window=args.window, negatives=args.negatives, subsample=args.subsample, alpha=args.alpha,
                         batch_size=args.batch_size, learning_rate=args.lr, epochs=1, seed=args.seed)
    size = min(args.validation_sample, len(corpus.validation_pairs))
    pairs = corpus.validation_pairs[sample_indices(len(corpus.validation_pairs), size, args.seed)]
    print(f"configuration: sgns sgd (linear decay) dim {args.dim}, window {args.window} both ways, "
          f"{args.negatives} negatives, subsample {args.subsample:g}, alpha {args.alpha:g}, batch {args.batch_size}, "
          f"lr {args.lr:g}; {args.threads} thread(s); scored on {size:,} validation pairs (seed {args.seed})",
          flush=True)

    seconds, pairs_trained, best = ours(corpus, config, pairs)
    print(f"ours:   one epoch {seconds:.1f} s, {pairs_trained:,} positive pairs ({pairs_trained / seconds / 1e3:,.0f} "
          f"kpairs/s), NDCG@10 {best.metrics.ndcg:.4f} ({best.scoring.describe()}); peak RSS so far "
          f"{peak_mib():,.0f} MiB", flush=True)

    with tempfile.TemporaryDirectory() as directory:
        corpus_file = Path(directory) / "playlists.txt"
        started = time.perf_counter()
        nbytes = write_corpus_file(corpus, corpus_file)
        print(f"gensim's corpus file: {nbytes / 2**20:,.0f} MiB written in {time.perf_counter() - started:.1f} s "
              "(not counted)", flush=True)
        vocab_seconds, train_seconds, words, gensim_best = gensim(corpus, config, pairs, corpus_file, args.threads)
    print(f"gensim: vocabulary {vocab_seconds:.1f} s + one epoch {train_seconds:.1f} s, {words:,} words "
          f"({words / train_seconds / 1e3:,.0f} kwords/s before subsampling), NDCG@10 {gensim_best.metrics.ndcg:.4f} "
          f"({gensim_best.scoring.describe()}); peak RSS so far {peak_mib():,.0f} MiB", flush=True)
    gensim_seconds = vocab_seconds + train_seconds
    print(f"ours / gensim: {seconds / gensim_seconds:.2f}x the time (gensim's vocabulary + epoch), "
          f"NDCG@10 {best.metrics.ndcg - gensim_best.metrics.ndcg:+.4f}", flush=True)


if __name__ == "__main__":
    main()
