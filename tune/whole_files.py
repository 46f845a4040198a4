"""Local study storage in which a file appears whole or not at all.

Ray Tune rewrites its experiment state and copies checkpoints into the study directory in
place: a driver killed during such a write leaves a cut-off ``experiment_state-*.json`` that
``resume`` cannot read. Given to Ray through its own ``storage_filesystem`` option, this
filesystem writes each file beside its destination and renames it into place once complete
(a rename within one directory is atomic on POSIX), so a kill leaves the previous version.
A write that fails (a full disk) leaves the previous version too.

Object stores (``s3://``, ``gs://``) need none of this: an upload is never seen half done.
"""

from __future__ import annotations

import io
import itertools
import os
import threading

import pyarrow.fs

PARTIAL_SUFFIX = ".partial"
_numbers = itertools.count()
_numbers_lock = threading.Lock()


def whole_file_filesystem() -> pyarrow.fs.FileSystem:
    """The local filesystem, writing every file atomically."""
    return pyarrow.fs.PyFileSystem(WholeFileHandler())


def partial_path(path: str) -> str:
    """Where a file is written before it is renamed to ``path`` (hidden, never Ray's file name)."""
    directory, name = os.path.split(path)
    with _numbers_lock:
        number = next(_numbers)
    return os.path.join(directory, f".{name}.{os.getpid()}-{number}{PARTIAL_SUFFIX}")


class _WholeFile(io.FileIO):
    """A file written under a hidden name and renamed over ``path`` when closed after successful writes."""

    def __init__(self, path: str):
        self._path, self._partial, self._failed = path, partial_path(path), False
        super().__init__(self._partial, "w")

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        written = 0
        try:
            while written < len(view):  # a raw write may take only part of the data
                written += super().write(view[written:])
            return written
        except BaseException:
            self._failed = True
            raise

    def __del__(self):
        # Dropped without close (an error elsewhere in a copy): what was written may be incomplete.
        if not self.closed:
            self._failed = True
        super().__del__()

    def close(self) -> None:
        if self.closed:
            return
        try:
            super().close()
        except BaseException:
            self._failed = True
            raise
        finally:
            if self._failed:
                os.unlink(self._partial)
            else:
                os.replace(self._partial, self._path)


class WholeFileHandler(pyarrow.fs.FileSystemHandler):
    """pyarrow's local filesystem, except that output streams write whole files."""

    def __init__(self):
        self._local = pyarrow.fs.LocalFileSystem()

    def __eq__(self, other) -> bool:
        return isinstance(other, WholeFileHandler)

    def __ne__(self, other) -> bool:
        return not self == other

    def __reduce__(self):  # trials on other nodes receive the storage context pickled
        return (WholeFileHandler, ())

    def get_type_name(self) -> str:
        return "whole-file-local"

    def normalize_path(self, path: str) -> str:
        return self._local.normalize_path(path)

    def get_file_info(self, paths):
        return self._local.get_file_info(paths)

    def get_file_info_selector(self, selector):
        return self._local.get_file_info(selector)

    def create_dir(self, path: str, recursive: bool) -> None:
        self._local.create_dir(path, recursive=recursive)

    def delete_dir(self, path: str) -> None:
        self._local.delete_dir(path)

    def delete_dir_contents(self, path: str, missing_dir_ok: bool = False) -> None:
        self._local.delete_dir_contents(path, missing_dir_ok=missing_dir_ok)

    def delete_root_dir_contents(self) -> None:
        raise OSError("refusing to delete the contents of the root directory")

    def delete_file(self, path: str) -> None:
        self._local.delete_file(path)

    def move(self, src: str, dest: str) -> None:
        self._local.move(src, dest)

    def copy_file(self, src: str, dest: str) -> None:
        with self._local.open_input_stream(src) as source, self.open_output_stream(dest, None) as target:
            while chunk := source.read(1 << 20):
                target.write(chunk)

    def open_input_stream(self, path: str):
        return self._local.open_input_stream(path)

    def open_input_file(self, path: str):
        return self._local.open_input_file(path)

    def open_output_stream(self, path: str, metadata):
        return pyarrow.PythonFile(_WholeFile(path), mode="w")

    def open_append_stream(self, path: str, metadata):
        return self._local.open_append_stream(path)
