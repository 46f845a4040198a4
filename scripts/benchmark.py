#!/usr/bin/env python
"""Benchmark suite of track2vec-tune: the library against the notebook, gensim and a grid search.

Rows (each in its own module under ``scripts/bench/``):

1. pair generation: ``SkipGramSampler.epoch`` vs the notebook's Keras-``skipgrams`` generator;
2. retrieval for evaluation: ``top_k`` / ``ranks_of_targets`` vs the notebook's KD-tree;
3. training vs gensim 4 (throughput, time to gensim's quality, final quality) and where our time goes;
4. tuning efficiency: the notebook's 9-point grid vs the service (TPE + ASHA);
5. parallelism and memory: trials/hour with 1 vs 2 concurrent trials, a trial's peak RSS
   on the Deezer-scale corpus, one copy of the corpus in Ray's object store;
6. GPU: row 3's training on a GPU, when the machine has one;
7. the study's Optuna storage: the journal file vs SQLite, for the driver's write pattern;
8. quality: a default study's winner (and blended mode) against the counted SR/AR baselines on test;
9. transfer: a study on a 10% sample plus a short warm-started one on all the data, against a study
   of about the same training on all the data (the winners' test NDCG@10).
10. the Million-Playlist-size corpus: build time and peak memory of ``builtin:mpd`` (first and cached
    load), the former string path, and reading the dataset's JSON slices.

Compared things are measured side by side in one process run: they alternate, each is
repeated, and medians are reported, so a shared, noisy machine biases neither side.

Needs the ``bench`` extra (gensim, psutil): ``.venv/bin/pip install -e ".[bench]"``. Usage::

    .venv/bin/python scripts/benchmark.py --quick          # smaller sizes (README: its time), writes BENCHMARKS-quick.md
    .venv/bin/python scripts/benchmark.py                  # full run (an hour or more), writes BENCHMARKS.md
    .venv/bin/python scripts/benchmark.py --quick --rows 1,2   # some rows only (prints; no report file
                                                               # unless --output is given)
    .venv/bin/python scripts/benchmark.py --rows 8 --quality-corpora builtin-small,kosarak  # row 8, two corpora
    .venv/bin/python scripts/benchmark.py --rows 8 --quality-corpora e-commerce --quality-seeds 0,1,2  # and seeds
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # the bench package
sys.path.insert(1, str(HERE.parent))  # track2vec and tune, also when not installed

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from bench import common  # noqa: E402

ROWS = {
    1: "bench.row_pairs",
    2: "bench.row_retrieval",
    3: "bench.row_training",
    4: "bench.row_tuning",
    5: "bench.row_resources",
    6: "bench.row_gpu",
    7: "bench.row_optuna_storage",
    8: "bench.row_quality",
    9: "bench.row_transfer",
    10: "bench.row_corpus",
}
CHILDREN = {"memory": "bench.row_resources", "gpu": "bench.row_gpu", "corpus": "bench.row_corpus"}  # subprocess entry points


def parse_rows(text: str) -> list[int]:
    """``"1,3"`` -> ``[1, 3]``; every number must name a row."""
    try:
        rows = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected row numbers like 1,2,3, got {text!r}") from None
    unknown = [row for row in rows if row not in ROWS]
    if unknown or not rows:
        raise argparse.ArgumentTypeError(f"rows are 1 to {len(ROWS)}, got {text!r}")
    return rows


def parse_seeds(text: str) -> tuple[int, ...]:
    """``"0,2"`` -> ``(0, 2)``: distinct non-negative seeds, in the order given."""
    try:
        seeds = tuple(dict.fromkeys(int(part) for part in text.split(",") if part.strip()))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seeds like 0,1,2, got {text!r}") from None
    if not seeds or min(seeds) < 0:
        raise argparse.ArgumentTypeError(f"seeds are whole numbers >= 0, got {text!r}")
    return seeds


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes and fewer repetitions (the README gives its time)")
    parser.add_argument("--rows", type=parse_rows, default=sorted(ROWS), help="comma-separated rows to run, e.g. 1,2,3")
    parser.add_argument("--output", type=Path, default=None,
                        help="Markdown report to write (default when all rows run: BENCHMARKS.md at the repository "
                             "root, BENCHMARKS-quick.md with --quick; '-' writes none)")
    parser.add_argument("--quality-corpora", metavar="NAMES",
                        help="row 8 on these corpora only, comma-separated (e-commerce, kosarak, builtin-small, "
                             "nowplaying; a full row 8 runs a default 24-trial study on every one of them; "
                             "kosarak-shuffled and nowplaying-10k, derived from the shared files, run only when named)")
    parser.add_argument("--quality-seeds", type=parse_seeds, metavar="SEEDS",
                        help="row 8 once per seed, comma-separated (default 0, the issue's): the seed also draws "
                             "which held-out pairs are validation and which test; several add each target's mean")
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--child-args", default="{}", help=argparse.SUPPRESS)
    return parser


def run_row(number: int, settings: common.Settings) -> common.RowReport:
    """Run one row; a failure becomes a row that says why, and the other rows still run."""
    started = time.perf_counter()
    try:
        report = importlib.import_module(ROWS[number]).run(settings)
    except Exception as error:  # noqa: BLE001 - a broken row must not lose the others
        traceback.print_exc()
        report = common.RowReport(number, f"row {number}", skipped=f"failed: {type(error).__name__}: {error}")
    report.seconds = time.perf_counter() - started
    return report


def output_path(args: argparse.Namespace) -> Path | None:
    if args.output is not None:
        return None if str(args.output) == "-" else args.output
    if args.rows != sorted(ROWS) or args.quality_corpora or args.quality_seeds:
        return None
    # A quick run must not replace the latest full run, which BENCHMARKS.md holds.
    return common.REPO / ("BENCHMARKS-quick.md" if args.quick else "BENCHMARKS.md")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.child:
        result = importlib.import_module(CHILDREN[args.child]).child(json.loads(args.child_args))
        print(common.CHILD_MARK + json.dumps(result), flush=True)
        return 0

    from track2vec.runtime import configure_backend

    configure_backend(use_gpu=False)  # CPU rows; the GPU row looks for a GPU in a subprocess
    settings = common.quick_settings() if args.quick else common.full_settings()
    if args.quality_corpora:
        from bench.row_quality import pick

        try:
            offered = common.full_settings().quality_corpora + common.derived_quality_corpora()
            settings = dataclasses.replace(settings, quality_corpora=pick(offered, args.quality_corpora))
        except ValueError as error:
            print(f"benchmark.py: error: {error}", file=sys.stderr)
            return 2
    if args.quality_seeds:
        settings = dataclasses.replace(settings, quality_seeds=args.quality_seeds)
    command = "python scripts/benchmark.py" + " ".join(["", *(argv if argv is not None else sys.argv[1:])])
    started_at = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    machine, versions = common.machine_info(), common.versions()
    print(f"track2vec-tune benchmark, {settings.describe()} mode, {started_at}")
    print("machine: " + ", ".join(f"{k} {v}" for k, v in machine.items()))
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()), flush=True)

    started = time.perf_counter()
    reports = []
    for number in args.rows:
        print(f"\n-- row {number} ...", flush=True)
        report = run_row(number, settings)
        reports.append(report)
        print(common.render_text(report), flush=True)
    total = time.perf_counter() - started
    print(f"\nall rows: {total / 60:.1f} min")

    path = output_path(args)
    if path is not None:
        path.write_text(common.render_markdown(reports, settings, command, machine, versions, started_at, total))
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
