"""A trial's checkpoint restores the model, its optimizer state and the epoch count (no Ray)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from track2vec.scoring import Vectors
from tune.search_space import library_names
from tune.trainable import TrialProgress, load_checkpoint, save_checkpoint


@pytest.fixture(scope="module")
def corpus():
    from track2vec.corpus import build_corpus
    from track2vec.data.loaders import load_playlists

    return build_corpus(load_playlists("builtin:tiny"), 2, 10_000, 10_000, 0)


pytestmark = pytest.mark.slow  # a few seconds of Keras per case

CASES = [("sgns", name) for name in library_names("OPTIMIZERS")] + [("tied-cosine", "adam"), ("softmax", "adam"),
                                                                    ("count-softmax", "adam")]


@pytest.mark.parametrize("architecture, optimizer", CASES)
def test_checkpoint_round_trip_continues_training(tmp_path, corpus, architecture, optimizer):
    from track2vec.config import TrainConfig
    from track2vec.training import Trainer

    config = TrainConfig(architecture=architecture, optimizer=optimizer, dim=16, batch_size=512, epochs=2)
    trainer = Trainer(corpus, config)
    trainer.fit(epochs=1)
    progress = TrialProgress(epoch=1, best_epoch=1, best_val_ndcg_at_10=0.5, wall_seconds=1.0,
                             best_scoring=trainer.scoring.as_dict())
    best = Vectors(trainer.embeddings(), trainer.context_embeddings(), trainer.context_bias())
    save_checkpoint(tmp_path, trainer.model, best, progress, time.perf_counter())

    restored_progress, model, restored_best = load_checkpoint(tmp_path)
    assert restored_progress.epoch == 1 and restored_progress.best_epoch == 1
    assert restored_progress.wall_seconds > 1.0
    assert restored_progress.best_scoring == trainer.scoring.as_dict()
    np.testing.assert_array_equal(restored_best.embeddings, best.embeddings)
    if architecture == "tied-cosine":
        assert restored_best.context_embeddings is None
    else:
        np.testing.assert_array_equal(restored_best.context_embeddings, best.context_embeddings)
    with_bias = architecture in ("softmax", "count-softmax")
    assert (restored_best.context_bias is None) == (not with_bias)
    if with_bias:
        np.testing.assert_array_equal(restored_best.context_bias, best.context_bias)
    assert int(model.optimizer.iterations.numpy()) == int(trainer.model.optimizer.iterations.numpy()) > 0
    for saved, loaded in zip(trainer.model.optimizer.variables, model.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(saved), np.asarray(loaded))
    # sgd's decaying rate goes on from where it was, not from its start
    assert float(model.optimizer.learning_rate) == pytest.approx(float(trainer.model.optimizer.learning_rate))

    history = Trainer(corpus, config, model=model).fit(epochs=2, initial_epoch=1)
    assert history.history["epoch"] == [2]
