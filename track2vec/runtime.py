"""Process settings for Keras' backend that must be made before the backend initialises."""

from __future__ import annotations

import contextlib
import os
import sys

# TensorFlow's own pooling allocator for host memory, read once when TensorFlow starts. Its default
# hands every buffer to malloc, and the temporary buffer that an XLA-compiled training step takes is
# large enough for glibc to map fresh pages for it at each step and unmap them after; each page is
# then zeroed again by the kernel on first touch. The pool keeps those pages between steps
# (scripts/measure_cpu_allocator.py compares both; BENCHMARKS.md).
POOLED_HOST_ALLOCATOR = {"TF_CPU_ALLOCATOR_USE_BFC": "true"}
# The pool also holds on to freed table-sized buffers, so what it keeps grows with the embedding tables,
# while the share of a step that it saves shrinks as they grow: from this vocabulary size on, the process
# trains with TensorFlow's default allocator (scripts/measure_trial_memory.py --allocator both).
POOLED_HOST_MEMORY_BELOW_ITEMS = 1_000_000


def pools_host_memory(vocabulary_size: int | None) -> bool:
    """Whether a TensorFlow process that trains on this vocabulary takes its host memory from the pool:
    as the environment says where it says, else below ``POOLED_HOST_MEMORY_BELOW_ITEMS`` (or with no size)."""
    (name, pooled), = POOLED_HOST_ALLOCATOR.items()
    if os.environ.get(name):
        return os.environ[name] == pooled
    return vocabulary_size is None or vocabulary_size < POOLED_HOST_MEMORY_BELOW_ITEMS


# Imported by Keras at start-up when installed (its scikit-learn wrappers, its plotting helpers), each
# behind an ImportError guard; training never uses them, and they cost a worker seconds and memory.
KERAS_OPTIONAL_IMPORTS = ("sklearn", "matplotlib")


def configured_backend() -> str:
    """The Keras backend that a process started with this environment loads: ``KERAS_BACKEND``, else
    TensorFlow (Keras' default). Trial workers inherit the driver's environment, so the driver can ask
    before any of them starts."""
    return os.environ.get("KERAS_BACKEND", "tensorflow")


def sparse_updates_available() -> bool:
    """Whether that backend has the sparse optimizers (``lazy-adam`` is TensorFlow's)."""
    return configured_backend() == "tensorflow"


def configure_backend(threads: int | None = None, use_gpu: bool = False, vocabulary_size: int | None = None) -> None:
    """Size the backend's and the sampler's thread pools to ``threads``; hide GPUs unless ``use_gpu``.

    Call before the first tensor operation runs (thread pools and visible devices are
    fixed at initialisation). With a GPU, memory is taken as needed rather than all
    at once, so that several fractional-GPU trials can share one card. TensorFlow is
    Keras' default backend; with ``KERAS_BACKEND=jax`` only the device settings apply
    (JAX sizes its CPU pool itself). On TensorFlow, JAX is made unimportable in this
    process: TensorFlow's TFLite utilities import it whenever it is installed, which costs
    a trial worker memory for nothing (BENCHMARKS.md). For the same reason TensorFlow is imported here
    without scikit-learn and Matplotlib, which the Keras it loads imports for its scikit-learn
    wrappers and plotting helpers when they are installed; they stay importable afterwards.
    TensorFlow's host memory comes from its pooling allocator, below ``POOLED_HOST_MEMORY_BELOW_ITEMS``
    items of ``vocabulary_size`` (when given), unless the environment chooses
    (``TF_CPU_ALLOCATOR_USE_BFC``); it takes effect only where TensorFlow is not yet loaded.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if threads:
        _size_numba_pool(threads)
    if not use_gpu:
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    if configured_backend() != "tensorflow":
        if use_gpu:
            os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
        else:
            os.environ["JAX_PLATFORMS"] = "cpu"
        return
    if pools_host_memory(vocabulary_size):
        for name, value in POOLED_HOST_ALLOCATOR.items():
            os.environ.setdefault(name, value)
    if "jax" not in sys.modules:
        sys.modules["jax"] = None  # TFLite's `from jax import jit` then fails, as it expects when JAX is absent
    with _unimportable(KERAS_OPTIONAL_IMPORTS):
        import tensorflow as tf

    if threads:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError:
            pass  # already initialised in this process: keep its pools
    if use_gpu:
        for gpu in tf.config.list_physical_devices("GPU"):
            try:
                tf.config.experimental.set_memory_growth(gpu, True)
            except RuntimeError:
                pass


def _size_numba_pool(threads: int) -> None:
    """Numba's thread pool gets ``threads`` threads, unless it already runs in this process.

    The pool is sized from NUMBA_NUM_THREADS when it starts (numba.set_num_threads would only bind
    the calling thread, and the sampler runs in the input pipeline's thread). Once it runs, Numba
    refuses another size at its next compilation, so a second call in one process (a notebook, a
    test session) keeps the running pool, as TensorFlow's pools are kept below.
    """
    previous = os.environ.get("NUMBA_NUM_THREADS")
    os.environ["NUMBA_NUM_THREADS"] = str(threads)
    if "numba" not in sys.modules:
        return
    from numba.core import config

    try:
        config.reload_config()
    except RuntimeError:  # the pool runs already
        if previous is None:
            del os.environ["NUMBA_NUM_THREADS"]
        else:
            os.environ["NUMBA_NUM_THREADS"] = previous


@contextlib.contextmanager
def _unimportable(names: tuple[str, ...]):
    """Within the block, ``import`` of each module in ``names`` not yet loaded raises ImportError."""
    blocked = [name for name in names if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None
    try:
        yield
    finally:
        for name in blocked:
            if sys.modules.get(name, 0) is None:
                del sys.modules[name]
