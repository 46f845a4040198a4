"""TensorFlow process settings that must be made before TensorFlow initialises."""

from __future__ import annotations

import os


def configure_tensorflow(threads: int | None = None, use_gpu: bool = False) -> None:
    """Size TF's thread pools to ``threads`` and hide GPUs unless ``use_gpu``.

    Call before the first TensorFlow operation runs (thread pools and visible
    devices are fixed at initialisation). With a GPU, memory growth is turned on
    so that several fractional-GPU trials can share one card.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if not use_gpu:
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
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
