"""What a trial worker pays to start Keras: CPU seconds and resident memory.

A trial worker has Ray Tune loaded, then ``configure_backend`` imports TensorFlow, which loads Keras.
Two comparisons, each start in a fresh process, the two sides alternating ``--repeats`` times, medians compared:

- default: Keras' optional imports. Keras imports scikit-learn and Matplotlib when they are installed (for
  helpers training never uses); ``configure_backend`` keeps them out, the other side re-enacts the former
  start, which let them in.
- ``--against PYTHON``: the same start (``configure_backend`` as it is) under this interpreter and under
  another environment's, e.g. one with another release of a package that TensorFlow imports (each side
  prints the releases of numpy and ml_dtypes it loaded).

    python scripts/measure_worker_start.py [--repeats 3] [--against /path/to/other/venv/bin/python]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START = """
import json, resource, sys
from ray import tune  # loaded in a trial worker before the trainable runs
import track2vec.runtime as runtime
if sys.argv[1] == "with":
    runtime.KERAS_OPTIONAL_IMPORTS = ()  # the former start
def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
before = cpu()
runtime.configure_backend(threads=1)
import keras, track2vec.training
import ml_dtypes, numpy
rss = int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]) / 1024
print(json.dumps({"cpu": cpu() - before, "rss": rss, "versions": f"numpy {numpy.__version__}, ml_dtypes {ml_dtypes.__version__}",
                  "loaded": sorted(m for m in ("sklearn", "matplotlib") if m in sys.modules)}))
"""


def start(python: str, mode: str) -> dict:
    done = subprocess.run([python, "-c", START, mode], capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--against", metavar="PYTHON", help="compare this interpreter's start with another's")
    args = parser.parse_args()
    if args.against:
        sides = {"other": (args.against, "without", f"{args.against}"),
                 "this": (sys.executable, "without", f"{sys.executable}")}
    else:
        sides = {"other": (sys.executable, "with", "Keras with its optional imports (before)"),
                 "this": (sys.executable, "without", "without them (configure_backend now)")}
    runs: dict[str, list[dict]] = {side: [] for side in sides}
    for index in range(args.repeats):
        for side, (python, mode, label) in sides.items():
            result = start(python, mode)
            runs[side].append(result)
            print(f"{label} run {index + 1}: {result['cpu']:5.2f} CPU s, {result['rss']:6.0f} MiB resident, "
                  f"{result['versions']}; loaded: {', '.join(result['loaded']) or 'neither sklearn nor matplotlib'}",
                  flush=True)
    cpu = {side: statistics.median(r["cpu"] for r in results) for side, results in runs.items()}
    rss = {side: statistics.median(r["rss"] for r in results) for side, results in runs.items()}
    print(f"median over {args.repeats}: {cpu['other']:.2f} -> {cpu['this']:.2f} CPU s "
          f"({cpu['this'] / cpu['other']:.2f}x), {rss['other']:.0f} -> {rss['this']:.0f} MiB "
          f"({rss['this'] - rss['other']:+.0f} MiB) per trial worker")


if __name__ == "__main__":
    main()
