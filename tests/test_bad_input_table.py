"""What a user can get wrong, as one table: every row runs the real command-line entry point
(``track2vec`` or ``track2vec-tune``) and must end with exit status 2, one error line that
names the problem, and nothing written or overwritten under the test's directory.

Rows marked ``slow`` start a local Ray cluster before they can tell (the cluster's size,
the storage's writability).

Overlap: a few rows (missing or empty file, directory, numeric .npy, pickle globals, --trials 0,
--grace-period, --name with '/', unreachable --address, unknown study) are also tested,
one by one, in tests/test_train_cli.py and tests/test_tune_cli.py; here they read as one list.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import pickle
import re
import socket
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

import track2vec.cli
import tune.cli
from conftest import Reducer, write_object_npy_file


@dataclass(frozen=True)
class Case:
    cli: str  # "track2vec" or "track2vec-tune"
    args: Callable[[Path], list[str]]  # the command line after the program name, for a tmp dir
    says: str  # a phrase of the one error line
    slow: bool = False


# --- inputs ------------------------------------------------------------------------------------


def _file(name: str, content: bytes) -> Callable[[Path], str]:
    def make(tmp: Path) -> str:
        (tmp / name).write_bytes(content)
        return str(tmp / name)

    return make


def _npy(name: str, array: np.ndarray, keep: float = 1.0) -> Callable[[Path], str]:
    def make(tmp: Path) -> str:
        np.save(tmp / name, array, allow_pickle=True)
        full = (tmp / name).read_bytes()
        (tmp / name).write_bytes(full[: int(len(full) * keep)])
        return str(tmp / name)

    return make


def _object_array(playlists: list[list[str]]) -> np.ndarray:
    array = np.empty(len(playlists), dtype=object)
    for index, playlist in enumerate(playlists):
        array[index] = playlist
    return array


def _slice(name: str, content: bytes) -> Callable[[Path], str]:
    """A directory tmp/mpd holding one Million Playlist Dataset slice file."""
    def make(tmp: Path) -> str:
        (tmp / "mpd").mkdir(exist_ok=True)
        (tmp / "mpd" / name).write_bytes(content)
        return str(tmp / "mpd")

    return make


def _malicious_npy(tmp: Path) -> str:
    """An object .npy whose pickle, loaded by plain NumPy, would create tmp/pwned."""
    payload = pickle.dumps(Reducer(open, str(tmp / "pwned"), "w"), protocol=2)
    return str(write_object_npy_file(tmp / "evil.npy", payload))


PLAYLISTS = [[f"track_{(i * 7 + j) % 40}" for j in range(12)] for i in range(60)]

# --data problems: the same row for `track2vec train` and `track2vec-tune run`
DATA = {
    "missing file": (lambda tmp: str(tmp / "absent.npy"), "no such file"),
    "empty file": (_file("empty.txt", b""), "is empty"),
    "a directory": (lambda tmp: str(tmp), "is a directory"),
    "truncated .npy": (_npy("cut.npy", _object_array(PLAYLISTS), keep=0.5), "truncated or corrupt .npy"),
    ".npy of numbers": (_npy("numbers.npy", np.arange(100.0)), "expected a 1-D object array of playlists"),
    ".npy whose pickle asks for open()": (_malicious_npy, "refusing to load: the pickle asks for"),
    ".npy suffix, no NumPy header": (_file("fake.npy", b"a b c\n"), "no NumPy header"),
    "text with binary garbage": (_file("garbage.txt", bytes(np.random.default_rng(1).integers(0, 256, 4000,
                                                                                              dtype=np.uint8))),
                                 "binary data (NUL bytes)"),
    "text not in UTF-8": (_file("latin1.txt", "café crème\nb c d\n".encode("latin-1")), "not UTF-8"),
    "every playlist shorter than 2": (_file("singles.txt", b"a\nb\nc\n"), "no playlist has 2 or more items"),
    "vocabulary empty after min_count": (_file("rare.txt", "\n".join(f"x{i} y{i} z{i}" for i in range(30)).encode()),
                                         "the vocabulary is empty"),
    "validation set empty": (_file("pairs.txt", b"a b\n" * 30), "the validation set is empty"),
    "event log .csv without a header": (_file("clicks.csv", b"1,214536502,2014-04-07T10:51:09.277Z\n" * 30),
                                        "needs a header row naming a session and an item column"),
    "truncated gzip file": (_file("cut.txt.gz", gzip.compress(bytes(range(256)) * 40)[:200]),
                            "truncated or corrupt gzip file"),
    "comma-separated playlists in a .txt file": (_file("playlists.txt", b"a,b,c\nd,e\n" * 20),
                                                 "its lines are single tokens holding ','"),
    "event log with a short row": (_file("clicks.tsv", b"SessionId\tItemId\tTime\n1\ta\t1\n1\tb\n"),
                                   "line 3 has 2 fields"),
    "unknown built-in size": (lambda tmp: "builtin:huge", "unknown built-in size"),
    "builtin:mpd:N below its range": (lambda tmp: "builtin:mpd:10", "playlist count of mpd:N must be"),
    "MPD slice that is not JSON": (_slice("mpd.slice.0-999.json", b'{"playlists": [{"pid": 0, "tracks": ['),
                                   "mpd.slice.0-999.json: not JSON"),
    "MPD slice without playlists": (_slice("mpd.slice.0-999.json", b'{"info": {}}'), 'no "playlists" list'),
    "MPD track without track_uri": (_slice("mpd.slice.0-999.json", b'{"playlists": [{"pid": 7, "tracks": '
                                                                   b'[{"pos": 0, "artist_uri": "a"}]}]}'),
                                    'pid 7, track 0: no "track_uri"'),
    "MPD slices: a glob matching nothing": (lambda tmp: str(tmp / "mpd.slice.*.json"), "no file matches this pattern"),
}


def _toml(text: str) -> Callable[[Path], str]:
    return _file("space.toml", text.encode())


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _study(tmp: Path) -> str:
    """An existing study in tmp/studies (for the rows that must not touch it)."""
    from tune.spec import StudySpec
    from tune.study import Study

    study = Study(str(tmp / "studies"), "old")
    study.create()
    study.save_spec(StudySpec(name="old", trials=2, max_epochs=2, seed=0, min_count=2, grace_period=1,
                              reduction_factor=3.0))
    return "old"


def _train(*args: str) -> Callable[[Path], list[str]]:
    return lambda tmp: ["train", "--epochs", "1", "--out", str(tmp / "out"), *args]


def _run(*args, data: str = "builtin:tiny") -> Callable[[Path], list[str]]:
    """`track2vec-tune run` into tmp/studies; callables among ``args`` get the tmp dir."""
    return lambda tmp: ["run", "--data", data, "--storage", str(tmp / "studies"), "--name", "s",
                        *[arg(tmp) if callable(arg) else arg for arg in args]]


def _tune(*args) -> Callable[[Path], list[str]]:
    return lambda tmp: [arg(tmp) if callable(arg) else arg for arg in args]


CASES: dict[str, Case] = {}
for what, (make, says) in DATA.items():
    CASES[f"train --data: {what}"] = Case("track2vec", lambda tmp, make=make: _train("--data", make(tmp))(tmp), says)
    CASES[f"run --data: {what}"] = Case(
        "track2vec-tune", lambda tmp, make=make: _run(data=make(tmp))(tmp), says)

CASES.update({
    # track2vec
    "train: --epochs not a number": Case("track2vec", _train("--epochs", "abc"), "argument --epochs: invalid int value"),
    "train: unknown --architecture": Case("track2vec", _train("--architecture", "cbow"), "invalid choice: 'cbow'"),
    "train: --validation-pairs 0": Case("track2vec", _train("--data", "builtin:tiny", "--validation-pairs", "0"),
                                        "validation pairs must be >= 1"),
    "recommend: --model is not an export": Case(
        "track2vec", lambda tmp: ["recommend", "--model", str(tmp), "--playlist", "a b"], "not an export"),
    "recommend: --model is a file": Case(
        "track2vec", lambda tmp: ["recommend", "--model", _file("m.npy", b"x")(tmp), "--playlist", "a b"],
        "m.npy: a file, not an export"),
    # search space (--config)
    "config: unknown parameter": Case("track2vec-tune", _run("--config", _toml("foo = 3\n")), "unknown parameter 'foo'"),
    "config: negative window": Case("track2vec-tune", _run("--config", _toml("window = { min = -2, max = 4 }\n")),
                                    "window.min: must be >= 1, got -2"),
    "config: min > max": Case("track2vec-tune", _run("--config", _toml("dim = { min = 64, max = 8 }\n")),
                              "dim: min (64) is greater than max (8)"),
    "config: wrong type": Case("track2vec-tune", _run("--config", _toml('dim = "big"\n')),
                               "dim: expected a number, got 'big'"),
    "config: a per-study setting": Case("track2vec-tune", _run("--config", _toml("min_count = 3\n")),
                                        "use --min-count"),
    "config: not TOML": Case("track2vec-tune", _run("--config", _toml("dim = [\n")), "invalid TOML"),
    "config: missing file": Case("track2vec-tune", _run("--config", lambda tmp: str(tmp / "absent.toml")),
                                 "no such config file"),
    "config: nothing left to search": Case(
        "track2vec-tune", _run("--config", _toml('architecture = "sgns"\ndim = 16\nwindow = 2\ndirection = "both"\n'
                                                 'shrink_windows = false\nartist_vectors = false\nnegatives = 5\n'
                                                 'batch_size = 1024\nalpha = 0.75\nsubsample = 1e-3\n'
                                                 'learning_rate = 0.05\nlr_schedule = "constant"\n')),
        "every hyperparameter is fixed, so there is nothing to search"),
    "config: a directory": Case("track2vec-tune", _run("--config", lambda tmp: str(tmp)), "cannot read config file"),
    # run options
    "run: --trials 0": Case("track2vec-tune", _run("--trials", "0"), "argument --trials: must be at least 1"),
    "run: --max-epochs 0": Case("track2vec-tune", _run("--max-epochs", "0"), "argument --max-epochs: must be at least 1"),
    "run: --grace-period > --max-epochs": Case("track2vec-tune", _run("--max-epochs", "2", "--grace-period", "3"),
                                               "--grace-period (3) must not exceed --max-epochs (2)"),
    "run: --max-failures -1": Case("track2vec-tune", _run("--max-failures", "-1"), "argument --max-failures: must be >= 0"),
    "run: --validation-pairs 0": Case("track2vec-tune", _run("--validation-pairs", "0"), "argument --validation-pairs"),
    "run: --seed not a number": Case("track2vec-tune", _run("--seed", "x"), "argument --seed: invalid int value"),
    "run: --repeats -1": Case("track2vec-tune", _run("--repeats", "-1"), "argument --repeats: must be >= 0"),
    "run: --top 0": Case("track2vec-tune", _run("--repeats", "2", "--top", "0"), "argument --top: must be at least 1"),
    "run: --sample 0": Case("track2vec-tune", _run("--sample", "0"), "--sample must be in (0, 1]"),
    "run: --sample above 1": Case("track2vec-tune", _run("--sample", "1.5"), "--sample must be in (0, 1] (a fraction of the training playlists), got 1.5"),
    "run: --sample not a number": Case("track2vec-tune", _run("--sample", "half"), "argument --sample: expected a number"),
    "run: --warm-start-from a missing study": Case(
        "track2vec-tune", _run("--warm-start-from", lambda tmp: str(tmp / "studies" / "ghost")),
        "--warm-start-from"),  # the line goes on: "... no study named 'ghost' in ..."
    "run: --warm-start-from a directory that is no study": Case(
        "track2vec-tune", _run("--warm-start-from", lambda tmp: _mkdir(tmp / "stray") and str(tmp / "stray")), "is not a track2vec-tune study"),
    "run: --max-epoch-seconds 0": Case("track2vec-tune", _run("--max-epoch-seconds", "0"),
                                       "--max-epoch-seconds must be > 0, got 0"),
    "run: --max-trial-memory negative": Case("track2vec-tune", _run("--max-trial-memory", "-1"),
                                             "--max-trial-memory must be > 0"),
    "run: unknown --log-to": Case("track2vec-tune", _run("--log-to", "neptune"),
                                  "argument --log-to: invalid choice: 'neptune'"),
    "run: unreachable --address": Case("track2vec-tune", _run("--address", lambda tmp: f"127.0.0.1:{_closed_port()}"),
                                       "cannot reach a Ray cluster at 127.0.0.1:"),
    "run: --address not HOST:PORT": Case("track2vec-tune", _run("--address", "nohost"), "expected auto, HOST:PORT"),
    "run: a study that exists": Case("track2vec-tune", lambda tmp: _run("--name", _study(tmp))(tmp), "already exists"),
    "run: --cpus-per-trial more than the cluster has": Case(
        "track2vec-tune", _run("--cpus-per-trial", "4096", "--dashboard-port", "0"),
        "--cpus-per-trial 4096: no node of the cluster has that many CPUs", slow=True),
    "run: --max-trial-memory below what any trial needs": Case(
        "track2vec-tune", _run("--max-trial-memory", "100", "--dashboard-port", "0"),
        "no configuration of the search space fits the 100 MiB a trial can have (--max-trial-memory)"),
    "run: --storage under a file": Case(
        "track2vec-tune", lambda tmp: ["run", "--data", "builtin:tiny", "--dashboard-port", "0", "--name", "s",
                                       "--storage", str(Path(_file("a_file", b"x")(tmp)) / "studies")],
        "cannot create the study directory"),
    # study names: only plain names inside the user's own storage
    "run: --name with '/'": Case("track2vec-tune", _run("--name", "a/b"), "--name 'a/b'"),
    "resume: --name '..'": Case("track2vec-tune", _tune("resume", "--name", "..", "--storage",
                                                        lambda tmp: str(tmp / "studies")), "--name '..'"),
    "export: --name '../x'": Case("track2vec-tune", _tune("export", "--name", "../x", "--storage",
                                                          lambda tmp: str(tmp / "studies")), "--name '../x'"),
    "resume: unknown study": Case("track2vec-tune", _tune("resume", "--name", "ghost", "--storage",
                                                          lambda tmp: str(tmp / "studies")), "no study named 'ghost'"),
    "repeat: unknown study": Case("track2vec-tune", _tune("repeat", "--name", "ghost", "--storage",
                                                          lambda tmp: str(tmp / "studies")), "no study named 'ghost'"),
    "repeat: --repeats 0": Case("track2vec-tune", _tune("repeat", "--name", "old", "--repeats", "0", "--storage",
                                                        lambda tmp: str(tmp / "studies")),
                                "argument --repeats: must be at least 1"),
    "repeat: a study that has not finished": Case(
        "track2vec-tune", lambda tmp: ["repeat", "--name", _study(tmp), "--storage", str(tmp / "studies")],
        "study 'old' has not finished (0 of 2 trials done)"),
    "export: unknown study": Case("track2vec-tune", _tune("export", "--name", "ghost", "--storage",
                                                          lambda tmp: str(tmp / "studies")), "no study named 'ghost'"),
    "export: a directory that is not a study": Case(
        "track2vec-tune", lambda tmp: ["export", "--name", _mkdir(tmp / "studies" / "stray"), "--storage",
                                       str(tmp / "studies")], "is not a track2vec-tune study"),
})


def _mkdir(path: Path) -> str:
    path.mkdir(parents=True)
    return path.name


def _tree(root: Path) -> dict[str, bytes | None]:
    return {str(path.relative_to(root)): (path.read_bytes() if path.is_file() else None)
            for path in sorted(root.rglob("*"))}


def _invoke(cli: str, argv: list[str]) -> tuple[int, str, str]:
    main = track2vec.cli.main if cli == "track2vec" else tune.cli.main
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(argv)
    return code, stdout.getvalue(), stderr.getvalue()


@pytest.mark.parametrize("case", [pytest.param(name, marks=[pytest.mark.slow] if case.slow else [])
                                  for name, case in CASES.items()])
def test_bad_input(case, tmp_path, no_ray_left):
    row = CASES[case]
    argv = row.args(tmp_path)  # writes the inputs
    before = _tree(tmp_path)
    code, out, err = _invoke(row.cli, argv)
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert re.match(rf"{row.cli}( {argv[0]})?: error: ", lines[0]), lines[0]  # argparse names the subcommand
    assert row.says in lines[0], lines[0]
    assert "Traceback" not in out + err
    assert _tree(tmp_path) == before  # nothing written, nothing overwritten (no pwned file either)


def test_relative_storage_is_made_absolute_by_the_cli(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert tune.cli.main(["status", "--storage", "rel/studies"]) == 0
    assert capsys.readouterr().out.strip() == f"studies in {tmp_path / 'rel' / 'studies'}: none"
    assert list(tmp_path.iterdir()) == []


def test_safe_defaults_in_the_code():
    """The dashboard binds to 127.0.0.1 unless asked; nothing turns Ray's token authentication off;
    the .npy loader never calls NumPy's pickle loading."""
    run = tune.cli.build_parser().parse_args(["run"])
    assert run.dashboard_host == "127.0.0.1"
    sources = [path for package in ("tune", "track2vec") for path in
               (Path(__file__).resolve().parents[1] / package).rglob("*.py")]
    for path in sources:
        for line in path.read_text().splitlines():
            if "RAY_AUTH_MODE" in line:  # may be read, never set
                assert not re.search(r"environ\[.*\]\s*=|setdefault|putenv|update\(|disabled", line), (path, line)
            assert not re.search(r"(?<!`)np\.load\([^)]*allow_pickle\s*=\s*True", line), (path, line)
            assert not re.search(r"pickle\.loads?\(|np\.load\(.*allow_pickle=True", line.split("#")[0].replace(
                "``np.load(allow_pickle=True)``", "")), (path, line)
