"""A study's wall time with trial workers reused (the default) against a fresh worker per trial.

A fresh worker imports TensorFlow and Keras and compiles the sampler before its first step; a reused
one has done so for an earlier trial. For each mode this runs the same study (same space, seed and
corpus) as ``track2vec-tune run`` in a fresh process, alternating the modes ``--repeats`` times, and
prints each run's wall time, its trials' best validation NDCG@10 and the ratio of the medians.

    python scripts/measure_worker_reuse.py [--data builtin:tiny] [--trials 8] [--max-epochs 3] [--repeats 2]
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The driver with reuse switched off, else unchanged.
FRESH_WORKERS = ("import sys, tune.driver as driver, tune.cli as cli; driver.reuse_actors = lambda: False; "
                 "sys.exit(cli.main(sys.argv[1:]))")
REUSED_WORKERS = "import sys, tune.cli as cli; sys.exit(cli.main(sys.argv[1:]))"


def run_study(mode: str, args: argparse.Namespace, root: Path, index: int) -> tuple[float, list[float]]:
    """(wall seconds, the trials' best validation NDCG@10, sorted) of one study."""
    from tune.testing import FAST_SPACE_TOML

    config = root / "space.toml"
    config.write_text(FAST_SPACE_TOML)
    name = f"{mode}-{index}"
    code = {"reused": REUSED_WORKERS, "fresh": FRESH_WORKERS}[mode]
    command = [sys.executable, "-c", code, "run", "--data", args.data, "--config", str(config),
               "--trials", str(args.trials), "--max-epochs", str(args.max_epochs), "--grace-period", "1",
               "--reduction-factor", "2", "--seed", str(args.seed), "--storage", str(root), "--name", name]
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env={**os.environ, "RAY_ADDRESS": ""})
    seconds = time.perf_counter() - started
    with open(root / name / "export" / "trials.csv") as handle:
        scores = sorted(float(row["best_val_ndcg_at_10"]) for row in csv.DictReader(handle))
    return seconds, scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="builtin:tiny")
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--max-epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    seconds: dict[str, list[float]] = {"fresh": [], "reused": []}
    with tempfile.TemporaryDirectory(prefix="worker-reuse-") as directory:
        for index in range(args.repeats):
            for mode in ("fresh", "reused"):
                wall, scores = run_study(mode, args, Path(directory), index)
                seconds[mode].append(wall)
                print(f"{mode:>6} workers, run {index + 1}: {wall:6.1f} s; best validation NDCG@10 of the trials "
                      f"{', '.join(f'{score:.4f}' for score in scores)}", flush=True)
    fresh, reused = statistics.median(seconds["fresh"]), statistics.median(seconds["reused"])
    print(f"{args.data}, {args.trials} trials of at most {args.max_epochs} epochs, seed {args.seed}: "
          f"median {fresh:.1f} s with a fresh worker per trial, {reused:.1f} s with reused workers "
          f"({reused / fresh:.2f}x)")


if __name__ == "__main__":
    main()
