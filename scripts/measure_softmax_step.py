"""The softmax architecture's training step: its logits reduced per row (track2vec) against concatenated logits.

``track2vec.model.SharedSoftmaxLogits`` outputs three numbers per row (the true context's logit, the
log-partition, the best negative's logit) computed from the true contexts' logits and the shared
negatives' logits kept apart. The form it replaced put them side by side, [batch, 1 + negatives], and
the loss took column 0 of their log-softmax; under XLA on CPU the backward pass through that
concatenation cost most of a step. For each shape this runs both forms in fresh processes (alternating,
``--repeats`` times), on the same random pairs, and prints the first epoch (compilation plus steps), the
best later epoch (steps only), the time per step and the loss after both epochs, which must agree.

    python scripts/measure_softmax_step.py [--shapes 3518:158:19:8653 184929:34:20:1260 184929:64:5:4096]
                                           [--steps 32] [--threads 1] [--repeats 2] [--seed 0]

A shape is vocabulary:dim:negatives:batch (the first is e-commerce's 24-trial winner, the second the
Million-Playlist study's first draw, the third the default configuration on builtin:deezer's vocabulary).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

CHILD = r"""
import json, sys, time
import numpy as np
import tensorflow as tf
V, dim, k, B, seed, steps, threads, form = *map(int, sys.argv[1:8]), sys.argv[8]
tf.config.threading.set_intra_op_parallelism_threads(threads)
tf.config.threading.set_inter_op_parallelism_threads(threads)
import keras
from keras import ops
from track2vec import model as models

class ConcatenatedLogits(models.SharedSoftmaxLogits):
    # The former output: every row's logits side by side, the true context first.
    def call(self, inputs):
        target_vectors, true_vectors, negative_vectors, ids, negative_ids = inputs
        u = target_vectors[:, 0, :]
        positives, negatives = ids[:, 0], ops.reshape(negative_ids, (-1,))
        negative_vectors = ops.reshape(negative_vectors, (-1, ops.shape(u)[-1]))
        bias = self.bias - self.log_q if self.sampled else self.bias
        true = ops.sum(u * true_vectors[:, 0, :], axis=-1) + ops.take(bias, positives)
        shared = ops.matmul(u, ops.transpose(negative_vectors)) + ops.take(bias, negatives)[None, :]
        shared = ops.where(negatives[None, :] == positives[:, None], -1e9, shared)
        return ops.concatenate([true[:, None], shared], axis=1)

    def compute_output_shape(self, input_shape):
        shared = self.shared_rows * (input_shape[3][1] - 1) if self.sampled else self.vocabulary_size
        return (input_shape[0][0], 1 + shared)

if form == "concatenated":
    models.SharedSoftmaxLogits = ConcatenatedLogits
model = models.build_model("softmax", V, dim, k, 0.005, "lazy-adam", seed, batch_size=B, log_q=np.log(np.full(V, 1.0 / V)))
if form == "concatenated":
    model.compile(optimizer=models.make_optimizer("lazy-adam", 0.005), jit_compile=True,
                  loss=lambda y_true, y_pred: -y_true[:, 0] * ops.log_softmax(y_pred, axis=-1)[:, 0],
                  metrics=[keras.metrics.MeanMetricWrapper(
                      lambda y_true, y_pred: ops.cast(y_pred[:, 0] >= ops.max(y_pred[:, 1:], axis=-1), "float32"),
                      name="accuracy")],
                  steps_per_execution=models.STEPS_PER_EXECUTION)
rng = np.random.default_rng(seed)
n = steps * B
x = {"target": rng.integers(0, V, (n, 1)).astype("int32"),
     "contexts": rng.integers(0, V, (n, 1 + k)).astype("int32")}
y = np.zeros((n, 1 + k), "float32"); y[:, 0] = 1.0
epochs = []
for _ in range(3):
    start = time.perf_counter()
    history = model.fit(x, y, batch_size=B, epochs=1, verbose=0, shuffle=False)
    epochs.append(time.perf_counter() - start)
print(json.dumps({"first": epochs[0], "later": min(epochs[1:]), "loss": history.history["loss"][-1]}))
"""

FORMS = {"concatenated": "concatenated logits (former)", "reduced": "reduced per row (track2vec)"}


def parse_shape(text: str) -> tuple[int, int, int, int]:
    try:
        vocabulary, dim, negatives, batch = (int(part) for part in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"a shape is vocabulary:dim:negatives:batch, got {text!r}") from None
    return vocabulary, dim, negatives, batch


def run(shape: tuple[int, int, int, int], seed: int, steps: int, threads: int, form: str) -> dict:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    arguments = map(str, (*shape, seed, steps, threads))
    done = subprocess.run([sys.executable, "-c", CHILD, *arguments, form], capture_output=True, text=True,
                          env=env, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", type=parse_shape, nargs="+",
                        default=[(3518, 158, 19, 8653), (184929, 34, 20, 1260), (184929, 64, 5, 4096)])
    parser.add_argument("--steps", type=int, default=32, help="batches per epoch")
    parser.add_argument("--threads", type=int, default=1, help="TensorFlow threads per process")
    parser.add_argument("--repeats", type=int, default=2, help="fresh processes per form and shape, alternating")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"softmax, lazy-adam (lr 0.005), {args.steps} batches an epoch, {args.threads} thread(s), seed {args.seed}; "
          f"best of {args.repeats} fresh processes per form")
    for shape in args.shapes:
        vocabulary, dim, negatives, batch = shape
        results = {form: [] for form in FORMS}
        for _ in range(args.repeats):
            for form in FORMS:
                results[form].append(run(shape, args.seed, args.steps, args.threads, form))
        best = {form: {key: min(r[key] for r in runs) for key in ("first", "later")} | {"loss": runs[0]["loss"]}
                for form, runs in results.items()}
        print(f"vocabulary {vocabulary}, dim {dim}, {negatives} negatives, batch {batch}")
        for form, result in best.items():
            print(f"  {FORMS[form]:30s} first epoch {result['first']:7.2f} s   later {result['later']:6.2f} s "
                  f"({1000 * result['later'] / args.steps:6.1f} ms a step)   loss {result['loss']:.6f}")
        before, after = best["concatenated"], best["reduced"]
        print(f"  steps {before['later'] / after['later']:.2f}x faster reduced; first epoch "
              f"{before['first'] / after['first']:.2f}x; loss difference {abs(before['loss'] - after['loss']):.2e}")


if __name__ == "__main__":
    main()
