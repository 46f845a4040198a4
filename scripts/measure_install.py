"""How long CI's install takes with pip and with uv, side by side: the project and its test extra into a fresh
virtual environment, with no download cache, as ``.ci/run`` does on a fresh machine.

For each installer (alternating, ``--repeats`` times) this clones the repository's committed state into a
temporary directory, creates ``.venv`` there with ``python3 -m venv``, installs ``-e ".[test]"`` and lists
what was installed; it prints each run's wall time, the ratio of the medians, and whether both installers
installed the same releases (uv itself aside).

    python scripts/measure_install.py [--repeats 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXTRA = ".[test]"


def install(installer: str, directory: Path) -> tuple[float, set[str]]:
    """(wall seconds from an empty directory to an installed environment, its ``name==version`` lines)."""
    env = {**os.environ, "PIP_NO_CACHE_DIR": "1", "UV_NO_CACHE": "1"}
    python = directory / ".venv" / "bin" / "python"
    started = time.perf_counter()
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(directory)], check=True)
    subprocess.run([sys.executable, "-m", "venv", str(directory / ".venv")], check=True)
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True, env=env)
    if installer == "uv":
        subprocess.run([python, "-m", "pip", "install", "--quiet", "uv"], check=True, env=env)
        # Like for like: uv is asked to write the .pyc files that pip writes by default (.ci/run leaves
        # them to the suite's first imports instead).
        command = [python, "-m", "uv", "pip", "install", "--quiet", "--compile-bytecode", "--python", str(python),
                   "-e", EXTRA]
    else:
        command = [python, "-m", "pip", "install", "--quiet", "-e", EXTRA]
    subprocess.run(command, check=True, env=env, cwd=directory)
    seconds = time.perf_counter() - started
    frozen = subprocess.run([python, "-m", "pip", "freeze", "--exclude-editable"], check=True, env=env,
                            capture_output=True, text=True).stdout
    return seconds, {line for line in frozen.splitlines() if line and not line.lower().startswith("uv==")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1, help="runs of each installer (default: 1)")
    args = parser.parse_args()
    seconds: dict[str, list[float]] = {"pip": [], "uv": []}
    installed: dict[str, set[str]] = {}
    for run in range(1, args.repeats + 1):
        for installer in ("pip", "uv"):
            with tempfile.TemporaryDirectory(prefix=f"install-{installer}-") as directory:
                wall, releases = install(installer, Path(directory) / "checkout")
            seconds[installer].append(wall)
            installed.setdefault(installer, releases)
            print(f"{installer:>3}, run {run}: {wall:6.1f} s, {len(releases)} packages", flush=True)
    pip, uv = statistics.median(seconds["pip"]), statistics.median(seconds["uv"])
    same = installed["pip"] == installed["uv"]
    print(f'project and "{EXTRA}" into a fresh venv, no cache: median {pip:.1f} s with pip, {uv:.1f} s with uv '
          f"({uv / pip:.2f}x); the same releases: {'yes' if same else 'no'}")
    if not same:
        for installer, other in (("pip", "uv"), ("uv", "pip")):
            for line in sorted(installed[installer] - installed[other]):
                print(f"  only with {installer}: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
