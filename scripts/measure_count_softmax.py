#!/usr/bin/env python
"""A softmax embedding trained on the counts' own rows: how close does it come to them, and how fast? (issue 12)

A study's softmax trials learn, pair by sampled pair, to predict an item's neighbours. Summed over
an epoch, that objective is a cross-entropy against each query's weighted co-occurrence row: what
SR or AR count. This trains the same model (target vectors T, context vectors C, a bias b per
item; a candidate j of query q scores T_q . C_j + b_j, plus beta log(count_j)) on those rows
directly, one query row a training example:

    loss = sum_q w_q * CE(counts[q, :] / sum(counts[q, :]), softmax(T_q C^T + b)),  w_q ~ sum(counts[q, :]) ** power

The rows are the fitted count model that scores best on the corpus's validation pairs (SR or AR,
its steps and weighting chosen there, as every study chooses them). At full rank the model can
reproduce the rows' ranking exactly; below it, the question is what the smoothing of a
``dim``-dimensional model gains or loses against the counts, and how long it takes.

Ranked as a study's trials are (``track2vec.evaluation.rank_targets``, target-context scoring with
the popularity weight chosen on validation). Validation pairs only: nothing here looks at the test pairs.

Usage::

    .venv/bin/python scripts/measure_count_softmax.py --data ../shared/data/ecommerce_sessions.npy --seeds 0,1
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench.common import corpora_with_counts, count_probe_parser  # noqa: E402
from track2vec.baselines import RuleSettings, weighted_counts, weighted_rule_counts  # noqa: E402
from track2vec.evaluation import best_scoring, evaluate_scorings  # noqa: E402

POPULARITY_WEIGHTS = (0.0, 0.25, 0.5, 1.0, 1.5, 2.0)  # six of a study's (track2vec.scoring)
BATCH_ROWS = 512


@dataclass
class Result:
    """The best validation NDCG@10 over the evaluated epochs, where it was reached, and the training time."""

    ndcg: float
    epoch: int
    popularity_weight: float
    seconds_to_best: float
    seconds: float


def count_rows(corpus, fitted) -> tuple[str, sp.csr_matrix]:
    """The name and the weighted count rows (in the units of their weights) of the fitted model that validation
    prefers."""
    kind = max(("sr", "ar"), key=lambda name: fitted[name].validation.ndcg)
    settings = RuleSettings(kind, fitted[kind].settings["steps"], fitted[kind].settings["weighting"])
    rows = weighted_counts(weighted_rule_counts(corpus.tokens, corpus.offsets, len(corpus.vocabulary), settings))
    return f"{kind.upper()} ({settings.steps} steps, {settings.weighting})", sp.csr_matrix(rows, dtype=np.float32)


def validation_ndcg(vectors: tuple[np.ndarray, np.ndarray, np.ndarray], counts: np.ndarray,
                    pairs: np.ndarray) -> tuple[float, float]:
    """The best validation NDCG@10 of target-context scoring over ``POPULARITY_WEIGHTS``, and that weight."""
    targets, contexts, bias = vectors
    best = best_scoring(evaluate_scorings(targets, counts, pairs, contexts, methods=("target-context",),
                                          popularity_weights=POPULARITY_WEIGHTS, context_bias=bias))
    return best.metrics.ndcg, best.scoring.popularity_weight


def train(rows: sp.csr_matrix, counts: np.ndarray, pairs: np.ndarray, dim: int, epochs: int, every: int,
          row_power: float, learning_rate: float, seed: int) -> Result:
    """Fit T, C and b to ``rows`` (Adam, ``BATCH_ROWS`` query rows a step) and score validation every ``every``
    epochs."""
    import tensorflow as tf

    size = rows.shape[0]
    totals = np.asarray(rows.sum(axis=1)).ravel()
    queries = np.flatnonzero(totals > 0)
    targets_of_rows = sp.diags(1.0 / totals[queries]) @ rows[queries]
    weights = totals[queries] ** row_power
    weights = (weights / weights.mean()).astype(np.float32)
    rng = np.random.default_rng(seed)
    tf.random.set_seed(seed)
    scale = 0.1 / np.sqrt(dim)
    target_vectors = tf.Variable(rng.normal(0, scale, (size, dim)).astype(np.float32))
    context_vectors = tf.Variable(rng.normal(0, scale, (size, dim)).astype(np.float32))
    bias = tf.Variable(np.zeros(size, np.float32))
    variables = [target_vectors, context_vectors, bias]
    optimizer = tf.keras.optimizers.Adam(learning_rate)

    @tf.function(jit_compile=True, reduce_retracing=True)
    def step(query_ids, soft_labels, row_weights):
        with tf.GradientTape() as tape:
            logits = tf.matmul(tf.gather(target_vectors, query_ids), context_vectors, transpose_b=True) + bias
            cross_entropy = -tf.reduce_sum(soft_labels * tf.nn.log_softmax(logits), axis=1)
            loss = tf.reduce_mean(row_weights * cross_entropy)
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))

    best, seconds = Result(0.0, 0, 0.0, 0.0, 0.0), 0.0
    for epoch in range(1, epochs + 1):
        started = time.perf_counter()
        order = rng.permutation(len(queries))
        for first in range(0, len(order), BATCH_ROWS):
            batch = order[first:first + BATCH_ROWS]
            step(tf.constant(queries[batch]), tf.constant(targets_of_rows[batch].toarray().astype(np.float32)),
                 tf.constant(weights[batch]))
        seconds += time.perf_counter() - started
        if epoch % every == 0 or epoch == epochs:
            ndcg, weight = validation_ndcg(tuple(v.numpy() for v in variables), counts, pairs)
            if ndcg > best.ndcg:
                best = Result(ndcg, epoch, weight, seconds, seconds)
    best.seconds = seconds
    return best


def main() -> None:
    parser = count_probe_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--dims", default="64,128,256", help="comma-separated dimensions")
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--every", type=int, default=10, help="score validation every this many epochs")
    parser.add_argument("--row-power", type=float, default=0.5, help="a query row weighs its count total ** this")
    parser.add_argument("--lr", type=float, default=0.003)
    args = parser.parse_args()
    print(f"{args.data}: validation NDCG@10; the model's best over its evaluated epochs and popularity weights; "
          f"Adam lr {args.lr}, {BATCH_ROWS} query rows a step, row weight total ** {args.row_power}")
    for seed, corpus, fitted in corpora_with_counts(args.data, args.seeds):
        name, rows = count_rows(corpus, fitted)
        print(f"seed {seed}: {len(corpus.vocabulary):,} items; SR {fitted['sr'].validation.ndcg:.4f}, "
              f"AR {fitted['ar'].validation.ndcg:.4f}; rows: {name}", flush=True)
        for dim in (int(text) for text in args.dims.split(",")):
            result = train(rows, corpus.counts, corpus.validation_pairs, dim, args.epochs, args.every, args.row_power,
                           args.lr, seed)
            print(f"  dim {dim:>4}: {result.ndcg:.4f} at epoch {result.epoch} (+{result.popularity_weight:g} "
                  f"log(count)), {result.seconds_to_best:.0f} s of training to it, {result.seconds:.0f} s for "
                  f"{args.epochs} epochs", flush=True)


if __name__ == "__main__":
    main()
