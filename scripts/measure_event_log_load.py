"""Loading an event log against loading the same sessions as text, one playlist a line: seconds and peak memory.

Writes seeded synthetic sessions (Zipf-popular items) twice into a temporary directory: as a text file of
one session a line, and as session-rec's event log (``SessionId<TAB>ItemId<TAB>Time``, a row an
interaction, neighbouring sessions' rows interleaved so that only the times order them). Each side is
loaded by ``load_playlists`` in a fresh process, ``--repeats`` times, alternating; the medians are compared.
A third side re-enacts a list-based read of the log (every line held as a string before parsing) to show
what reading its lines lazily saves. Every side must yield the same playlists.

    python scripts/measure_event_log_load.py [--sessions 300000] [--repeats 3] [--seed 0]
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
LOAD = """
import hashlib, json, resource, sys, time
from pathlib import Path
from track2vec.data import loaders
path, side = Path(sys.argv[1]), sys.argv[2]
started = time.perf_counter()
if side == "log as a list of lines":  # the loader as it is, but its lines all split into strings first
    loaders._lines = lambda text: iter(text.splitlines())
playlists = loaders.load_playlists(str(path))
tokens, offsets, names = playlists.tokens, playlists.offsets, playlists.names
seconds = time.perf_counter() - started
digest = hashlib.sha256(("\\n".join(" ".join(names[tokens[a:b]]) for a, b in zip(offsets[:-1], offsets[1:]))).encode())
print(json.dumps({"seconds": seconds, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "playlists": len(offsets) - 1, "digest": digest.hexdigest()}))
"""
SIDES = {"text, a playlist a line": "sessions.txt", "event log (streamed)": "events.tsv",
         "log as a list of lines": "events.tsv"}


def write_corpus(directory: Path, n_sessions: int, seed: int) -> int:
    """The same sessions as ``sessions.txt`` and ``events.tsv``; returns the number of interactions."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(2, 20, n_sessions)
    items = rng.zipf(1.3, int(lengths.sum())) % 200_000
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    sessions = [items[start:end].tolist() for start, end in zip(offsets[:-1], offsets[1:])]
    (directory / "sessions.txt").write_text("".join(" ".join(map(str, session)) + "\n" for session in sessions))
    with open(directory / "events.tsv", "w") as log:
        log.write("SessionId\tItemId\tTime\n")
        for number, position, item in interleaved_backwards(sessions):
            log.write(f"{number}\t{item}\t{1.4e9 + 30 * position:.1f}\n")
    return int(lengths.sum())


def interleaved_backwards(sessions: list[list]):
    """``(session, position, item)`` rows: each session's in reverse order, two neighbouring sessions'
    alternating (the first of the two first), so that only the times put a session in order."""
    for pair in range(0, len(sessions), 2):
        backwards = [[(number, position, item) for position, item in enumerate(sessions[number])][::-1]
                     for number in range(pair, min(pair + 2, len(sessions)))]
        for rows in itertools.zip_longest(*backwards):
            yield from (row for row in rows if row is not None)


def load(path: Path, side: str) -> dict:
    output = subprocess.run([sys.executable, "-c", LOAD, str(path), side], check=True, capture_output=True,
                            text=True, cwd=ROOT).stdout
    return json.loads(output.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=300_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary)
        interactions = write_corpus(directory, args.sessions, args.seed)
        sizes = {name: (directory / name).stat().st_size / 2**20 for name in set(SIDES.values())}
        print(f"{args.sessions:,} sessions, {interactions:,} interactions (seed {args.seed}); "
              + ", ".join(f"{name} {size:.0f} MiB" for name, size in sorted(sizes.items())))
        runs: dict[str, list[dict]] = {side: [] for side in SIDES}
        for _ in range(args.repeats):
            for side, name in SIDES.items():
                runs[side].append(load(directory / name, side))
    digests = {run["digest"] for side in runs.values() for run in side}
    if len(digests) != 1:
        print("the sides loaded different playlists", file=sys.stderr)
        return 1
    medians = {side: {key: statistics.median(run[key] for run in side_runs) for key in ("seconds", "peak_mib")}
               for side, side_runs in runs.items()}
    text = medians["text, a playlist a line"]
    print(f"{'side':<26} {'seconds':>8} {'peak MiB':>9} {'s / text':>9} {'MiB / text':>11}")
    for side, median in medians.items():
        print(f"{side:<26} {median['seconds']:>8.2f} {median['peak_mib']:>9.0f} "
              f"{median['seconds'] / text['seconds']:>9.2f} {median['peak_mib'] / text['peak_mib']:>11.2f}")
    streamed, listed = medians["event log (streamed)"], medians["log as a list of lines"]
    print(f"streamed / list of lines: {streamed['seconds'] / listed['seconds']:.2f}x the time, "
          f"{streamed['peak_mib'] / listed['peak_mib']:.2f}x the peak memory; every side loaded the same playlists")
    return 0


if __name__ == "__main__":
    sys.exit(main())
