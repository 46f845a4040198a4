"""The softmax loss' compilation time: the label-weighted loss against a constant one-hot gradient.

``track2vec.model.true_context_cross_entropy`` weights the true context's log-probability by its
label (1 for every real pair). Written without the weight, the gradient of taking column 0 is a
constant one-hot matrix [batch, 1 + 128 x negatives] that XLA's constant-folding pass computes
element by element while it compiles. For each batch size this runs two fresh processes on the
same random pairs, one per loss, and prints the first epoch (compilation plus steps), a second
epoch (steps only) and the loss after both, which must agree.

    python scripts/measure_xla_compile.py [--vocabulary 3518] [--batches 1024 10444] [--steps 32] [--seed 0]
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
from keras import ops
from track2vec import model as models
V, B, k, dim, seed, steps, loss = *map(int, sys.argv[1:7]), sys.argv[7]
model = models.build_model("softmax", V, dim, k, 0.01, "adam", seed, batch_size=B,
                           log_q=np.log(np.full(V, 1.0 / V)))
if loss == "unweighted":
    model.compile(optimizer=models.make_optimizer("adam", 0.01), jit_compile=True,
                  loss=lambda y_true, y_pred: -ops.log_softmax(y_pred, axis=-1)[:, 0],
                  steps_per_execution=models.STEPS_PER_EXECUTION)
rng = np.random.default_rng(seed)
n = steps * B
x = {"target": rng.integers(0, V, (n, 1)).astype("int32"),
     "contexts": rng.integers(0, V, (n, 1 + k)).astype("int32")}
y = np.zeros((n, 1 + k), "float32"); y[:, 0] = 1.0
start = time.perf_counter()
model.fit(x, y, batch_size=B, epochs=1, verbose=0, shuffle=False)
first = time.perf_counter() - start
start = time.perf_counter()
history = model.fit(x, y, batch_size=B, epochs=1, verbose=0, shuffle=False)
second = time.perf_counter() - start
print(json.dumps({"first": first, "second": second, "loss": history.history["loss"][-1]}))
"""

LOSSES = {"unweighted": "constant one-hot gradient", "weighted": "track2vec (label-weighted)"}


def run(vocabulary: int, batch: int, negatives: int, dim: int, seed: int, steps: int, loss: str) -> dict:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    arguments = map(str, (vocabulary, batch, negatives, dim, seed, steps))
    done = subprocess.run([sys.executable, "-c", CHILD, *arguments, loss], capture_output=True, text=True,
                          env=env, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocabulary", type=int, default=3518)
    parser.add_argument("--batches", type=int, nargs="+", default=[1024, 10444])
    parser.add_argument("--negatives", type=int, default=9)
    parser.add_argument("--dim", type=int, default=72)
    parser.add_argument("--steps", type=int, default=32, help="batches per epoch")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"softmax, vocabulary {args.vocabulary}, {args.negatives} negatives, dim {args.dim}, seed {args.seed}; "
          f"seconds of an epoch of {args.steps} batches")
    for batch in args.batches:
        results = {loss: run(args.vocabulary, batch, args.negatives, args.dim, args.seed, args.steps, loss)
                   for loss in LOSSES}
        for loss, result in results.items():
            print(f"  batch {batch:6d}  {LOSSES[loss]:28s} first epoch {result['first']:7.2f} s   "
                  f"second {result['second']:6.2f} s   loss {result['loss']:.6f}")
        before, after = results["unweighted"], results["weighted"]
        print(f"  batch {batch:6d}  first epoch {before['first'] / after['first']:.1f}x faster weighted; "
              f"second epoch {after['second'] / before['second']:.2f}x the time; "
              f"loss difference {abs(before['loss'] - after['loss']):.2e}")


if __name__ == "__main__":
    main()
