"""What a trial worker pays to start Keras: CPU seconds and resident memory, with and without the optional imports.

A trial worker has Ray Tune loaded, then ``configure_backend`` imports TensorFlow, which loads Keras,
which imports scikit-learn and Matplotlib when they are installed (for helpers training never uses).
``configure_backend`` keeps them out; the other mode re-enacts the former start, which let them in.
Each start runs in a fresh process; the modes alternate ``--repeats`` times and the medians are compared.

    python scripts/measure_worker_start.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

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
rss = int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]) / 1024
print(json.dumps({"cpu": cpu() - before, "rss": rss, "loaded": sorted(m for m in ("sklearn", "matplotlib") if m in sys.modules)}))
"""
MODES = {"with": "Keras with its optional imports (before)", "without": "without them (configure_backend now)"}


def start(mode: str) -> dict:
    done = subprocess.run([sys.executable, "-c", START, mode], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    runs: dict[str, list[dict]] = {mode: [] for mode in MODES}
    for index in range(args.repeats):
        for mode in MODES:
            result = start(mode)
            runs[mode].append(result)
            print(f"{MODES[mode]:42s} run {index + 1}: {result['cpu']:5.2f} CPU s, {result['rss']:6.0f} MiB resident, "
                  f"loaded: {', '.join(result['loaded']) or 'neither'}", flush=True)
    cpu = {mode: statistics.median(r["cpu"] for r in results) for mode, results in runs.items()}
    rss = {mode: statistics.median(r["rss"] for r in results) for mode, results in runs.items()}
    print(f"median over {args.repeats}: {cpu['with']:.2f} -> {cpu['without']:.2f} CPU s "
          f"({cpu['without'] / cpu['with']:.2f}x), {rss['with']:.0f} -> {rss['without']:.0f} MiB "
          f"({rss['without'] - rss['with']:+.0f} MiB) per trial worker")


if __name__ == "__main__":
    main()
