"""The Keras skip-gram models, built only from Keras' own layers.

Both take ``target`` ids [batch, 1] and ``contexts`` ids [batch, 1 + k] (the true
context then k negatives) and output one logit per context: train them with
binary cross-entropy against labels ``[1, 0, ..., 0]``.

* ``sgns``: separate target and context embeddings and a plain dot product, as in
  word2vec and gensim (target vectors start small and random, context vectors at 0).
* ``tied-cosine``: the notebook's model: one shared embedding, cosine similarity,
  then a learnt scale and bias (``Dense(1)``).
"""

from __future__ import annotations

import keras

from track2vec.errors import ConfigError

ARCHITECTURES = ("sgns", "tied-cosine")
OPTIMIZERS = ("adam", "sgd", "adagrad")
EMBEDDING_LAYER = "embedding"


def build_model(
    architecture: str,
    vocabulary_size: int,
    dim: int,
    negatives: int,
    learning_rate: float,
    optimizer: str = "adam",
    seed: int = 0,
) -> keras.Model:
    """A compiled skip-gram model; its item embeddings are the layer named ``embedding``."""
    if architecture not in ARCHITECTURES:
        raise ConfigError(f"unknown architecture {architecture!r} (choose from {', '.join(ARCHITECTURES)})")
    if dim < 1:
        raise ConfigError(f"dim must be >= 1, got {dim}")
    if learning_rate <= 0:
        raise ConfigError(f"learning rate must be > 0, got {learning_rate}")
    width = 1 + negatives
    target = keras.Input((1,), dtype="int32", name="target")
    contexts = keras.Input((width,), dtype="int32", name="contexts")
    if architecture == "sgns":
        init = keras.initializers.RandomUniform(-0.5 / dim, 0.5 / dim, seed=seed)
        target_vectors = keras.layers.Embedding(vocabulary_size, dim, embeddings_initializer=init, name=EMBEDDING_LAYER)(target)
        context_vectors = keras.layers.Embedding(vocabulary_size, dim, embeddings_initializer="zeros", name="context_embedding")(contexts)
        scores = keras.layers.Dot(axes=2, name="dot")([context_vectors, target_vectors])
    else:
        init = keras.initializers.RandomUniform(-0.05, 0.05, seed=seed)
        shared = keras.layers.Embedding(vocabulary_size, dim, embeddings_initializer=init, name=EMBEDDING_LAYER)
        cosine = keras.layers.Dot(axes=2, normalize=True, name="cosine")([shared(contexts), shared(target)])
        scores = keras.layers.Dense(1, name="scale", kernel_initializer=keras.initializers.Constant(1.0))(cosine)
    logits = keras.layers.Reshape((width,), name="logits")(scores)
    model = keras.Model([target, contexts], logits, name=f"track2vec_{architecture.replace('-', '_')}")
    model.compile(
        optimizer=make_optimizer(optimizer, learning_rate),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
        metrics=[keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0)],
    )
    return model


def make_optimizer(name: str, learning_rate: float) -> keras.optimizers.Optimizer:
    """Keras optimizer by name. ``sgd`` and ``adagrad`` keep embedding updates sparse; ``adam`` densifies them."""
    if name == "adam":
        return keras.optimizers.Adam(learning_rate)
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate)
    if name == "adagrad":
        return keras.optimizers.Adagrad(learning_rate)
    raise ConfigError(f"unknown optimizer {name!r} (choose from {', '.join(OPTIMIZERS)})")


def item_embeddings(model: keras.Model):
    """The item vectors [V, dim] as a NumPy array."""
    return model.get_layer(EMBEDDING_LAYER).get_weights()[0]
