"""How much memory a training process needs: an estimate from the configuration and the corpus' size.

A trial's peak resident memory is, to a good approximation, four parts:

* the process itself with TensorFlow and Keras loaded, and XLA's compiled step (``PROCESS_MIB``);
* the corpus (shared from Ray's object store, but resident once read);
* the embedding tables, each held ``TABLE_COPIES[optimizer]`` times: the weights, their gradient
  (dense under XLA), the optimizer's slots and the update's temporaries;
* the largest tensors of one step, held ``STEP_COPIES[architecture]`` times (forward, softmax,
  gradient): the ``softmax`` architecture's logits [batch, 1 + shared_rows x negatives], ``count-softmax``'s
  soft labels and logits [batch, items], or the gathered
  context vectors [batch, 1 + negatives, dim] of ``sgns`` and ``tied-cosine``, whose forward and
  backward buffers of several sizes TensorFlow's pooling allocator keeps side by side.

The constants are fitted to measured peaks on the built-in Deezer-size corpus, lazy-adam's at the
Million Playlist size (``scripts/measure_trial_memory.py`` prints measured against estimated,
BENCHMARKS.md holds the runs).
The "auto" settings are resolved as the trainer resolves them (``TrainConfig.resolved``; the optimizer on
the backend that ``KERAS_BACKEND`` selects). The estimate is what the tuning service uses to keep a search space within the memory a trial can
have; it errs on the high side rather than the low.
"""

from __future__ import annotations

from track2vec.config import TrainConfig
from track2vec.runtime import pools_host_memory, sparse_updates_available

MIB = 2**20
FLOAT_BYTES = 4
PROCESS_MIB = 1000.0  # a worker with TensorFlow, Keras and a compiled step, before any table or corpus
# Weights, gradient and optimizer slots (Adam: two moments; Adagrad: one accumulator; SGD: none), plus the
# update's temporaries: fitted for Adam, the others scaled from it by their slots. lazy-adam keeps Adam's
# slots but never makes the gradient dense: one copy fewer (measured at the Million Playlist size).
TABLE_COPIES = {"adam": 6, "lazy-adam": 5, "adagrad": 5, "sgd": 4}
# What TensorFlow's pooling allocator (track2vec.runtime.pools_host_memory) keeps on top of lazy-adam's
# copies: part of a copy, fitted to peaks measured with and without it (BENCHMARKS.md, "Memory per trial").
POOLED_EXTRA_TABLE_COPIES = {"lazy-adam": 0.5}
# count-softmax: its soft labels, logits, softmax and their gradient, and the next batch's labels, prefetched.
STEP_COPIES = {"softmax": 4, "sgns": 6, "tied-cosine": 6, "count-softmax": 5}


def estimate_peak_mib(config: TrainConfig, vocabulary_size: int, corpus_bytes: int = 0, n_groups: int = 0) -> float:
    """The estimated peak resident memory (MiB) of a process that trains ``config`` on the corpus.

    ``n_groups``: the number of artists, where ``config.artist_vectors`` adds a table of them.
    """
    return PROCESS_MIB + (corpus_bytes + table_bytes(config, vocabulary_size, n_groups)
                          + step_bytes(config, vocabulary_size)) / MIB


def table_bytes(config: TrainConfig, vocabulary_size: int, n_groups: int = 0) -> int:
    """The embedding tables (and the softmax bias) with their gradients and optimizer slots."""
    config = config.resolved(vocabulary_size)
    rows = vocabulary_size + (n_groups + 1 if config.artist_vectors else 0)
    tables = 1 if config.architecture == "tied-cosine" else 2
    values = rows * config.dim * tables + (vocabulary_size if config.architecture in ("softmax", "count-softmax") else 0)
    on_tensorflow = sparse_updates_available()
    optimizer = config.optimizer_for(vocabulary_size, on_tensorflow)
    copies = TABLE_COPIES[optimizer]
    if on_tensorflow and pools_host_memory(vocabulary_size):
        copies += POOLED_EXTRA_TABLE_COPIES.get(optimizer, 0)
    return int(values * FLOAT_BYTES * copies)


def step_bytes(config: TrainConfig, vocabulary_size: int) -> int:
    """The largest tensors of one training step, times the copies a step keeps of them."""
    config = config.resolved(vocabulary_size)
    if config.architecture == "count-softmax":
        per_row = vocabulary_size  # every item is a candidate of every row
    elif config.architecture == "softmax":
        sampled = min(config.batch_size, config.shared_rows) * config.negatives
        per_row = 1 + min(sampled, vocabulary_size)
    else:
        per_row = (1 + config.negatives) * config.dim
    return STEP_COPIES[config.architecture] * config.batch_size * per_row * FLOAT_BYTES
