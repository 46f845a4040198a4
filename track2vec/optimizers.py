"""A sparse ("lazy") Adam for embedding tables.

Keras' Adam turns an embedding's sparse gradient into a dense one and updates
every row at every step: on a 300,000-item vocabulary that is most of a step's
time. ``LazyAdam`` updates only the rows a batch touches (the moments of other
rows are left as they are, as in TensorFlow Addons' LazyAdam). Duplicate ids in
a batch are summed first; the dedup uses a sort and fixed-size segments, so the
step keeps static shapes and compiles with XLA.
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
        rows, values, real = _sum_duplicates(gradient.indices, gradient.values)
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


def _sum_duplicates(indices: tf.Tensor, values: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Sum the gradient rows of repeated ids into fixed-size segments (static shapes for XLA).

    Returns ``n`` ids, ``n`` summed rows and a mask of the real segments, where
    ``n = len(indices)``; segments past the number of distinct ids hold id 0 and a zero row.
    """
    n = tf.shape(indices)[0]
    order = tf.argsort(indices)
    sorted_ids = tf.gather(indices, order)
    starts = tf.concat([[1], tf.cast(sorted_ids[1:] != sorted_ids[:-1], tf.int32)], axis=0)
    segment = tf.cumsum(starts) - 1
    summed = tf.math.unsorted_segment_sum(tf.gather(values, order), segment, n)
    ids = tf.math.unsorted_segment_max(sorted_ids, segment, n)
    real = tf.range(n) <= segment[-1]
    ids = tf.where(real, ids, tf.zeros_like(ids))
    return ids, summed, real
