"""Shared fixtures and helpers of the suite.

- the real data files beside the repository, and crafted object .npy files (``Reducer``);
- Ray: ``no_ray_left`` (a test that may leave Ray initialised), ``two_node_cluster``;
- Keras' JAX backend without TensorFlow: ``TENSORFLOW_UNIMPORTABLE``, ``JAX_BACKEND``;
- ``track2vec-tune`` as a real process (``tune_cli``), and one finished tiny study shared by
  the study and report tests (``tiny_study``, session-scoped: it runs once, when first needed);
- the README's Python API example, run once as written (``readme_example``, session-scoped too).
- the split of a parallel run: the tests that take a Ray fixture form one pytest-xdist group (``pytest_itemcollected``).

Test modules import the plain helpers with ``from conftest import ...``.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

# CI clones the repository somewhere else with shared/ beside it, as here.
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _shared_file(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.is_file():
        pytest.skip(f"real data file {path} is absent (expected shared/data/ beside the repository)")
    return path


@pytest.fixture(scope="session")
def ecommerce_npy() -> Path:
    """The e-commerce sessions: an object .npy of lists alternating product code and "useless"."""
    return _shared_file("ecommerce_sessions.npy")


@pytest.fixture(scope="session")
def kosarak_txt() -> Path:
    """Kosarak click sessions: a text file, one session of integer ids per line."""
    return _shared_file("kosarak_sessions.txt")


class Reducer:
    """Pickles as ``function(*args)``: what a crafted .npy uses to run code on load."""

    def __init__(self, function, *args) -> None:
        self.function, self.args = function, args

    def __reduce__(self):
        return (self.function, self.args)


def write_object_npy_file(path: Path, payload: bytes, shape: tuple = (1,)) -> Path:
    """A valid object-dtype .npy header followed by raw pickle bytes."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "|O", "fortran_order": False, "shape": shape})
    path.write_bytes(buffer.getvalue() + payload)
    return path


@pytest.fixture
def write_object_npy():
    """``write(path, payload, shape=(1,))``: a valid object-dtype .npy header followed by raw pickle bytes."""
    return write_object_npy_file


@pytest.fixture
def malicious_npy(tmp_path, write_object_npy) -> tuple[Path, Path]:
    """(an .npy whose pickle would create a file when loaded with allow_pickle=True, that file)."""
    sentinel = tmp_path / "pwned.txt"
    # Hand-written protocol-0 pickle: builtins.open(sentinel, "w") via GLOBAL + REDUCE.
    payload = b"cbuiltins\nopen\n(V" + str(sentinel).encode("raw_unicode_escape") + b"\nVw\ntR."
    return write_object_npy(tmp_path / "playlists.npy", payload), sentinel


# --- Ray ---------------------------------------------------------------------------------------


@pytest.fixture
def no_ray_left():
    """Shut Ray down after a test that may leave it initialised in this process."""
    yield
    import ray

    if ray.is_initialized():
        ray.shutdown()


@pytest.fixture
def two_node_cluster():
    """(cluster, its second node): two raylets of one CPU each on this machine, token auth as by default."""
    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    worker = cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    yield cluster, worker
    if ray.is_initialized():
        ray.shutdown()
    cluster.shutdown()


# --- Keras' JAX backend without TensorFlow (as on a GPU machine that has JAX and no TensorFlow) -------

# The start of a `python -c` program whose later imports of TensorFlow fail loudly.
TENSORFLOW_UNIMPORTABLE = "import sys; sys.modules['tensorflow'] = None; "
# The environment that puts Keras (in the process and in the trial workers it starts) on JAX's CPU backend.
JAX_BACKEND = {"KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}


# --- track2vec-tune as a real process ----------------------------------------------------------


class TuneCLI:
    """``track2vec-tune`` in subprocesses: the console script, else ``python -m tune.cli``; no RAY_ADDRESS."""

    def __init__(self) -> None:
        script = Path(sys.executable).parent / "track2vec-tune"
        self.command = [str(script)] if script.exists() else [sys.executable, "-m", "tune.cli"]
        self.env = {**os.environ, "RAY_ADDRESS": ""}
        self.started: list[subprocess.Popen] = []

    def start(self, args: list[str], log: Path, err: Path | None = None,
              command: list[str] | None = None) -> subprocess.Popen:
        """``track2vec-tune ARGS`` (or ``command ARGS``) in a new process group; stdout to ``log``,
        stderr to ``err`` (or ``log``)."""
        process = subprocess.Popen([*(command or self.command), *args], stdout=open(log, "w"),
                                   stderr=open(err, "w") if err else subprocess.STDOUT, env=self.env,
                                   start_new_session=True)
        self.started.append(process)
        return process

    def run(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
        return subprocess.run([*self.command, *args], capture_output=True, text=True, timeout=timeout, env=self.env)

    @staticmethod
    def stop(process: subprocess.Popen) -> None:
        """SIGKILL the process group of a run that is still going."""
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=60)

    @staticmethod
    def kill_driver(process: subprocess.Popen) -> None:
        """SIGKILL the driver alone (no chance to save anything), then whatever of its group outlives it."""
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        time.sleep(2)
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.fixture
def tune_cli():
    """A ``TuneCLI``; the process groups it started are killed after the test."""
    cli = TuneCLI()
    yield cli
    for process in cli.started:
        cli.stop(process)


# --- one finished tiny study, shared ------------------------------------------------------------


@dataclass(frozen=True)
class FinishedStudy:
    storage: Path
    name: str
    trials: int
    max_epochs: int
    code: int  # run's exit status
    out: str  # run's standard output

    @property
    def path(self) -> Path:
        return self.storage / self.name


@pytest.fixture(scope="session")
def tiny_study(tmp_path_factory) -> FinishedStudy:
    """One real study (Ray Tune, Optuna, ASHA, Keras) on builtin:tiny, run once by ``track2vec-tune run``:
    5 trials of at most 3 epochs, ASHA rungs at epochs 1 and 2, so some trials complete and some stop.

    Tests that read it must not change it (copy it first); ``export --force`` rewrites the same export.
    """
    from tune.cli import main
    from tune.testing import FAST_SPACE_TOML, free_port

    root = tmp_path_factory.mktemp("tiny-study")
    config = root / "space.toml"
    config.write_text(FAST_SPACE_TOML)
    study = FinishedStudy(root / "studies", "tiny", trials=5, max_epochs=3, code=-1, out="")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["run", "--data", "builtin:tiny", "--config", str(config), "--trials", str(study.trials),
                     "--max-epochs", str(study.max_epochs), "--grace-period", "1", "--reduction-factor", "2",
                     "--storage", str(study.storage), "--name", study.name, "--dashboard-port", str(free_port())])
    return FinishedStudy(study.storage, study.name, study.trials, study.max_epochs, code, out.getvalue())


# --- the README's Python API example, run once ---------------------------------------------------

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_python_example() -> str:
    """The Python block of the README's "In a notebook: the Python API" section."""
    block = re.search(r"### In a notebook: the Python API\n.*?```python\n(.*?)```", README.read_text(), re.S)
    assert block, "the README has no Python API example"
    return block.group(1)


@dataclass(frozen=True)
class ExampleRun:
    directory: Path  # the fresh working directory it ran in
    namespace: dict  # its variables after it ran


@pytest.fixture(scope="session")
def readme_example(tmp_path_factory) -> ExampleRun:
    """The README's Python API example, executed as written (as a notebook would, in a fresh directory and
    without RAY_ADDRESS): a study with repeats on builtin:tiny, shared by the README and repeats tests.

    Tests that change its study must copy it first.
    """
    directory = tmp_path_factory.mktemp("readme-example")
    previous_directory, previous_address = Path.cwd(), os.environ.get("RAY_ADDRESS")
    os.chdir(directory)
    os.environ["RAY_ADDRESS"] = ""
    namespace: dict = {}
    try:
        exec(compile(readme_python_example(), "README.md (Python API example)", "exec"), namespace)
    finally:
        os.chdir(previous_directory)
        if previous_address is None:
            os.environ.pop("RAY_ADDRESS", None)
        else:
            os.environ["RAY_ADDRESS"] = previous_address
    return ExampleRun(directory, namespace)


# --- parallel runs (pytest-xdist) ----------------------------------------------------------------

# The fixtures of the tests that start Ray (a study, a cluster, or Ray in this process): a new such test takes
# one of them (no_ray_left at least), which puts it in the Ray group below.
_RAY_FIXTURES = {"tiny_study", "readme_example", "tune_cli", "two_node_cluster", "one_machine_cluster", "no_ray_left"}


def pytest_itemcollected(item):
    """Under ``-n 2 --dist loadgroup`` (scripts/test.sh), the tests that start Ray go one after another to one
    worker, while the others run on the second: the studies keep a machine's timings (some catch a trial
    mid-way), each session-scoped study runs once, and the quick tests use the cores that Ray leaves idle.
    Marked as each test is collected, before xdist reads the groups; without xdist the mark changes nothing."""
    if _RAY_FIXTURES & set(getattr(item, "fixturenames", ())):
        item.add_marker(pytest.mark.xdist_group("ray"))
