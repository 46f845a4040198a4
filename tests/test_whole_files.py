"""The filesystem Ray writes local studies with: a file appears whole or not at all.

A driver SIGKILLed while Ray rewrites its experiment state must leave the previous state,
which ``resume`` can read (tests/test_tune_resume.py kills a real study at a random moment).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pyarrow.fs
import pytest

from tune.study import Study
from tune.whole_files import PARTIAL_SUFFIX, whole_file_filesystem

KILLED_MID_WRITE = """
import os, signal, sys
from tune.whole_files import whole_file_filesystem
stream = whole_file_filesystem().open_output_stream(sys.argv[1])
stream.write(b'{"trial_data": [')
stream.flush()
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_process_killed_mid_write_leaves_the_previous_file(tmp_path):
    state = tmp_path / "experiment_state-2026-12-04_13-00-00.json"
    state.write_text('{"trial_data": []}')
    killed = subprocess.run([sys.executable, "-c", KILLED_MID_WRITE, str(state)], cwd=os.getcwd())
    assert killed.returncode == -signal.SIGKILL
    assert state.read_text() == '{"trial_data": []}'
    # what the kill leaves is hidden and never named like Ray's files
    leftovers = [path.name for path in tmp_path.iterdir() if path != state]
    assert len(leftovers) == 1 and leftovers[0].startswith(".") and leftovers[0].endswith(PARTIAL_SUFFIX)
    assert Study(str(tmp_path.parent), tmp_path.name).has_experiment_state()


def test_a_completed_write_replaces_the_file_and_leaves_nothing_else(tmp_path):
    fs = whole_file_filesystem()
    target = tmp_path / "searcher-state.pkl"
    target.write_bytes(b"old")
    with fs.open_output_stream(str(target)) as stream:
        stream.write(b"new")
        assert target.read_bytes() == b"old"  # not visible until closed
    assert target.read_bytes() == b"new" and os.listdir(tmp_path) == [target.name]


def test_a_stream_dropped_without_close_keeps_the_previous_file(tmp_path):
    import gc

    fs = whole_file_filesystem()
    target = tmp_path / "experiment_state-x.json"
    target.write_bytes(b"previous")
    stream = fs.open_output_stream(str(target))
    stream.write(b'{"trial_data": [')
    del stream  # as when a copy fails on its source's side and its destination is never closed
    gc.collect()
    assert target.read_bytes() == b"previous" and os.listdir(tmp_path) == [target.name]


FAILS_MID_WRITE = """
import resource, signal, sys
from tune.whole_files import whole_file_filesystem
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails with EFBIG, as on a full disk
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
try:
    with whole_file_filesystem().open_output_stream(sys.argv[1]) as stream:
        stream.write(b"x" * 100_000)
except OSError as error:
    sys.exit(f"failed: {error}")
"""


def test_a_failed_write_keeps_the_previous_file(tmp_path):
    target = tmp_path / "experiment_state-x.json"
    target.write_bytes(b"previous")
    failed = subprocess.run([sys.executable, "-c", FAILS_MID_WRITE, str(target)], cwd=os.getcwd(),
                            capture_output=True, text=True)
    assert failed.returncode == 1 and "failed:" in failed.stderr and "too large" in failed.stderr
    assert target.read_bytes() == b"previous" and os.listdir(tmp_path) == [target.name]


def test_directory_copies_as_ray_uploads_checkpoints(tmp_path):
    source = tmp_path / "checkpoint"
    (source / "nested").mkdir(parents=True)
    (source / "embeddings.npy").write_bytes(os.urandom(3 << 20))
    (source / "nested" / "metrics.json").write_text('{"epoch": 3}')
    destination = tmp_path / "study" / "trial" / "checkpoint_000003"
    pyarrow.fs.copy_files(str(source), str(destination), destination_filesystem=whole_file_filesystem())
    assert (destination / "embeddings.npy").read_bytes() == (source / "embeddings.npy").read_bytes()
    assert (destination / "nested" / "metrics.json").read_text() == '{"epoch": 3}'
    assert sorted(p.name for p in destination.rglob("*")) == ["embeddings.npy", "metrics.json", "nested"]


def test_local_studies_use_it_and_uris_keep_rays_own(tmp_path):
    import ray.cloudpickle

    local = Study(str(tmp_path), "study").ray_filesystem()
    assert local.type_name == "py::whole-file-local"
    # trials on other nodes receive it pickled with the storage context
    assert ray.cloudpickle.loads(ray.cloudpickle.dumps(local)) == local
    assert Study("s3://bucket/studies", "study").ray_filesystem() is None
