"""Load Deezer-style object ``.npy`` files without executing code from them.

Object arrays are stored as pickles, and ``np.load(allow_pickle=True)`` will run
whatever callable a crafted pickle names. Here the pickle is read by an
unpickler that resolves only the handful of globals NumPy itself writes when it
saves an array of lists of strings or ints; any other global is refused before
anything is called.
"""

from __future__ import annotations

import pickle
from typing import BinaryIO

import numpy as np

from track2vec.errors import DataError

# (module, name) pairs NumPy writes when pickling an object array of lists.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),  # bytes pickled with protocol 2 under Python 3
}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED_GLOBALS:
            raise DataError(f"refusing to load: the pickle asks for {module}.{name}, which is not part of a NumPy array")
        return super().find_class(module, name)


def load_npy(handle: BinaryIO, name: str) -> np.ndarray:
    """Read an ``.npy`` file from ``handle`` (``name`` in messages); object arrays go through the restricted
    unpickler."""
    try:
        version = np.lib.format.read_magic(handle)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _fortran_order, dtype = read_header(handle)
    except (ValueError, EOFError, OSError) as error:
        raise DataError(f"{name}: not a valid .npy file ({error})") from None
    if not dtype.hasobject:
        handle.seek(0)
        try:
            return np.load(handle, allow_pickle=False)
        except (ValueError, EOFError, OSError) as error:
            raise DataError(f"{name}: truncated or corrupt .npy file ({error})") from None
    try:
        array = _RestrictedUnpickler(handle, encoding="latin1").load()
    except DataError as error:
        raise DataError(f"{name}: {error}") from None
    except Exception as error:  # any unpickling failure means a corrupt file
        raise DataError(f"{name}: truncated or corrupt .npy file ({type(error).__name__}: {error})") from None
    if not isinstance(array, np.ndarray):
        raise DataError(f"{name}: the .npy pickle holds a {type(array).__name__}, not an array")
    if array.shape != shape:
        raise DataError(f"{name}: array shape {array.shape} does not match its header {shape}")
    return array
