"""The Keras skip-gram models: Keras' own layers and one cosine-similarity layer.

Both take ``target`` ids [batch, 1] and ``contexts`` ids [batch, 1 + k] (the true
context then k negatives) and output one logit per context: train them with
binary cross-entropy against labels ``[1, 0, ..., 0]``.

* ``sgns``: separate target and context embeddings and a plain dot product, as in
  word2vec and gensim (target vectors start small and random, context vectors at 0).
* ``tied-cosine``: the notebook's model: one shared embedding, cosine similarity,
  then a learnt scale and bias (``Dense(1)``).

The cosine is its own small layer rather than ``Dot(normalize=True)``: the same
values from one einsum and two norms, and a whole training step 8-11% quicker under
XLA on CPU (Dot normalises every gathered vector before its batched product).
"""

from __future__ import annotations

import keras
from keras import ops

from track2vec.config import ARCHITECTURES, OPTIMIZERS
from track2vec.errors import ConfigError

if keras.backend.backend() == "tensorflow":
    from track2vec.optimizers import LazyAdam  # TF's sparse gradients; registers it for loading

EMBEDDING_LAYER = "embedding"
CONTEXT_LAYER = "context_embedding"
# Training steps per call into the compiled graph: fewer Python round trips, 16-18% quicker
# epochs on the e-commerce set (8 and 32 measured alike); Keras stops early at the epoch's end.
STEPS_PER_EXECUTION = 16


@keras.saving.register_keras_serializable(package="track2vec")
class Cosine(keras.layers.Layer):
    """Cosine similarity of each context vector with the target's: ([B, n, d], [B, 1, d]) -> [B, n, 1]."""

    def call(self, inputs):
        contexts, target = inputs
        dots = ops.einsum("bnd,bod->bno", contexts, target)
        norms = ops.sqrt(ops.sum(ops.square(contexts), axis=-1, keepdims=True)
                         * ops.sum(ops.square(target), axis=-1, keepdims=True))
        return dots / ops.maximum(norms, 1e-12)

    def compute_output_shape(self, input_shape):
        return (*input_shape[0][:2], 1)


@keras.saving.register_keras_serializable(package="track2vec")
class LogQCorrection(keras.layers.Layer):
    """Subtracts each candidate's log sampling probability from its logit (sampled softmax's logQ correction)."""

    def __init__(self, log_q=None, vocabulary_size: int | None = None, **kwargs):
        super().__init__(**kwargs)
        size = vocabulary_size if log_q is None else len(log_q)
        self.vocabulary_size = int(size)
        initial = "zeros" if log_q is None else keras.initializers.Constant(np_float32(log_q))
        self.log_q = self.add_weight(shape=(self.vocabulary_size,), initializer=initial, trainable=False, name="log_q")

    def call(self, inputs):
        logits, ids = inputs
        return logits - ops.take(self.log_q, ids, axis=0)

    def get_config(self):
        return {**super().get_config(), "vocabulary_size": self.vocabulary_size}


def np_float32(values):
    import numpy as np

    return np.asarray(values, dtype=np.float32)


def build_model(
    architecture: str,
    vocabulary_size: int,
    dim: int,
    negatives: int,
    learning_rate: float,
    optimizer: str = "adam",
    seed: int = 0,
    jit_compile: bool = True,
    batch_size: int = 1024,
    loss: str = "negative-sampling",
    log_q=None,
) -> keras.Model:
    """A compiled skip-gram model; its item embeddings are the layer named ``embedding``.

    ``batch_size`` (positive pairs per step) only scales the ``sgd`` learning rate.
    """
    if architecture not in ARCHITECTURES:
        raise ConfigError(f"unknown architecture {architecture!r} (choose from {', '.join(ARCHITECTURES)})")
    if dim < 1:
        raise ConfigError(f"dim must be >= 1, got {dim}")
    if learning_rate <= 0:
        raise ConfigError(f"learning rate must be > 0, got {learning_rate}")
    width = 1 + negatives
    pairs_per_step = batch_size * width
    target = keras.Input((1,), dtype="int32", name="target")
    contexts = keras.Input((width,), dtype="int32", name="contexts")
    if architecture == "sgns":
        init = keras.initializers.RandomUniform(-0.5 / dim, 0.5 / dim, seed=seed)
        target_vectors = keras.layers.Embedding(vocabulary_size, dim, embeddings_initializer=init, name=EMBEDDING_LAYER)(target)
        context_vectors = keras.layers.Embedding(vocabulary_size, dim, embeddings_initializer="zeros", name=CONTEXT_LAYER)(contexts)
        scores = keras.layers.Dot(axes=2, name="dot")([context_vectors, target_vectors])
    else:
        init = keras.initializers.RandomUniform(-0.05, 0.05, seed=seed)
        shared = keras.layers.Embedding(vocabulary_size, dim, embeddings_initializer=init, name=EMBEDDING_LAYER)
        cosine = Cosine(name="cosine")([shared(contexts), shared(target)])
        scores = keras.layers.Dense(1, name="scale", kernel_initializer=keras.initializers.Constant(1.0))(cosine)
    logits = keras.layers.Reshape((width,), name="logits")(scores)
    if loss == "sampled-softmax":
        logits = LogQCorrection(log_q, vocabulary_size, name="log_q_correction")([logits, contexts])
        loss_function = keras.losses.CategoricalCrossentropy(from_logits=True)
        accuracy = keras.metrics.CategoricalAccuracy(name="accuracy")
    else:
        loss_function = keras.losses.BinaryCrossentropy(from_logits=True)
        accuracy = keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0)
    model = keras.Model([target, contexts], logits, name=f"track2vec_{architecture.replace('-', '_')}")
    model.compile(
        optimizer=make_optimizer(optimizer, learning_rate, pairs_per_step),
        loss=loss_function,
        metrics=[accuracy],
        jit_compile=jit_compile,
        steps_per_execution=STEPS_PER_EXECUTION,
    )
    return model


def make_optimizer(name: str, learning_rate: float, pairs_per_step: int = 1) -> keras.optimizers.Optimizer:
    """Keras optimizer by name.

    ``lazy-adam`` is Adam restricted to the embedding rows a step touches (sparse).
    ``sgd`` also updates only the embedding rows a step touches (sparse), and its
    learning rate is word2vec's per-pair rate (gensim's ``alpha``, e.g. 0.025):
    Keras averages the loss over the ``pairs_per_step`` (target, context) pairs of
    a step, so the rate is scaled back up by that number. ``adam`` and ``adagrad``
    update every row at every step (dense), which costs time on large vocabularies.
    """
    if name == "lazy-adam":
        if keras.backend.backend() != "tensorflow":
            raise ConfigError(f"optimizer 'lazy-adam' needs Keras' TensorFlow backend (KERAS_BACKEND is "
                              f"{keras.backend.backend()!r}); choose adam, sgd or adagrad")
        return LazyAdam(learning_rate)
    if name == "adam":
        return keras.optimizers.Adam(learning_rate)
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate * pairs_per_step)
    if name == "adagrad":
        return keras.optimizers.Adagrad(learning_rate)
    raise ConfigError(f"unknown optimizer {name!r} (choose from {', '.join(OPTIMIZERS)})")


def item_embeddings(model: keras.Model):
    """The item vectors [V, dim] as a NumPy array (sgns: the target vectors)."""
    return model.get_layer(EMBEDDING_LAYER).get_weights()[0]


def context_embeddings(model: keras.Model):
    """The context vectors [V, dim] of an ``sgns`` model; None for ``tied-cosine`` (one shared table)."""
    names = {layer.name for layer in model.layers}
    return model.get_layer(CONTEXT_LAYER).get_weights()[0] if CONTEXT_LAYER in names else None
