"""The Keras models and the sparse optimizer."""

import numpy as np
import pytest
import tensorflow as tf
import keras

from track2vec.errors import ConfigError
from track2vec.model import build_model, item_embeddings
from track2vec.optimizers import LazyAdam


@pytest.mark.parametrize("architecture", ["sgns", "tied-cosine"])
def test_model_scores_each_context_and_learns_a_separable_task(architecture):
    vocabulary, negatives, batch = 20, 3, 64
    model = build_model(architecture, vocabulary, 8, negatives, 0.05, "adam", seed=1, batch_size=batch)
    rng = np.random.default_rng(0)
    # Items 0-9 co-occur with themselves +10; everything else is noise.
    targets = rng.integers(0, 10, size=(batch * 20, 1)).astype(np.int32)
    positives = targets + 10
    contexts = np.concatenate([positives, rng.integers(0, vocabulary, size=(len(targets), negatives))], axis=1).astype(np.int32)
    labels = np.zeros(contexts.shape, np.float32)
    labels[:, 0] = 1
    assert model.predict((targets[:batch], contexts[:batch]), verbose=0).shape == (batch, 1 + negatives)
    history = model.fit((targets, contexts), labels, batch_size=batch, epochs=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    vectors = item_embeddings(model)
    assert vectors.shape == (vocabulary, 8)


def test_tied_cosine_shares_one_embedding_and_sgns_has_two():
    tied = build_model("tied-cosine", 30, 4, 2, 0.01)
    sgns = build_model("sgns", 30, 4, 2, 0.01)
    count = lambda model: sum(isinstance(layer, keras.layers.Embedding) for layer in model.layers)
    assert count(tied) == 1 and count(sgns) == 2


@pytest.mark.parametrize("jit", [False, True])
def test_lazy_adam_matches_adam_on_touched_rows_and_leaves_the_rest(jit):
    rng = np.random.default_rng(0)
    start = rng.normal(size=(10, 3)).astype(np.float32)
    dense, lazy = keras.Variable(start.copy()), keras.Variable(start.copy())
    adam, lazy_adam = keras.optimizers.Adam(0.1), LazyAdam(0.1)
    adam.build([dense])
    lazy_adam.build([lazy])
    indices = tf.constant([3, 1, 3, 7, 1, 1])  # repeated ids must be summed, as a dense gradient does
    gradient = tf.IndexedSlices(tf.constant(rng.normal(size=(6, 3)).astype(np.float32)), indices, tf.constant([10, 3]))

    @tf.function(jit_compile=jit)
    def lazy_step():
        lazy_adam.apply([gradient], [lazy])

    for _ in range(3):
        adam.apply([tf.convert_to_tensor(gradient)], [dense])
        lazy_step()
    touched, untouched = [1, 3, 7], [0, 2, 4, 5, 6, 8, 9]
    np.testing.assert_allclose(lazy.numpy()[touched], dense.numpy()[touched], atol=1e-5)
    np.testing.assert_array_equal(lazy.numpy()[untouched], start[untouched])


def _softmax_rows(true, negatives):
    """What SharedSoftmaxLogits outputs, from the logits: the true context's, the log-partition, the best negative's."""
    every = np.concatenate([true[:, None], negatives], axis=1)
    top = every.max(axis=1, keepdims=True)
    log_partition = (top + np.log(np.exp(every - top).sum(axis=1, keepdims=True)))[:, 0]
    return np.stack([true, log_partition, negatives.max(axis=1)], axis=1)


# The first two rows' negatives are shared: bounded by a batch of 2, or set by shared_rows in a batch of 3.
@pytest.mark.parametrize("sizes", [{"batch_size": 2}, {"batch_size": 3, "shared_rows": 2}])
def test_softmax_scores_the_true_context_against_the_batchs_shared_negatives_and_survives_saving(tmp_path, sizes):
    from track2vec.model import SharedSoftmaxLogits, context_bias, context_embeddings

    vocabulary, dim, negatives = 12, 4, 3
    log_q = np.log(np.linspace(1, 5, vocabulary) / np.linspace(1, 5, vocabulary).sum())
    model = build_model("softmax", vocabulary, dim, negatives, 0.05, seed=2, log_q=log_q, jit_compile=False, **sizes)
    target = np.array([[1], [2], [3]], dtype=np.int32)
    contexts = np.array([[3, 4, 5, 6], [7, 8, 9, 3], [10, 11, 0, 1]], dtype=np.int32)
    shared = contexts[:2, 1:].ravel()  # every row's negatives: those of the first two rows

    def expected_rows(model):  # each candidate scores u . c + b - log q; a row's own true context is masked
        scores = item_embeddings(model)[target[:, 0]] @ context_embeddings(model).T + context_bias(model) - log_q
        masked = np.where(shared[None, :] == contexts[:, :1], -1e9, scores[:, shared])
        return _softmax_rows(scores[np.arange(3), contexts[:, 0]], masked), scores

    rows, scores = expected_rows(model)
    np.testing.assert_allclose(model.predict((target, contexts), verbose=0), rows, rtol=1e-5)
    np.testing.assert_allclose(rows[:, 0], -log_q[contexts[:, 0]], rtol=1e-5)  # context vectors start at 0
    unmasked = _softmax_rows(rows[:, 0], scores[:, shared])
    assert unmasked[0, 1] > rows[0, 1] + 1e-3  # row 0's true context (3) among the shared: masked, not counted twice
    np.testing.assert_allclose(unmasked[1:], rows[1:], rtol=1e-6)
    labels = np.eye(1, 1 + negatives, dtype=np.float32).repeat(3, axis=0)
    history = model.fit((target, contexts), labels, epochs=20, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    np.testing.assert_allclose(model.predict((target, contexts), verbose=0), expected_rows(model)[0], rtol=1e-4, atol=1e-5)
    assert isinstance(model.get_layer("softmax_logits"), SharedSoftmaxLogits)
    assert context_bias(model).shape == (vocabulary,) and np.abs(context_bias(model)).sum() > 0
    model.save(tmp_path / "model.keras")
    restored = keras.saving.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(restored.predict((target, contexts), verbose=0),
                               model.predict((target, contexts), verbose=0), rtol=1e-6)
    np.testing.assert_array_equal(context_embeddings(restored), context_embeddings(model))
    np.testing.assert_array_equal(context_bias(restored), context_bias(model))
    assert context_embeddings(build_model("tied-cosine", 12, 4, 3, 0.01)) is None
    assert context_bias(build_model("sgns", 12, 4, 3, 0.01)) is None


# softmax with batch 3: 3 shared rows x 2 negatives = 6 items, so every item is a negative (the full softmax)
@pytest.mark.parametrize("architecture,batch_size", [("sgns", 2), ("softmax", 2), ("softmax", 3)])
def test_artist_vectors_are_shared_by_an_artists_tracks_and_survive_saving(tmp_path, architecture, batch_size):
    from track2vec.model import GroupedEmbedding, context_embeddings, item_embeddings

    groups = np.array([0, 0, 1, 1, -1, 2], dtype=np.int32)  # item 4 has no artist
    model = build_model(architecture, 6, 4, 2, 0.05, seed=1, batch_size=batch_size,
                        log_q=np.log(np.full(6, 1 / 6)), jit_compile=False, groups=groups)
    target = np.array([[0], [2], [4]], dtype=np.int32)
    contexts = np.array([[1, 3, 5], [3, 0, 4], [5, 1, 2]], dtype=np.int32)
    labels = np.eye(1, 3, dtype=np.float32).repeat(3, axis=0)
    model.fit((target, contexts), labels, epochs=10, verbose=0)
    layer = model.get_layer("embedding")
    assert isinstance(layer, GroupedEmbedding)
    items, artists = layer.item_table.numpy(), layer.group_table.numpy()
    vectors = item_embeddings(model)
    # a track's vector is its own plus its artist's; a track without an artist keeps its own
    np.testing.assert_allclose(vectors[[0, 1, 2, 5]], items[[0, 1, 2, 5]] + artists[[0, 0, 1, 2]], rtol=1e-6)
    np.testing.assert_allclose(vectors[4], items[4], rtol=1e-6)
    assert np.abs(artists[:3]).sum() > 0  # the artist vectors learnt
    model.save(tmp_path / "model.keras")
    restored = keras.saving.load_model(tmp_path / "model.keras")
    np.testing.assert_array_equal(item_embeddings(restored), vectors)
    np.testing.assert_array_equal(context_embeddings(restored), context_embeddings(model))


def test_artist_vectors_need_separate_context_vectors():
    with pytest.raises(ConfigError, match="tied-cosine|separate"):
        build_model("tied-cosine", 6, 4, 2, 0.05, groups=np.zeros(6, dtype=np.int32))


def test_softmax_over_a_vocabulary_no_larger_than_its_negatives_is_the_full_softmax():
    from track2vec.model import LOGITS_LAYER

    vocabulary, negatives = 5, 3  # 2 shared rows x 3 negatives = 6 >= 5 items: every item is a negative
    log_q = np.log(np.array([0.4, 0.3, 0.1, 0.1, 0.1]))
    model = build_model("softmax", vocabulary, 4, negatives, 0.05, seed=0, batch_size=2, log_q=log_q, jit_compile=False)
    assert not model.get_layer(LOGITS_LAYER).sampled
    target = np.array([[0], [1], [2]], dtype=np.int32)
    contexts = np.array([[1, 0, 0, 0], [2, 0, 0, 0], [3, 0, 0, 0]], dtype=np.int32)  # sampled negatives unused
    labels = np.eye(1, 1 + negatives, dtype=np.float32).repeat(3, axis=0)
    model.fit((target, contexts), labels, epochs=30, verbose=0)
    rows = model.predict((target, contexts), verbose=0)
    # every item is a candidate, nothing is corrected by log Q, and the row's own true context is masked among them
    targets_vectors = item_embeddings(model)[target[:, 0]]
    from track2vec.model import context_bias, context_embeddings
    expected = targets_vectors @ context_embeddings(model).T + context_bias(model)
    other = expected.copy()
    other[np.arange(3), contexts[:, 0]] = -1e9
    np.testing.assert_allclose(rows, _softmax_rows(expected[np.arange(3), contexts[:, 0]], other), rtol=1e-4, atol=1e-5)
    # trained as a next-item model: each target's true context ranks first among all items
    assert (expected.argmax(axis=1) == contexts[:, 0]).all()


def test_softmax_loss_is_the_true_contexts_negative_log_probability_and_accuracy_its_first_place():
    from track2vec.model import true_context_cross_entropy, true_context_first
    from track2vec.training import batch_labels

    logits = np.random.default_rng(0).normal(size=(4, 7)).astype("float32")
    logits[0, 0] = 5.0  # row 0's true context scores first
    rows = _softmax_rows(logits[:, 0], logits[:, 1:]).astype("float32")
    labels = batch_labels(4, 3)  # what training feeds: 1 for the true context, first
    expected = -(logits[:, 0] - np.log(np.exp(logits).sum(axis=1)))
    np.testing.assert_allclose(np.asarray(true_context_cross_entropy(labels, rows)), expected, rtol=1e-5)
    first = (logits[:, 0] >= logits[:, 1:].max(axis=1)).astype("float32")
    np.testing.assert_array_equal(np.asarray(true_context_first(labels, rows)), first)
    assert first[0] == 1.0 and first.sum() < 4


@pytest.mark.slow  # a few seconds of Keras
def test_sgd_rate_decays_linearly_over_the_run_as_word2vecs_does():
    from track2vec.config import TrainConfig
    from track2vec.corpus import build_corpus
    from track2vec.data.loaders import load_playlists
    from track2vec.model import FINAL_RATE
    from track2vec.training import Trainer

    corpus = build_corpus(load_playlists("builtin:tiny"), seed=0)

    def rates_per_epoch(**values):
        config = TrainConfig(**{"dim": 8, "batch_size": 512, "epochs": 4, **values})
        trainer = Trainer(corpus, config)
        rates = []
        trainer.fit(callbacks=[keras.callbacks.LambdaCallback(
            on_epoch_end=lambda epoch, logs: rates.append(float(trainer.model.optimizer.learning_rate)))])
        return rates

    start = 0.025 * 512 * (1 + 5)  # sgd's per-pair rate times the pairs of a step
    rates = rates_per_epoch(architecture="sgns", optimizer="sgd", learning_rate=0.025, negatives=5)
    # epochs hold about the same number of pairs: a quarter of the way down after each, the floor at the end
    np.testing.assert_allclose(rates[:3], [0.75 * start, 0.5 * start, 0.25 * start], rtol=0.05)
    assert start * FINAL_RATE * 0.999 <= rates[3] <= 0.02 * start
    assert rates_per_epoch(architecture="sgns", optimizer="sgd", learning_rate=0.025,
                           lr_schedule="constant") == pytest.approx([start] * 4)
    # count-softmax's loss is the mean over a step's rows, so sgd's per-row rate is scaled by the rows alone
    assert rates_per_epoch(architecture="count-softmax", optimizer="sgd", learning_rate=0.025, lr_schedule="constant",
                           epochs=1) == pytest.approx([0.025 * 512])
    assert rates_per_epoch(learning_rate=0.02, epochs=1) == pytest.approx([0.02])  # Adam's stays put by default
    linear_adam = rates_per_epoch(learning_rate=0.02, lr_schedule="linear", epochs=2)
    assert linear_adam[0] == pytest.approx(0.01, rel=0.05) and linear_adam[1] <= 0.02 * 0.02


def test_the_default_optimizer_is_adam_below_the_sparse_size_and_lazy_adam_from_it(monkeypatch):
    """"auto" (the default) picks by vocabulary size; a named optimizer is kept at any size."""
    import track2vec.config
    from track2vec.config import SPARSE_FROM_ITEMS, TrainConfig
    from track2vec.corpus import build_corpus
    from track2vec.data.loaders import load_playlists
    from track2vec.training import Trainer

    config = TrainConfig()
    assert config.optimizer == "auto"
    assert config.optimizer_for(SPARSE_FROM_ITEMS - 1) == "adam"
    assert config.optimizer_for(SPARSE_FROM_ITEMS) == "lazy-adam"
    assert config.optimizer_for(10 * SPARSE_FROM_ITEMS, sparse_available=False) == "adam"  # JAX has no LazyAdam
    assert TrainConfig(optimizer="adagrad").optimizer_for(10 * SPARSE_FROM_ITEMS) == "adagrad"
    assert TrainConfig(optimizer="lazy-adam").optimizer_for(10) == "lazy-adam"

    # the trainer builds its model with the resolved optimizer, on either side of the size
    corpus = build_corpus(load_playlists("builtin:tiny"), seed=0)
    small = Trainer(corpus, TrainConfig(dim=8))
    assert small.optimizer == "adam" and type(small.model.optimizer) is keras.optimizers.Adam
    monkeypatch.setattr(track2vec.config, "SPARSE_FROM_ITEMS", len(corpus.vocabulary))
    large = Trainer(corpus, TrainConfig(dim=8))
    assert large.optimizer == "lazy-adam" and isinstance(large.model.optimizer, LazyAdam)


def test_the_trainer_builds_the_softmax_with_the_configs_shared_rows():
    from track2vec.config import SHARED_NEGATIVE_ROWS, TrainConfig
    from track2vec.corpus import build_corpus
    from track2vec.data.loaders import load_playlists
    from track2vec.errors import ConfigError
    from track2vec.training import Trainer

    corpus = build_corpus(load_playlists("builtin:tiny"), seed=0)
    assert TrainConfig().resolved(len(corpus.vocabulary)).shared_rows == SHARED_NEGATIVE_ROWS
    for shared_rows in (3, SHARED_NEGATIVE_ROWS):
        trainer = Trainer(corpus, TrainConfig(architecture="softmax", dim=8, batch_size=512, shared_rows=shared_rows))
        assert trainer.model.get_layer("softmax_logits").shared_rows == shared_rows
    with pytest.raises(ConfigError, match="shared_rows must be >= 1"):
        TrainConfig(shared_rows=0)


def test_the_default_configuration_follows_the_vocabulary_size(monkeypatch):
    """"auto" and unset step settings: tied-cosine below SPARSE_FROM_ITEMS items, the large softmax from there;
    whatever is named stays, and the trainer trains (and records) the resolved configuration."""
    import track2vec.config
    from track2vec.config import SHARED_NEGATIVE_ROWS, SPARSE_FROM_ITEMS, TrainConfig, default_recipe
    from track2vec.corpus import build_corpus
    from track2vec.data.loaders import load_playlists
    from track2vec.errors import ConfigError
    from track2vec.training import Trainer

    def steps(config):
        return config.architecture, config.batch_size, config.learning_rate, config.shared_rows

    small = steps(TrainConfig().resolved(SPARSE_FROM_ITEMS - 1))
    large = steps(TrainConfig().resolved(SPARSE_FROM_ITEMS))
    assert small == ("tied-cosine", 4096, 0.02, SHARED_NEGATIVE_ROWS)
    assert large[0] == "softmax" and large[1] < small[1] and large[2] < small[2] and large[3] < SHARED_NEGATIVE_ROWS
    assert large == steps(default_recipe(SPARSE_FROM_ITEMS))
    # a named architecture keeps its name; only the large softmax takes the large step settings
    assert steps(TrainConfig(architecture="softmax").resolved(10)) == ("softmax", *small[1:])
    assert steps(TrainConfig(architecture="tied-cosine").resolved(10 * SPARSE_FROM_ITEMS)) == small
    named = TrainConfig(batch_size=100, learning_rate=0.1, shared_rows=7).resolved(10 * SPARSE_FROM_ITEMS)
    assert steps(named) == ("softmax", 100, 0.1, 7)
    resolved = TrainConfig().resolved(10)
    assert resolved.resolved(10 * SPARSE_FROM_ITEMS) == resolved  # resolving twice changes nothing
    # what "auto" cannot be: said in one line naming the choice it made
    with pytest.raises(ConfigError, match="architecture auto is tied-cosine on 10 items"):
        TrainConfig(artist_vectors=True).resolved(10)

    corpus = build_corpus(load_playlists("builtin:tiny"), seed=0)
    trainer = Trainer(corpus, TrainConfig(dim=8))
    assert steps(trainer.config) == small
    assert "softmax_logits" not in {layer.name for layer in trainer.model.layers}
    monkeypatch.setattr(track2vec.config, "SPARSE_FROM_ITEMS", len(corpus.vocabulary))
    trainer = Trainer(corpus, TrainConfig(dim=8))
    assert steps(trainer.config) == large
    assert trainer.model.get_layer("softmax_logits").shared_rows == large[3]
