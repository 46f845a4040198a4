"""Where a study lives: ``<storage>/<name>/``, its ``study.json`` and its Optuna storage.

Layout of a study directory::

    <storage>/<name>/
        study.json                  the run's arguments: resume and export need only the name
        optuna.journal              the Optuna study (local storage only; optuna.db, SQLite, in older studies)
        tuner.pkl, experiment_state-*.json, searcher-state-*.pkl, ...   Ray Tune's state
        trial_<id>/                 one directory per trial: result.json, progress.csv,
                                    TensorBoard events, checkpoint_<n>/ (the last two)
        export/                     embeddings.npy, vocabulary.tsv, model.json (the winner),
                                    trials.csv, trials.md (every trial)
        repeats/                    the top configurations retrained with new seeds (``--repeats``):
                                    its own Ray experiment (trial_<id>/ as above) and plan.json
        report.html, report_<figure>.png   the report (track2vec-tune report)

``<storage>`` is an absolute local path or a URI that pyarrow understands (``s3://``,
``gs://``, ...). Optuna's files cannot live on an object store, so for a URI the Optuna
study is kept in memory on the driver and saved with Ray's searcher state (in the study
directory, so ``resume`` restores it), unless ``--optuna-storage`` names a database
URL (e.g. ``postgresql://...``) that the driver can reach. ``tune/optuna_store.py`` opens it.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from track2vec.errors import ConfigError

from tune.spec import StudySpec

STUDY_FILE = "study.json"
OPTUNA_FILE = "optuna.db"  # SQLite: the Optuna study of a study written before the journal
OPTUNA_JOURNAL = "optuna.journal"  # Optuna's journal file: the Optuna study of a new study
EXPORT_DIR = "export"
REPEATS_DIR = "repeats"  # the repeats' Ray experiment, inside the study directory
DEFAULT_STORAGE = "~/track2vec-studies"
STORAGE_ENV = "TRACK2VEC_STORAGE"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def resolve_storage(value: str | None) -> str:
    """An absolute local path or a URI. Relative paths are made absolute (trials run elsewhere)."""
    value = value or os.environ.get(STORAGE_ENV) or DEFAULT_STORAGE
    if value.startswith("file://"):
        value = value[len("file://"):]
    if "://" in value:
        scheme = value.split("://", 1)[0]
        if not re.fullmatch(r"[a-z][a-z0-9+.-]*", scheme):
            raise ConfigError(f"--storage {value!r}: not a path or a URI")
        return value.rstrip("/")
    return str(Path(value).expanduser().absolute())


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise ConfigError(
            f"--name {name!r}: use letters, digits, '.', '_' or '-' (no '/'), at most 100 characters"
        )
    return name


def default_name() -> str:
    return time.strftime("study-%Y%m%d-%H%M%S")


@dataclass(frozen=True)
class Study:
    """The location of one study."""

    storage: str
    name: str

    @property
    def is_local(self) -> bool:
        return "://" not in self.storage

    @property
    def path(self) -> str:
        """The study directory: a local path or a URI."""
        return f"{self.storage}/{self.name}"

    @property
    def local_path(self) -> Path:
        if not self.is_local:
            raise ValueError("not a local study")
        return Path(self.path)

    @property
    def export_path(self) -> str:
        return f"{self.path}/{EXPORT_DIR}"

    def repeats(self) -> Study:
        """The location of the study's repeats: a Ray experiment of its own, ``<study>/repeats``."""
        return Study(self.path, REPEATS_DIR)

    # File access that works for local paths and URIs alike.
    def filesystem(self):
        """(pyarrow filesystem, path of the study directory in it)."""
        import pyarrow.fs

        if self.is_local:
            return pyarrow.fs.LocalFileSystem(), self.path
        try:
            return pyarrow.fs.FileSystem.from_uri(self.path)
        except Exception as error:  # pyarrow raises several types for bad URIs
            raise ConfigError(f"--storage {self.storage}: cannot open ({error})") from None

    def ray_filesystem(self):
        """The filesystem Ray Tune writes the study with: on local storage one whose files appear whole
        (``tune.whole_files``), so a killed driver leaves a state that resume can read; for URIs Ray's own."""
        if not self.is_local:
            return None
        from tune.whole_files import whole_file_filesystem

        return whole_file_filesystem()

    def exists(self) -> bool:
        import pyarrow.fs

        fs, path = self.filesystem()
        return fs.get_file_info(path).type != pyarrow.fs.FileType.NotFound

    def has_file(self, relative: str) -> bool:
        import pyarrow.fs

        fs, path = self.filesystem()
        return fs.get_file_info(f"{path}/{relative}").type == pyarrow.fs.FileType.File

    def read_text(self, relative: str) -> str:
        fs, path = self.filesystem()
        with fs.open_input_stream(f"{path}/{relative}") as stream:
            return stream.read().decode("utf-8")

    def write_text(self, relative: str, text: str) -> None:
        """Write a file of the study directory (atomically where the storage is local)."""
        if self.is_local:
            target = self.local_path / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as out:
                    out.write(text)
                os.chmod(temporary, 0o666 & ~_umask())  # mkstemp creates 0600
                os.replace(temporary, target)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
            return
        fs, path = self.filesystem()
        fs.create_dir(path, recursive=True)
        with fs.open_output_stream(f"{path}/{relative}") as stream:
            stream.write(text.encode("utf-8"))

    def create(self) -> None:
        """Create the study directory; refuse if anything is already there."""
        if self.exists():
            raise ConfigError(
                f"a study named {self.name!r} already exists in {self.storage}; "
                f"continue it with `track2vec-tune resume --name {self.name} --storage {self.storage}` or choose "
                "another --name"
            )
        try:
            if self.is_local:
                self.local_path.mkdir(parents=True)
            else:
                fs, path = self.filesystem()
                fs.create_dir(path, recursive=True)
        except OSError as error:
            raise ConfigError(f"cannot create the study directory {self.path} ({error.strerror or error})") from None

    def check_creatable(self) -> None:
        """Refuse now, before Ray starts and the corpus loads, a local study directory that ``create`` could
        not make: the nearest existing ancestor must be a directory this process may write in."""
        if not self.is_local:
            return
        ancestor = self.local_path
        while not ancestor.exists() and ancestor != ancestor.parent:
            ancestor = ancestor.parent
        if ancestor == self.local_path:
            return  # it exists: ``create`` says whether it is a study already
        if not ancestor.is_dir():
            problem = f"{ancestor} is not a directory"
        elif not os.access(ancestor, os.W_OK | os.X_OK):
            problem = f"no permission to write in {ancestor}"
        else:
            return
        raise ConfigError(f"cannot create the study directory {self.path} ({problem})")

    def load_spec(self) -> StudySpec:
        """The study's ``study.json``; a missing study is a user error."""
        if not self.has_file(STUDY_FILE):
            if self.exists():
                raise ConfigError(f"{self.path} is not a track2vec-tune study (no {STUDY_FILE})")
            raise ConfigError(f"no study named {self.name!r} in {self.storage}")
        try:
            return StudySpec.from_json(self.read_text(STUDY_FILE), default_name=self.name)
        except OSError as error:
            raise ConfigError(f"{self.path}/{STUDY_FILE}: unreadable ({error})") from None
        except ConfigError as error:
            raise ConfigError(f"{self.path}/{STUDY_FILE}: {error}") from None

    def save_spec(self, spec: StudySpec) -> None:
        self.write_text(STUDY_FILE, spec.to_json())

    def storage_problem(self) -> str | None:
        """Why the study directory cannot take new files (full, read-only, gone), or None if it can."""
        if not self.is_local:
            return None  # an object store reports its own errors
        probe = self.local_path / f".write-probe-{os.getpid()}"
        try:
            with open(probe, "wb") as out:
                out.write(b"\0" * 65536)  # a few blocks: a full disk refuses them
                out.flush()
                os.fsync(out.fileno())
        except OSError as error:
            return error.strerror or str(error)
        finally:
            try:
                probe.unlink()
            except OSError:
                pass
        return None

    def has_experiment_state(self) -> bool:
        """Whether Ray Tune has written its state (a run got as far as starting trials)."""
        import pyarrow.fs

        fs, path = self.filesystem()
        selector = pyarrow.fs.FileSelector(path, allow_not_found=True)
        return any(Path(info.path).name.startswith("experiment_state") for info in fs.get_file_info(selector))
