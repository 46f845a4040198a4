"""The Keras skip-gram models: Keras' own layers, one cosine-similarity layer and one sampled-softmax layer.

The pair models take ``target`` ids [batch, 1] and ``contexts`` ids [batch, 1 + k] (the true
context then k negatives), with labels ``[1, 0, ..., 0]``.

* ``sgns``: separate target and context embeddings and a plain dot product, trained with
  binary cross-entropy (negative sampling), as in word2vec and gensim (target vectors
  start small and random, context vectors at 0).
* ``tied-cosine``: the notebook's model: one shared embedding, cosine similarity,
  then a learnt scale and bias (``Dense(1)``), trained like sgns.
* ``softmax``: sgns' two tables plus a bias per item, trained as a next-item model with a
  softmax over the true context and negatives shared by the whole batch (sampled
  softmax, corrected for how often each item is drawn): the objective of word2vec's
  full softmax, which the negative-sampling models only approximate. The bias learns
  each item's popularity as a context.
* ``count-softmax``: the softmax's tables and bias trained on counted rows instead of pairs
  (``track2vec.count_rows``): it takes ``target`` ids [batch, 1] only, and its labels are each
  query's normalised co-occurrence row over every item, a full softmax's soft labels.

With ``groups`` (each item's artist, where the corpus has one), an item's target and
context vectors are its own plus its artist's (as in Meta-Prod2Vec, Vasile et al. 2016): the
artist's vector is learnt from every track of that artist, so a rarely played track starts
from where its artist's tracks sit. Items without an artist keep their own vector only.

The cosine is its own small layer rather than ``Dot(normalize=True)``: the same values
from one einsum and two norms, and a quicker step under XLA on CPU (Dot normalises every
gathered vector before its batched product).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from track2vec.config import ARCHITECTURES, OPTIMIZERS, SHARED_NEGATIVE_ROWS
from track2vec.errors import ConfigError

if keras.backend.backend() == "tensorflow":
    from track2vec.optimizers import LazyAdam  # TF's sparse gradients; registers it for loading

EMBEDDING_LAYER = "embedding"
CONTEXT_LAYER = "context_embedding"
LOGITS_LAYER = "softmax_logits"  # the softmax architecture's bias per item lives here
# Training steps per call into the compiled graph: fewer Python round trips (BENCHMARKS.md);
# Keras stops early at the epoch's end.
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
class GroupedEmbedding(keras.layers.Layer):
    """An embedding whose row ``i`` is ``items[i] + groups[group_of[i]]`` (no group term where ``group_of[i] < 0``).

    ``group_of`` is fixed (kept as non-trainable weights, so a saved model reloads it); the
    item and group tables are learnt. ``vectors()`` gives the summed table [V, dim], which is
    what evaluation, export and ``recommend`` use.
    """

    def __init__(self, vocabulary_size: int, n_groups: int, dim: int, group_of=None, initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.vocabulary_size, self.n_groups, self.dim = int(vocabulary_size), int(n_groups), int(dim)
        group_of = np.full(self.vocabulary_size, -1, np.int32) if group_of is None else np.asarray(group_of, np.int32)
        self.item_table = self.add_weight(shape=(self.vocabulary_size, self.dim),
                                          initializer=keras.initializers.get(initializer), name="items")
        # Row n_groups stands for "no group": has_group keeps its term at zero whatever the optimizer does.
        self.group_table = self.add_weight(shape=(self.n_groups + 1, self.dim), initializer="zeros", name="groups")
        self.group_index = self.add_weight(
            shape=(self.vocabulary_size,), dtype="int32", trainable=False, name="group_index",
            initializer=keras.initializers.Constant(np.where(group_of >= 0, group_of, self.n_groups)))
        self.has_group = self.add_weight(
            shape=(self.vocabulary_size, 1), trainable=False, name="has_group",
            initializer=keras.initializers.Constant((group_of >= 0).astype(np.float32)[:, None]))

    def rows(self, ids):
        groups = ops.take(self.group_index, ids, axis=0)
        own = ops.take(self.item_table, ids, axis=0)
        return own + ops.take(self.group_table, groups, axis=0) * ops.take(self.has_group, ids, axis=0)

    def call(self, ids):
        return self.rows(ids)

    def vectors(self) -> np.ndarray:
        return np.asarray(ops.convert_to_numpy(self.rows(np.arange(self.vocabulary_size, dtype=np.int32))))

    def get_config(self):
        return {**super().get_config(), "vocabulary_size": self.vocabulary_size, "n_groups": self.n_groups,
                "dim": self.dim}


# The columns of SharedSoftmaxLogits' output, in the order its call stacks them.
TRUE_LOGIT, LOG_PARTITION, BEST_NEGATIVE = 0, 1, 2


@keras.saving.register_keras_serializable(package="track2vec")
class SharedSoftmaxLogits(keras.layers.Layer):
    """The ``softmax`` architecture's logits over the true context and the negatives the batch shares, reduced per row.

    Inputs: target vectors [B, 1, d], the true contexts' vectors [B, 1, d], the shared
    negatives' vectors [m, n, d], the context ids [B, 1 + k] (the true context first) and the
    shared negatives' ids [m, n]. Candidate ``j`` scores ``u . c_j + b_j`` for target vector
    ``u`` with a learnt bias per item; when the negatives are ``sampled`` from the
    negative-sampling distribution Q (the first ``shared_rows`` rows' k negatives), minus
    sampled softmax's correction ``log Q(j)`` for how often ``j`` is drawn. Otherwise the
    negatives are every item (a full softmax, exact and cheaper where the vocabulary is no
    larger than the sampled negatives would be). One matrix product scores every row against
    the shared negatives; a negative equal to the row's true context is masked.

    Output: [B, 3], per row the true context's logit (``TRUE_LOGIT``), the log of the softmax's
    normaliser over the true context and the negatives (``LOG_PARTITION``) and the best
    negative's logit (``BEST_NEGATIVE``): all that the loss and the accuracy read. The logits
    themselves [B, 1 + negatives] are never put side by side in one tensor: under XLA on CPU
    the backward pass through such a concatenation and its first column took most of a step.
    """

    def __init__(self, vocabulary_size: int, shared_rows: int, log_q=None, sampled: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary_size, self.shared_rows, self.sampled = int(vocabulary_size), int(shared_rows), bool(sampled)
        self.bias = self.add_weight(shape=(self.vocabulary_size,), initializer="zeros", name="bias")
        initial = "zeros" if log_q is None else keras.initializers.Constant(np.asarray(log_q, dtype=np.float32))
        self.log_q = self.add_weight(shape=(self.vocabulary_size,), initializer=initial, trainable=False, name="log_q")

    def call(self, inputs):
        target_vectors, true_vectors, negative_vectors, ids, negative_ids = inputs
        u = target_vectors[:, 0, :]
        positives = ids[:, 0]
        negatives = ops.reshape(negative_ids, (-1,))
        negative_vectors = ops.reshape(negative_vectors, (-1, ops.shape(u)[-1]))
        bias = self.bias - self.log_q if self.sampled else self.bias
        true = ops.sum(u * true_vectors[:, 0, :], axis=-1) + ops.take(bias, positives)
        shared = ops.matmul(u, ops.transpose(negative_vectors)) + ops.take(bias, negatives)[None, :]
        shared = ops.where(negatives[None, :] == positives[:, None], -1e9, shared)  # the true context itself
        # log-sum-exp over the negatives, shifted by their best (held constant: its gradient cancels); written out
        # rather than ops.logsumexp because that best is also the BEST_NEGATIVE column, so one reduction serves both
        best = ops.stop_gradient(ops.max(shared, axis=-1))
        negatives_term = best + ops.log(ops.sum(ops.exp(shared - best[:, None]), axis=-1))
        return ops.stack([true, ops.logaddexp(true, negatives_term), best], axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], 3)

    def get_config(self):
        return {**super().get_config(), "vocabulary_size": self.vocabulary_size, "shared_rows": self.shared_rows,
                "sampled": self.sampled}


@keras.saving.register_keras_serializable(package="track2vec")
class RowLogits(keras.layers.Layer):
    """The ``count-softmax`` architecture's logits of every item for each query: [B, 1, d], [1, V, d] -> [B, V].

    Candidate ``j`` scores ``u . c_j + b_j`` for the query's target vector ``u``, with a learnt bias per item:
    the ``softmax`` architecture's score, over every item rather than sampled negatives.
    """

    def __init__(self, vocabulary_size: int, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary_size = int(vocabulary_size)
        self.bias = self.add_weight(shape=(self.vocabulary_size,), initializer="zeros", name="bias")

    def call(self, inputs):
        target_vectors, every_context = inputs
        return ops.matmul(target_vectors[:, 0, :], ops.transpose(every_context[0])) + self.bias[None, :]

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], self.vocabulary_size)

    def get_config(self):
        return {**super().get_config(), "vocabulary_size": self.vocabulary_size}


@keras.saving.register_keras_serializable(package="track2vec")
class EveryItem(keras.layers.Layer):
    """The ids of every item, [1, V], whatever its input: the full softmax's negatives."""

    def __init__(self, vocabulary_size: int, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary_size = int(vocabulary_size)

    def call(self, inputs):
        return ops.expand_dims(ops.arange(self.vocabulary_size, dtype="int32"), 0)

    def compute_output_spec(self, inputs):
        return keras.KerasTensor((1, self.vocabulary_size), dtype="int32")

    def get_config(self):
        return {**super().get_config(), "vocabulary_size": self.vocabulary_size}


@keras.saving.register_keras_serializable(package="track2vec")
def true_context_cross_entropy(y_true, y_pred):
    """Softmax cross-entropy of the true context (``y_pred``: SharedSoftmaxLogits' rows), weighted by its label.

    The label is 1 for every real pair (column 0 of the training labels).
    """
    return -y_true[:, 0] * (y_pred[:, TRUE_LOGIT] - y_pred[:, LOG_PARTITION])


@keras.saving.register_keras_serializable(package="track2vec")
def true_context_first(y_true, y_pred):
    """Whether the true context scores at least as high as every negative (``y_pred``: SharedSoftmaxLogits' rows)."""
    return ops.cast(y_pred[:, TRUE_LOGIT] >= y_pred[:, BEST_NEGATIVE], "float32")


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
    log_q=None,
    groups=None,
    decay_steps: int | None = None,
    shared_rows: int = SHARED_NEGATIVE_ROWS,
) -> keras.Model:
    """A compiled skip-gram model; its item embeddings are the layer named ``embedding``.

    ``batch_size`` (positive pairs per step; count-softmax's rows) scales the ``sgd`` learning rate and bounds the
    ``softmax`` architecture's ``shared_rows`` (the rows whose negatives every row shares);
    ``log_q`` (the log of the negative-sampling distribution) is that architecture's correction.
    ``groups`` (each item's artist id, -1 where unknown) adds an artist vector to the target and
    context vectors of ``sgns`` and ``softmax``. ``decay_steps`` (the run's length in steps) makes the learning rate decay over it.
    """
    if architecture not in ARCHITECTURES:
        raise ConfigError(f"unknown architecture {architecture!r} (choose from {', '.join(ARCHITECTURES)})")
    if dim < 1:
        raise ConfigError(f"dim must be >= 1, got {dim}")
    if learning_rate <= 0:
        raise ConfigError(f"learning rate must be > 0, got {learning_rate}")
    width = 1 + negatives
    # What Keras averages a step's loss over: its (target, context) pairs, or count-softmax's rows.
    pairs_per_step = batch_size if architecture == "count-softmax" else batch_size * width
    target = keras.Input((1,), dtype="int32", name="target")
    contexts = keras.Input((width,), dtype="int32", name="contexts")
    loss_function = keras.losses.BinaryCrossentropy(from_logits=True)
    accuracy = keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0)
    if groups is not None and architecture == "tied-cosine":
        raise ConfigError("artist vectors need separate target and context vectors (architecture sgns or softmax)")
    if architecture in ("sgns", "softmax", "count-softmax"):
        init = keras.initializers.RandomUniform(-0.5 / dim, 0.5 / dim, seed=seed)
        if groups is None:
            target_table = keras.layers.Embedding(vocabulary_size, dim, embeddings_initializer=init, name=EMBEDDING_LAYER)
            context_table = keras.layers.Embedding(vocabulary_size, dim, embeddings_initializer="zeros", name=CONTEXT_LAYER)
        else:
            n_groups = int(np.max(groups)) + 1 if len(groups) else 0
            target_table = GroupedEmbedding(vocabulary_size, n_groups, dim, groups, init, name=EMBEDDING_LAYER)
            context_table = GroupedEmbedding(vocabulary_size, n_groups, dim, groups, "zeros", name=CONTEXT_LAYER)
        target_vectors = target_table(target)
    if architecture == "sgns":
        scores = keras.layers.Dot(axes=2, name="dot")([context_table(contexts), target_vectors])
        logits = keras.layers.Reshape((width,), name="logits")(scores)
    elif architecture == "count-softmax":
        # Every item is a candidate of every row: all the context vectors, one matrix product.
        every_context = context_table(EveryItem(vocabulary_size, name="every_item")(target))
        logits = RowLogits(vocabulary_size, name=LOGITS_LAYER)([target_vectors, every_context])
        loss_function = keras.losses.CategoricalCrossentropy(from_logits=True)
        accuracy = keras.metrics.CategoricalAccuracy(name="accuracy")
    elif architecture == "softmax":
        shared_rows = max(1, min(batch_size, shared_rows))
        # Never sample more negatives than there are items: then every item is a negative.
        sampled = vocabulary_size > shared_rows * negatives
        negative_ids = contexts[:shared_rows, 1:] if sampled else EveryItem(vocabulary_size, name="every_item")(contexts)
        # Only the true contexts and the shared negatives are looked up.
        true_vectors = context_table(contexts[:, :1])
        negative_vectors = context_table(negative_ids)
        logits = SharedSoftmaxLogits(vocabulary_size, shared_rows, log_q, sampled, name=LOGITS_LAYER)(
            [target_vectors, true_vectors, negative_vectors, contexts, negative_ids])
        loss_function = true_context_cross_entropy
        accuracy = keras.metrics.MeanMetricWrapper(true_context_first, name="accuracy")
    else:
        init = keras.initializers.RandomUniform(-0.05, 0.05, seed=seed)
        shared = keras.layers.Embedding(vocabulary_size, dim, embeddings_initializer=init, name=EMBEDDING_LAYER)
        cosine = Cosine(name="cosine")([shared(contexts), shared(target)])
        scores = keras.layers.Dense(1, name="scale", kernel_initializer=keras.initializers.Constant(1.0))(cosine)
        logits = keras.layers.Reshape((width,), name="logits")(scores)
    inputs = target if architecture == "count-softmax" else [target, contexts]
    model = keras.Model(inputs, logits, name=f"track2vec_{architecture.replace('-', '_')}")
    model.compile(
        optimizer=make_optimizer(optimizer, learning_rate, pairs_per_step, decay_steps),
        loss=loss_function,
        metrics=[accuracy],
        jit_compile=jit_compile,
        steps_per_execution=STEPS_PER_EXECUTION,
    )
    return model


# Where a linearly decaying rate ends, as a share of where it starts (word2vec.c's floor).
FINAL_RATE = 1e-4


def make_optimizer(name: str, learning_rate: float, pairs_per_step: int = 1,
                   decay_steps: int | None = None) -> keras.optimizers.Optimizer:
    """Keras optimizer by name.

    ``lazy-adam`` is Adam restricted to the embedding rows a step touches (sparse).
    ``sgd`` also updates only the embedding rows a step touches (sparse), and its
    learning rate is word2vec's per-pair rate (gensim's ``alpha``, e.g. 0.025):
    Keras averages the loss over the ``pairs_per_step`` (target, context) pairs of
    a step, so the rate is scaled back up by that number. ``adam`` and ``adagrad``
    update every row at every step (dense), which costs time on large vocabularies.
    Given ``decay_steps`` (the run's length), any of them has its rate decay linearly
    towards ``FINAL_RATE`` of itself over those steps, as word2vec's does: the last
    epochs then settle instead of jittering around the optimum.
    """
    rate = learning_rate * pairs_per_step if name == "sgd" else learning_rate
    if decay_steps:
        rate = keras.optimizers.schedules.PolynomialDecay(rate, decay_steps, rate * FINAL_RATE)
    if name == "lazy-adam":
        if keras.backend.backend() != "tensorflow":
            raise ConfigError(f"optimizer 'lazy-adam' needs Keras' TensorFlow backend (KERAS_BACKEND is "
                              f"{keras.backend.backend()!r}); choose adam, sgd or adagrad")
        return LazyAdam(rate)
    if name == "adam":
        return keras.optimizers.Adam(rate)
    if name == "sgd":
        return keras.optimizers.SGD(rate)
    if name == "adagrad":
        return keras.optimizers.Adagrad(rate)
    raise ConfigError(f"unknown optimizer {name!r} (choose from {', '.join(OPTIMIZERS)})")


def _table(layer: keras.layers.Layer) -> np.ndarray:
    return layer.vectors() if isinstance(layer, GroupedEmbedding) else layer.get_weights()[0]


def _layer(model: keras.Model, name: str):
    names = {layer.name for layer in model.layers}
    return model.get_layer(name) if name in names else None


def item_embeddings(model: keras.Model):
    """The item vectors [V, dim] as a NumPy array (sgns, softmax: the target vectors, artist's included)."""
    return _table(model.get_layer(EMBEDDING_LAYER))


def context_embeddings(model: keras.Model):
    """The context vectors [V, dim] of an ``sgns`` or ``softmax`` model; None for ``tied-cosine`` (one shared table)."""
    layer = _layer(model, CONTEXT_LAYER)
    return None if layer is None else _table(layer)


def context_bias(model: keras.Model):
    """The learnt bias [V] of each item as a context (``softmax``); None for the other architectures."""
    layer = _layer(model, LOGITS_LAYER)
    return None if layer is None else np.asarray(layer.bias.numpy())
