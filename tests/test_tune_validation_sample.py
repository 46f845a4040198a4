"""A trial scores its epochs on the study's seeded validation sample (the trainable, without a Ray cluster)."""

from __future__ import annotations

import numpy as np
import pytest


def test_the_driver_hands_trials_the_sample_size_of_the_corpus_vocabulary():
    from track2vec.corpus import build_corpus
    from track2vec.data.loaders import load_playlists
    from tune import driver
    from tune.spec import StudySpec

    corpus = build_corpus(load_playlists("builtin:tiny"), 2, 10_000, 10_000, 0)
    auto = StudySpec(name="auto")
    assert driver._settings(auto, corpus).validation_sample == auto.trial_validation_sample(len(corpus.vocabulary))
    assert driver._settings(auto, corpus).validation_sample >= len(corpus.validation_pairs)  # small: all pairs
    assert driver._settings(StudySpec(name="fixed", validation_sample=100), corpus).validation_sample == 100


@pytest.mark.slow  # an epoch of Keras
def test_a_trial_scores_each_epoch_on_the_studys_seeded_sample(monkeypatch):
    from ray import tune as ray_tune

    import track2vec.training
    from track2vec.corpus import build_corpus, validation_sample
    from track2vec.data.loaders import load_playlists
    from tune import trainable

    corpus = build_corpus(load_playlists("builtin:tiny"), 2, 10_000, 10_000, 0)
    trainers, reports = [], []

    class Recording(track2vec.training.Trainer):
        def choose_scoring(self):
            trainers.append(self)
            return super().choose_scoring()

    monkeypatch.setattr(track2vec.training, "Trainer", Recording)
    monkeypatch.setattr(ray_tune, "get_checkpoint", lambda: None)
    monkeypatch.setattr(ray_tune, "report", lambda metrics, checkpoint=None: reports.append(metrics))
    monkeypatch.setattr(trainable, "_where", lambda: {})
    settings = trainable.TrialSettings(max_epochs=1, seed=5, cpus_per_trial=1.0, gpus_per_trial=0.0,
                                       validation_sample=100)
    # a repeat's own seed changes the training, not the pairs: the study's seed draws them
    trainable.train_trial({"architecture": "sgns", "dim": 8, "batch_size": 512, trainable.SEED_KEY: 9},
                          corpus, settings)

    expected = validation_sample(corpus.validation_pairs, 100, 5)
    assert len(expected) == 100 < len(corpus.validation_pairs)
    (trainer,) = trainers
    np.testing.assert_array_equal(trainer.validation_pairs, expected)
    (report,) = reports
    sampled = trainer.evaluate(expected, trainer.scoring)
    assert report[trainable.METRIC] == pytest.approx(sampled.ndcg) and report["seed"] == 9
    assert report["optimizer"] == trainer.optimizer == "adam"  # the default ("auto"), resolved, is reported
