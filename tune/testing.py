"""Helpers for the tune test suite (as ``optuna.testing``): read a study back, talk to Ray."""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.request
from pathlib import Path
from typing import Callable

# Search ranges that keep epochs on builtin:tiny short, so that a study takes seconds.
FAST_SPACE_TOML = """\
dim = { min = 8, max = 32 }
window = { min = 1, max = 4 }
negatives = { min = 1, max = 5 }
batch_size = { min = 512, max = 2048 }
subsample = { min = 1e-3, max = 1e-1 }
learning_rate = { min = 1e-3, max = 1e-1 }
"""


# Appended to a test study's space: fixes the choices that change an epoch's pairs fourfold (direction,
# reduced windows) and its cost per pair (architecture, artist vectors), so that no trial's epochs take
# several times as long as another's (tests that catch a trial mid-way wait on the slowest).
EVEN_EPOCHS_TOML = """\
direction = "forward"
shrink_windows = true
architecture = "softmax"
artist_vectors = false
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def free_ports(count: int) -> list[int]:
    """``count`` distinct free ports (all bound at once, then released)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def processes_with_environment(name: str, value: str) -> list[int]:
    """The pids of this user's processes started with ``name=value`` in their environment (Linux's /proc;
    empty elsewhere): every process that descends from one started with it, whatever its process group."""
    marker = f"{name}={value}".encode()
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:  # gone, or another user's
            continue
    return [pid for pid in found if pid != os.getpid()]


def results(trial_dir: Path) -> list[dict]:
    """The results a trial reported, from its ``result.json``: complete lines only, as Ray may be
    appending the next one while it is read."""
    path = Path(trial_dir) / "result.json"
    if not path.exists():
        return []
    text = path.read_text()
    return [json.loads(line) for line in text[:text.rfind("\n") + 1].splitlines() if line.strip()]


def trial_dirs(study_dir: Path) -> dict[str, Path]:
    return {path.name.removeprefix("trial_"): path for path in Path(study_dir).glob("trial_*") if path.is_dir()}


def study_of_sessions(directory: Path, playlists, config_text: str, name: str, capsys) -> tuple[str, Path]:
    """A real 2-trial, 1-epoch study (``track2vec-tune run``) of ``playlists`` written one a line, under
    ``config_text``: (what it printed, its directory). Fails the test unless it exits 0."""
    from tune.cli import main

    data, config = directory / f"{name}.txt", directory / f"{name}.toml"
    data.write_text("\n".join(" ".join(str(item) for item in playlist) for playlist in playlists) + "\n")
    config.write_text(config_text)
    storage = directory / "studies"
    code = main(["run", "--data", str(data), "--config", str(config), "--trials", "2", "--max-epochs", "1",
                 "--storage", str(storage), "--name", name, "--dashboard-port", str(free_port())])
    out = capsys.readouterr().out
    assert code == 0, out
    return out, storage / name


def optuna_trials(study_dir: Path, name: str):
    """The Optuna study's trials, from the study's Optuna file (as its study.json names it)."""
    from tune import optuna_store
    from tune.study import Study

    study = Study(str(Path(study_dir).parent), name)
    return optuna_store.load(study, study.load_spec()).get_trials(deepcopy=False)


def wait_for(condition: Callable[[], object], timeout: float, interval: float = 0.3, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def auth_token() -> str | None:
    """The token Ray's token authentication expects (``ray get-auth-token`` prints the same)."""
    if os.environ.get("RAY_AUTH_TOKEN"):
        return os.environ["RAY_AUTH_TOKEN"]
    path = Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token")
    return path.read_text().strip() if path.exists() else None


def http_get_json(url: str, timeout: float = 10) -> dict:
    headers = {}
    token = auth_token()
    if token:
        headers["Authorization"] = f"Bearer {token}"
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout) as response:
        return json.loads(response.read())
