"""Training with TensorFlow's host memory from malloc (its default) against its pooling allocator, which
``configure_backend`` turns on: pairs per second of the first epoch, the process's page faults and peak
resident memory, and the validation NDCG@10 (the same in both, the allocator changes no number).

Each run is a fresh ``track2vec train`` process (one epoch, the paper's e-commerce setting unless told
otherwise); the two modes alternate ``--repeats`` times and the best of each is compared.

    python scripts/measure_cpu_allocator.py [--data PATH_OR_BUILTIN ...] [--architecture A ...] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ECOMMERCE = ROOT.parent / "shared" / "data" / "ecommerce_sessions.npy"
PAPER = ["--window", "3", "--subsample", "1e-3", "--alpha", "1.0", "--dim", "50", "--negatives", "5"]
MODES = {"false": "malloc (TensorFlow's default)", "true": "pooled (configure_backend)"}


def train(data: str, architecture: str, pooled: str, threads: int) -> dict:
    """One epoch in a fresh process; its pairs/s, validation NDCG@10, page faults and peak RSS."""
    env = {**os.environ, "TF_CPU_ALLOCATOR_USE_BFC": pooled, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryFile("w+") as out:
        process = subprocess.Popen([sys.executable, "-m", "track2vec.cli", "train", "--data", data, *PAPER,
                                    "--architecture", architecture, "--epochs", "1", "--threads", str(threads),
                                    "--json"], stdout=out, stderr=subprocess.DEVNULL, env=env, cwd=ROOT)
        _, status, usage = os.wait4(process.pid, 0)
        out.seek(0)
        text = out.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"measure_cpu_allocator: training on {data} ({architecture}) failed:\n{text[-2000:]}")
    pairs = int(re.search(r"([\d,]+) pairs/s", text).group(1).replace(",", ""))
    result = json.loads(text.strip().splitlines()[-1])
    return {"pairs_per_s": pairs, "ndcg": result["val_ndcg_at_10"], "faults": usage.ru_minflt,
            "rss_mib": usage.ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", action="append", help=f"corpus (repeatable; default {ECOMMERCE} and builtin)")
    parser.add_argument("--architecture", action="append", help="repeatable; default sgns, tied-cosine, softmax")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    corpora = args.data or [str(ECOMMERCE), "builtin"]
    architectures = args.architecture or ["sgns", "tied-cosine", "softmax"]
    for data in corpora:
        for architecture in architectures:
            runs: dict[str, list[dict]] = {mode: [] for mode in MODES}
            for _ in range(args.repeats):
                for mode in MODES:
                    runs[mode].append(train(data, architecture, mode, args.threads))
            best = {mode: max(results, key=lambda r: r["pairs_per_s"]) for mode, results in runs.items()}
            before, after = best["false"], best["true"]
            print(f"{Path(data).name} {architecture}: {before['pairs_per_s']:,} -> {after['pairs_per_s']:,} pairs/s "
                  f"({after['pairs_per_s'] / before['pairs_per_s']:.2f}x); page faults {before['faults']:,} -> "
                  f"{after['faults']:,}; peak RSS {before['rss_mib']:.0f} -> {after['rss_mib']:.0f} MiB; "
                  f"val NDCG@10 {before['ndcg']:.4f} / {after['ndcg']:.4f}", flush=True)


if __name__ == "__main__":
    main()
