"""Keras' JAX backend: the library and the service train without TensorFlow (as on a GPU machine that
has JAX but no TensorFlow; the service's study, interrupted and resumed: tests/test_tune_resume.py), and the
prefetching generator that feeds ``fit`` there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from conftest import JAX_BACKEND, TENSORFLOW_UNIMPORTABLE
from track2vec.training import prefetched

REPO = Path(__file__).resolve().parents[1]
# Runs a CLI's main() with TensorFlow made unimportable, so that any import of it fails loudly.
WITHOUT_TENSORFLOW = TENSORFLOW_UNIMPORTABLE + "from {module} import main; sys.exit(main(sys.argv[1:]))"


def run_without_tensorflow(module: str, args: list[str], timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, **JAX_BACKEND, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", WITHOUT_TENSORFLOW.format(module=module), *args],
                          capture_output=True, text=True, timeout=timeout, cwd=REPO, env=env)


@pytest.mark.slow
@pytest.mark.parametrize("architecture", ["auto", "count-softmax"])
def test_train_on_jax_backend_without_tensorflow(tmp_path, architecture):
    out = tmp_path / "export"
    completed = run_without_tensorflow("track2vec.cli", ["train", "--data", "builtin", "--epochs", "2",
                                                         "--architecture", architecture, "--out", str(out), "--json"])
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert completed.stdout.count("epoch ") == 2  # one fit call per epoch, every epoch reported
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["val_ndcg_at_10"] > 2 * result["popularity_val_ndcg_at_10"]
    info = json.loads((out / "model.json").read_text())
    assert info["keras_backend"] == "jax"


def test_lazy_adam_on_jax_backend_is_a_one_line_error():
    completed = run_without_tensorflow("track2vec.cli", ["train", "--data", "builtin:tiny", "--epochs", "1",
                                                         "--optimizer", "lazy-adam"])
    assert completed.returncode == 2
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and "lazy-adam" in lines[0] and "TensorFlow backend" in lines[0]


def test_prefetched_keeps_order_and_raises_the_producers_error():
    assert list(prefetched(iter(range(50)), depth=3)) == list(range(50))

    def failing():
        yield 1
        raise ValueError("sampler broke")

    consumed = []
    with pytest.raises(ValueError, match="sampler broke"):
        for item in prefetched(failing()):
            consumed.append(item)
    assert consumed == [1]


def test_prefetched_stops_its_thread_when_the_consumer_stops_early():
    produced = []

    def endless():
        while True:
            produced.append(len(produced))
            yield produced[-1]

    before = threading.active_count()
    stream = prefetched(endless(), depth=2)
    assert [next(stream) for _ in range(3)] == [0, 1, 2]
    stream.close()
    assert threading.active_count() == before
    assert len(produced) <= 3 + 2 + 1  # taken, buffered, one in hand


def test_tensorflow_processes_keep_jax_out_start_keras_without_its_optional_imports_and_pool_host_memory():
    # TensorFlow's TFLite utilities import JAX whenever it is installed (it is, with the test extra):
    # memory a trial worker does not need. configure_backend keeps it out on the TensorFlow backend,
    # and imports TensorFlow (which loads Keras) without scikit-learn and Matplotlib, which Keras
    # imports for helpers training never uses; both stay importable afterwards. Host memory comes from
    # TensorFlow's pooling allocator, the only CPU allocator of TensorFlow that keeps statistics.
    code = ("import sys; from track2vec.runtime import configure_backend; configure_backend(threads=1); "
            "import tensorflow, keras, track2vec.training; "
            "print(sys.modules.get('jax') is None, 'sklearn' in sys.modules, 'matplotlib' in sys.modules); "
            "x = tensorflow.ones((256, 256)); x = x @ x; "
            "print(tensorflow.config.experimental.get_memory_info('CPU:0')['peak'] >= x.numpy().nbytes); "
            "import sklearn, matplotlib; print('importable')")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("KERAS_BACKEND", None)
    env.pop("TF_CPU_ALLOCATOR_USE_BFC", None)
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=REPO,
                               env=env)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert completed.stdout.strip().splitlines()[-3:] == ["True False False", "True", "importable"]


def test_a_vocabulary_from_the_pools_limit_on_trains_with_tensorflows_default_allocator(monkeypatch):
    # There the pool holds about one more copy of the embedding tables and no longer saves step time;
    # a smaller vocabulary (or none given) keeps it, and the environment's own choice always wins.
    import types

    from track2vec import runtime

    monkeypatch.setitem(sys.modules, "tensorflow", types.ModuleType("tensorflow"))  # what configure_backend imports
    monkeypatch.setitem(sys.modules, "jax", sys.modules.get("jax"))  # it hides JAX from TensorFlow: restored after
    for name in ("CUDA_VISIBLE_DEVICES", "TF_CPP_MIN_LOG_LEVEL", "KERAS_BACKEND", "TF_CPU_ALLOCATOR_USE_BFC"):
        monkeypatch.setenv(name, "")  # so that teardown restores each as it was
        monkeypatch.delenv(name)
    limit = runtime.POOLED_HOST_MEMORY_BELOW_ITEMS
    assert [runtime.pools_host_memory(size) for size in (None, limit - 1, limit)] == [True, True, False]

    runtime.configure_backend(vocabulary_size=limit)
    assert "TF_CPU_ALLOCATOR_USE_BFC" not in os.environ
    runtime.configure_backend(vocabulary_size=limit - 1)
    assert os.environ["TF_CPU_ALLOCATOR_USE_BFC"] == "true"
    monkeypatch.setenv("TF_CPU_ALLOCATOR_USE_BFC", "false")
    runtime.configure_backend()
    assert os.environ["TF_CPU_ALLOCATOR_USE_BFC"] == "false" and not runtime.pools_host_memory(None)


def test_a_second_thread_count_in_one_process_keeps_numbas_running_pool():
    # A notebook or a test session may configure the backend twice: once Numba's pool runs, Numba refuses
    # another size at its next compilation, so the second call keeps the running pool.
    code = ("import os, numba, numpy as np; from track2vec.runtime import configure_backend; "
            "configure_backend(threads=1); "
            "numba.njit(parallel=True)(lambda x: sum([x[i] for i in numba.prange(len(x))]))(np.ones(8)); "
            "configure_backend(threads=2); "
            "numba.njit(lambda x: x + 1)(1); "
            "print(numba.config.NUMBA_NUM_THREADS, os.environ['NUMBA_NUM_THREADS'])")
    env = {**os.environ, "PYTHONPATH": str(REPO), **JAX_BACKEND}
    env.pop("NUMBA_NUM_THREADS", None)
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=REPO,
                               env=env)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert completed.stdout.split() == ["1", "1"]  # the pool's size, and what the environment says
