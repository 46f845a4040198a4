"""Train one configuration: a stream of sampled pairs into ``keras.Model.fit``.

On Keras' TensorFlow backend (the default) the pairs come through tf.data; on the
others (``KERAS_BACKEND=jax``, e.g. on a GPU machine without TensorFlow) through a
Python generator, one ``fit`` call per epoch. Either way pair generation runs in a
background thread and is prefetched, so sampling overlaps with the training
steps. One epoch is one full pass over the training playlists; the sampler's
randomness for epoch ``e`` depends only on (seed, e), so a run restored at epoch
``e`` continues exactly where it stopped.
"""

from __future__ import annotations

import math
import queue
import threading
import time
import warnings
from collections.abc import Iterator

import keras
import numpy as np

from track2vec.config import TrainConfig
from track2vec.corpus import Corpus
from track2vec.count_rows import CountRows
from track2vec.errors import ConfigError
from track2vec.evaluation import Metrics, ScoredMetrics, best_scoring, evaluate_scorings, evaluate_with
from track2vec.model import build_model, context_bias, context_embeddings, item_embeddings
from track2vec.scoring import Scoring, score_table
from track2vec.sampling import SkipGramSampler, negative_distribution
from track2vec.vocabulary import artist_ids


class Trainer:
    """Holds the sampler and the Keras model of one run."""

    def __init__(self, corpus: Corpus, config: TrainConfig, model: keras.Model | None = None,
                 validation_pairs: np.ndarray | None = None) -> None:
        self.corpus = corpus
        self.config = config = config.resolved(len(corpus.vocabulary))  # "auto" settings for this vocabulary
        # What each epoch is scored on: all validation pairs, or a sample of them (tuning's cheaper estimate).
        self.validation_pairs = corpus.validation_pairs if validation_pairs is None else validation_pairs
        # What an epoch trains on: the counted rows (count-softmax), or sampled pairs (the others).
        self.count_rows = CountRows(corpus, config) if config.architecture == "count-softmax" else None
        self.sampler = None if self.count_rows else SkipGramSampler(
            corpus.tokens, corpus.offsets, corpus.counts, config.window, config.negatives,
            config.alpha, config.subsample, config.seed,
            forward=config.direction == "forward", shrink_windows=config.shrink_windows,
            recency_scale=config.recency_scale,
        )
        keras.utils.set_random_seed(config.seed)
        # What config.optimizer names, "auto" resolved for this vocabulary (LazyAdam is TensorFlow's only).
        self.optimizer = config.optimizer_for(len(corpus.vocabulary), keras.backend.backend() == "tensorflow")
        self.model = model or build_model(
            config.architecture, len(corpus.vocabulary), config.dim, config.negatives,
            config.learning_rate, self.optimizer, config.seed, batch_size=config.batch_size,
            log_q=np.log(negative_distribution(corpus.counts, config.alpha)),
            groups=self._artist_groups(), decay_steps=self._decay_steps(), shared_rows=config.shared_rows,
        )
        self.next_epoch = 0
        self.pairs_in_epoch = 0
        self.scoring: Scoring | None = None  # chosen on the validation pairs after the last epoch

    def _decay_steps(self) -> int | None:
        """The run's length in steps, where the rate decays over it: the first epoch's, times the epochs."""
        if not self.config.decays():
            return None
        if self.count_rows:
            return self.config.epochs * self.count_rows.steps_per_epoch()
        return self.config.epochs * max(1, math.ceil(self.sampler.pair_count(0) / self.config.batch_size))

    def _artist_groups(self) -> np.ndarray | None:
        if not self.config.artist_vectors:
            return None
        groups = artist_ids(self.corpus.vocabulary)
        if groups is None:
            raise ConfigError("artist_vectors: the corpus names no artists (only Deezer-format playlists "
                              "with artist_ tokens and the built-in corpus do)")
        return groups

    def _batches(self):
        """Fixed-size batches of one epoch (one XLA compilation serves every step), stacked.

        Yields ``(targets [n, size, 1], contexts [n, size, 1 + k])``: the batches that one
        sampler slice fills, so that Python hands tf.data a few large arrays per epoch
        rather than one small one per step. Pairs left over at the end of a slice go to the
        next slice's first batch; the epoch's last, partial batch is topped up by repeating
        its own pairs.
        """
        epoch, self.next_epoch = self.next_epoch, self.next_epoch + 1
        self.pairs_in_epoch = 0
        size, width = self.config.batch_size, 1 + self.config.negatives
        targets = np.empty(0, dtype=np.int32)
        contexts = np.empty((0, width), dtype=np.int32)
        for chunk in self.sampler.epoch(epoch):
            self.pairs_in_epoch += len(chunk.targets)
            if len(targets):
                targets = np.concatenate([targets, chunk.targets])
                contexts = np.concatenate([contexts, chunk.contexts])
            else:
                targets, contexts = chunk.targets, chunk.contexts
            full = len(targets) - len(targets) % size
            if full:
                yield targets[:full].reshape(-1, size, 1), contexts[:full].reshape(-1, size, width)
            targets, contexts = targets[full:], contexts[full:]
        if len(targets):
            fill = np.resize(np.arange(len(targets)), size)
            yield targets[fill].reshape(1, size, 1), contexts[fill].reshape(1, size, width)

    def _row_batches(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """count-softmax's batches of one epoch: ``(queries, soft labels, row weights)``."""
        epoch, self.next_epoch = self.next_epoch, self.next_epoch + 1
        self.pairs_in_epoch = self.count_rows.pair_count()
        yield from self.count_rows.batches(epoch)

    def dataset(self):
        """The epoch's batches as a ``tf.data.Dataset`` of ``((targets, contexts), labels)`` (count-softmax:
        ``(queries, soft labels, row weights)``), prefetched."""
        import tensorflow as tf

        if self.count_rows:
            size, items = self.config.batch_size, len(self.corpus.vocabulary)
            signature = (tf.TensorSpec((size, 1), tf.int32), tf.TensorSpec((size, items), tf.float32),
                         tf.TensorSpec((size,), tf.float32))
            return tf.data.Dataset.from_generator(self._row_batches, output_signature=signature).prefetch(2)
        width, size = 1 + self.config.negatives, self.config.batch_size
        signature = (tf.TensorSpec((None, size, 1), tf.int32), tf.TensorSpec((None, size, width), tf.int32))
        labels = tf.constant(batch_labels(size, width))
        stacks = tf.data.Dataset.from_generator(self._batches, output_signature=signature)
        return stacks.unbatch().map(lambda target, context: ((target, context), labels)).prefetch(tf.data.AUTOTUNE)

    def fit(self, epochs: int | None = None, initial_epoch: int = 0, callbacks: list | None = None) -> keras.callbacks.History:
        """Train up to epoch ``epochs`` (default: the config's), starting after ``initial_epoch`` done."""
        self.next_epoch = initial_epoch
        callbacks = [ValidationMetrics(self), *(callbacks or [])]
        epochs = epochs or self.config.epochs
        with warnings.catch_warnings():
            # The epoch's length is only known once its pairs are drawn; Keras warns about that.
            warnings.filterwarnings("ignore", message=".*ran out of data.*")
            if keras.backend.backend() == "tensorflow":
                return self.model.fit(self.dataset(), epochs=epochs, initial_epoch=initial_epoch,
                                      callbacks=callbacks, verbose=0, shuffle=False)
            return self._fit_epoch_by_epoch(epochs, initial_epoch, callbacks)

    def _fit_epoch_by_epoch(self, epochs: int, initial_epoch: int, callbacks: list) -> keras.callbacks.History:
        """``fit`` for backends without tf.data: a Python generator is good for one pass, so one call per epoch."""
        history = keras.callbacks.History()
        history.set_model(self.model)
        history.on_train_begin()
        for epoch in range(initial_epoch, epochs):
            logs = self.model.fit(self._generator(), epochs=epoch + 1, initial_epoch=epoch,
                                  callbacks=callbacks, verbose=0, shuffle=False).history
            history.epoch.append(epoch)
            for key, values in logs.items():
                history.history.setdefault(key, []).extend(values)
            if self.model.stop_training:  # a callback asked to stop; the next fit call would reset it
                break
        return history

    def _generator(self) -> Iterator:
        """One epoch's batches as ``((targets, contexts), labels)`` (count-softmax: ``(queries, soft labels, row
        weights)``), made one slice ahead in a thread."""
        if self.count_rows:
            yield from prefetched(self._row_batches())
            return
        labels = batch_labels(self.config.batch_size, 1 + self.config.negatives)
        for targets, contexts in prefetched(self._batches()):
            for target, context in zip(targets, contexts):
                yield (target, context), labels

    def embeddings(self) -> np.ndarray:
        return item_embeddings(self.model)

    def context_embeddings(self) -> np.ndarray | None:
        return context_embeddings(self.model)

    def context_bias(self) -> np.ndarray | None:
        return context_bias(self.model)

    def score_table(self, method: str):
        return score_table(method, self.embeddings(), self.corpus.counts, self.context_embeddings(), self.context_bias())

    def score_on(self, pairs: np.ndarray) -> list[ScoredMetrics]:
        """The metrics on ``pairs`` of every scoring the configuration allows."""
        return evaluate_scorings(self.embeddings(), self.corpus.counts, pairs, self.context_embeddings(),
                                 self.config.scoring_methods(), self.config.popularity_weights(), self.config.k,
                                 self.context_bias())

    def choose_scoring(self) -> ScoredMetrics:
        """The best scoring on ``self.validation_pairs``; remembered as ``self.scoring``."""
        best = best_scoring(self.score_on(self.validation_pairs))
        self.scoring = best.scoring
        return best

    def evaluate(self, pairs: np.ndarray, scoring: Scoring | None = None) -> Metrics:
        """Metrics on ``pairs`` under ``scoring`` (default: the one chosen on validation, choosing it if needed)."""
        scoring = scoring or self.scoring or self.choose_scoring().scoring
        return evaluate_with(self.score_table(scoring.method), pairs, scoring.popularity_weight, self.config.k)


def prefetched(items: Iterator, depth: int = 2) -> Iterator:
    """``items``, produced by a background thread up to ``depth`` ahead (the sampler's compiled loops release the GIL)."""
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def offer(item) -> bool:
        """Put ``item`` unless the consumer has gone; False once it has."""
        while not stop.is_set():
            try:
                buffer.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not offer(item):
                    return
            offer(done)
        except BaseException as error:  # handed to the consumer, raised there
            offer(error)

    thread = threading.Thread(target=produce, name="track2vec-sampler", daemon=True)
    thread.start()
    try:
        while (item := buffer.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


def batch_labels(size: int, width: int) -> np.ndarray:
    """The labels of every batch: [size, width], 1 for the true context (column 0), 0 for the negatives."""
    return np.eye(1, width, dtype=np.float32).repeat(size, axis=0)


class ValidationMetrics(keras.callbacks.Callback):
    """Adds validation NDCG@k / HR@k, pairs per second and epoch time to each epoch's logs."""

    def __init__(self, trainer: Trainer) -> None:
        super().__init__()
        self.trainer = trainer
        self.started = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self.started
        k = self.trainer.config.k
        best = self.trainer.choose_scoring()
        logs[f"val_ndcg_at_{k}"] = best.metrics.ndcg
        logs[f"val_hr_at_{k}"] = best.metrics.hit_rate
        logs["popularity_weight"] = best.scoring.popularity_weight
        logs["train_seconds"] = seconds
        logs["pairs_per_second"] = self.trainer.pairs_in_epoch / seconds if seconds > 0 else 0.0
        logs["epoch"] = epoch + 1


class EpochPrinter(keras.callbacks.Callback):
    """One line per epoch: loss, accuracy, validation metrics and the scoring chosen for them, throughput."""

    def __init__(self, trainer: Trainer, stream=None) -> None:
        super().__init__()
        self.trainer = trainer
        self.stream = stream

    def on_epoch_end(self, epoch, logs=None):
        k, scoring = self.trainer.config.k, self.trainer.scoring
        print(
            f"epoch {epoch + 1}/{self.trainer.config.epochs}  loss {logs['loss']:.4f}  accuracy {logs['accuracy']:.4f}  "
            f"val NDCG@{k} {logs[f'val_ndcg_at_{k}']:.4f}  val HR@{k} {logs[f'val_hr_at_{k}']:.4f}  "
            f"[{scoring.describe() if scoring else '-'}]  {logs['pairs_per_second']:,.0f} pairs/s  "
            f"{logs['train_seconds']:.1f} s",
            file=self.stream, flush=True,
        )
