"""An on-disk cache of generated integer arrays (``.npz``), so that a large built-in corpus is made once.

Files live in ``$TRACK2VEC_CACHE``, else ``$XDG_CACHE_HOME/track2vec``, else ``~/.cache/track2vec``.
A file is read with ``np.load(..., allow_pickle=False)``: it holds plain arrays, nothing in it
can run. A file that cannot be read, or lacks an expected array, is a miss (the caller makes
the arrays again and rewrites it); a cache that cannot be written is skipped with a warning.
"""

from __future__ import annotations

import os
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np


def cache_dir() -> Path:
    explicit = os.environ.get("TRACK2VEC_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "track2vec"


def load_arrays(name: str, expected: tuple[str, ...]) -> dict[str, np.ndarray] | None:
    """The arrays cached under ``name``, or None when there is no readable file with all of ``expected``."""
    path = cache_dir() / name
    try:
        # Opened here, not by np.load: np.load leaves its own handle open when the zip in it is damaged.
        with open(path, "rb") as stream, np.load(stream, allow_pickle=False) as stored:
            if not set(expected) <= set(stored.files):
                return None
            return {key: stored[key] for key in expected}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        return None


def save_arrays(name: str, arrays: dict[str, np.ndarray]) -> Path | None:
    """Write ``arrays`` under ``name`` atomically (a partial file is never seen); None when that failed."""
    directory = cache_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(handle, "wb") as stream:
                np.savez(stream, **arrays)
            os.replace(temporary, directory / name)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as error:
        warnings.warn(f"track2vec: not caching {name} in {directory} ({error.strerror or error})", stacklevel=2)
        return None
    return directory / name
