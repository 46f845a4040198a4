"""A sparse ("lazy") Adam for embedding tables.

Keras' Adam turns an embedding's sparse gradient into a dense one and updates
every row at every step: on a 300,000-item vocabulary that is most of a step's
time. ``LazyAdam`` updates only the rows a batch touches (the moments of other
rows are left as they are, as in TensorFlow Addons' LazyAdam). Duplicate ids in
a batch are summed first, into fixed-size segments so that the step keeps static
shapes and compiles with XLA.
"""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="track2vec")
class LazyAdam(keras.optimizers.Adam):
    """Adam that applies ``tf.IndexedSlices`` gradients to the touched rows only."""

    def update_step(self, gradient, variable, learning_rate):
        if not isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        rows, values, real = _sum_duplicates(gradient.indices, gradient.values, variable.shape[0])
        dtype = variable.dtype
        values = tf.cast(values, dtype)
        lr = tf.cast(learning_rate, dtype)
        step = tf.cast(self.iterations + 1, dtype)
        beta_1 = tf.cast(self.beta_1, dtype)
        beta_2 = tf.cast(self.beta_2, dtype)
        alpha = lr * tf.sqrt(1 - tf.pow(beta_2, step)) / (1 - tf.pow(beta_1, step))

        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._velocities[index]
        m, v, variable = _tf_variable(m), _tf_variable(v), _tf_variable(variable)
        m_rows = tf.gather(m, rows)
        v_rows = tf.gather(v, rows)
        m_delta = (1 - beta_1) * (values - m_rows)
        v_delta = (1 - beta_2) * (tf.square(values) - v_rows)
        # Padding segments (past the distinct ids) must change nothing: mask their deltas.
        real = tf.cast(real, dtype)[:, None]
        m_delta *= real
        v_delta *= real
        step_delta = -alpha * (m_rows + m_delta) / (tf.sqrt(v_rows + v_delta) + self.epsilon) * real
        rows = rows[:, None]
        m.scatter_nd_add(rows, m_delta)
        v.scatter_nd_add(rows, v_delta)
        variable.scatter_nd_add(rows, step_delta)


def _tf_variable(variable):
    """The ``tf.Variable`` behind a Keras variable (the optimizer sees either)."""
    return variable.value if isinstance(variable, keras.Variable) else variable


def _sum_duplicates(indices: tf.Tensor, values: tf.Tensor, vocabulary_size: int) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Sum the gradient rows of repeated ids into fixed-size segments (static shapes for XLA).

    Returns ``n`` ids, ``n`` summed rows and a mask of the real segments, where
    ``n = len(indices)``: segment ``j`` is real when position ``j`` is the first
    occurrence of its id, and then holds the sum of all of that id's rows; other
    segments hold a zero row. The first occurrences are found through one
    vocabulary-sized scatter rather than a sort (a sort of the ids took most of the
    update's time under XLA on CPU).
    """
    n = tf.shape(indices)[0]
    positions = tf.range(n)
    first = tf.tensor_scatter_nd_min(tf.fill([vocabulary_size], n), indices[:, None], positions)
    segment = tf.gather(first, indices)
    summed = tf.math.unsorted_segment_sum(values, segment, n)
    return indices, summed, tf.equal(segment, positions)
