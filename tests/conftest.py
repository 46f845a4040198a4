"""Shared fixtures: the real data files beside the repository, and crafted object .npy files."""

from __future__ import annotations

import io
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


@pytest.fixture
def write_object_npy():
    """``write(path, payload, shape=(1,))``: a valid object-dtype .npy header followed by raw pickle bytes."""

    def write(path: Path, payload: bytes, shape: tuple = (1,)) -> Path:
        buffer = io.BytesIO()
        np.lib.format.write_array_header_1_0(buffer, {"descr": "|O", "fortran_order": False, "shape": shape})
        path.write_bytes(buffer.getvalue() + payload)
        return path

    return write


@pytest.fixture
def malicious_npy(tmp_path, write_object_npy) -> tuple[Path, Path]:
    """(an .npy whose pickle would create a file when loaded with allow_pickle=True, that file)."""
    sentinel = tmp_path / "pwned.txt"
    # Hand-written protocol-0 pickle: builtins.open(sentinel, "w") via GLOBAL + REDUCE.
    payload = b"cbuiltins\nopen\n(V" + str(sentinel).encode("raw_unicode_escape") + b"\nVw\ntR."
    return write_object_npy(tmp_path / "playlists.npy", payload), sentinel
