"""count-softmax: the softmax model trained on each item's counted co-occurrence row (track2vec.count_rows)."""

from __future__ import annotations

import numpy as np
import pytest

from track2vec.baselines import RuleSettings, weighted_counts, weighted_rule_counts
from track2vec.config import TrainConfig
from track2vec.corpus import build_corpus
from track2vec.count_rows import PASSES_PER_EPOCH, ROW_WEIGHT_POWER, CountRows, rule_settings
from track2vec.data.loaders import load_playlists
from track2vec.data.playlists import Playlists
from track2vec.errors import ConfigError
from track2vec.memory import step_bytes


@pytest.fixture(scope="module")
def tiny():
    return build_corpus(load_playlists("builtin:tiny"), 2, 200, 200, 0)


def _rows(corpus, **settings) -> CountRows:
    return CountRows(corpus, TrainConfig(architecture="count-softmax", **settings).resolved(len(corpus.vocabulary)))


@pytest.mark.parametrize("settings, expected", [
    ({"direction": "forward", "window": 3, "shrink_windows": True}, RuleSettings("sr", 3, "div")),
    ({"direction": "both", "window": 2, "shrink_windows": False}, RuleSettings("ar", 2, "same")),
])
def test_the_rows_are_the_counted_baselines_rows_that_the_window_describes(tiny, settings, expected):
    assert rule_settings(TrainConfig(architecture="count-softmax", **settings)) == expected
    rows = _rows(tiny, **settings)
    counts = weighted_counts(weighted_rule_counts(tiny.tokens, tiny.offsets, len(tiny.vocabulary), expected))
    totals = np.asarray(counts.sum(axis=1)).ravel()
    np.testing.assert_array_equal(rows.queries, np.flatnonzero(totals > 0))
    # each row is its item's counts as a distribution over every item
    expected_labels = counts[rows.queries].toarray() / totals[rows.queries, None]
    np.testing.assert_allclose(rows.labels.toarray(), expected_labels, rtol=1e-6)
    # frequent queries weigh more, less than in proportion
    weights = totals[rows.queries] ** ROW_WEIGHT_POWER
    np.testing.assert_allclose(rows.weights, weights / weights.mean(), rtol=1e-5)
    assert rows.pair_count() == PASSES_PER_EPOCH * counts.nnz


def test_a_full_rank_model_that_holds_its_rows_ranks_as_the_counted_baseline_does(tiny):
    """What count-softmax fits is the counts' ranking: target vectors one-hot, context vectors the log of each
    row's labels and a bias that orders equal labels by popularity (as the baselines order equal counts) score,
    under the evaluation's target-context ranking, the counted baseline's own validation NDCG@10."""
    from track2vec.baselines import ranks_by_rules
    from track2vec.evaluation import evaluate_scorings, metrics_from_ranks

    config = TrainConfig(architecture="count-softmax", direction="forward", window=3, shrink_windows=True)
    counts = weighted_counts(weighted_rule_counts(tiny.tokens, tiny.offsets, len(tiny.vocabulary),
                                                  rule_settings(config)))
    baseline = metrics_from_ranks(ranks_by_rules(counts, tiny.validation_pairs)).ndcg
    rows = _rows(tiny, direction="forward", window=3, shrink_windows=True)
    size = len(tiny.vocabulary)
    labels = np.zeros((size, size))
    labels[rows.queries] = rows.labels.toarray()
    # Item ids are ordered by popularity: a bias falling with the id, smaller than the gap between any two
    # labels' logs in a row, orders equal labels (zeros included) by popularity and no others.
    tie_break = 1e-6
    gaps = [np.diff(np.unique(np.log(row[row > 0]))) for row in labels]
    assert size * tie_break < min(gap.min() for gap in gaps if len(gap))
    (scored,) = evaluate_scorings(np.eye(size, dtype=np.float32), tiny.counts, tiny.validation_pairs,
                                  np.log(labels.T + 1e-9).astype(np.float32), methods=("target-context",),
                                  popularity_weights=(0.0,), context_bias=-tie_break * np.arange(size, dtype=np.float32))
    assert scored.metrics.ndcg == pytest.approx(baseline, abs=1e-12)


def test_an_epoch_passes_over_every_row_in_an_order_its_seed_and_number_fix(tiny):
    rows = _rows(tiny, batch_size=64, seed=3)
    batches = list(rows.batches(epoch=2))
    per_pass = -(-len(rows.queries) // 64)
    assert len(batches) == rows.steps_per_epoch() == PASSES_PER_EPOCH * per_pass
    for queries, labels, weights in batches:
        assert queries.shape == (64, 1) and labels.shape == (64, len(tiny.vocabulary)) and weights.shape == (64,)
        np.testing.assert_allclose(labels.sum(axis=1), 1.0, rtol=1e-5)
    first_pass = np.concatenate([queries[:, 0] for queries, _, _ in batches[:per_pass]])
    assert set(first_pass.tolist()) == set(rows.queries.tolist())
    again = list(_rows(tiny, batch_size=64, seed=3).batches(epoch=2))
    assert all((a[0] == b[0]).all() for a, b in zip(batches, again))
    other_epoch = next(rows.batches(epoch=3))[0]
    assert not (other_epoch == batches[0][0]).all()


def test_settings_it_cannot_train_are_refused_when_the_config_is_made():
    with pytest.raises(ConfigError, match="window of 10"):
        TrainConfig(architecture="count-softmax", window=11)
    with pytest.raises(ConfigError, match="artist_vectors"):
        TrainConfig(architecture="count-softmax", artist_vectors=True)
    resolved = TrainConfig(architecture="count-softmax").resolved(100_000)
    assert (resolved.batch_size, resolved.learning_rate) == (512, 0.003)
    # its step holds [batch, items] soft labels: the memory estimate grows with the vocabulary
    small, large = (step_bytes(TrainConfig(architecture="count-softmax"), size) for size in (10_000, 40_000))
    assert large == 4 * small >= 512 * 40_000 * 4


def test_a_corpus_where_no_item_has_a_neighbour_within_the_window_is_refused():
    playlists = Playlists.from_lists([["a", "b", "a"], ["b", "a", "b"]] * 3, source="t")
    corpus = build_corpus(playlists, 1, 1, 0, 0)
    corpus.offsets = np.arange(len(corpus.tokens) + 1)  # every training playlist one item long
    with pytest.raises(ConfigError, match="no item has another within 2 positions"):
        _rows(corpus, window=2)


@pytest.mark.slow
def test_it_learns_what_follows_each_item_where_the_sequences_say_it_exactly():
    """Playlists walking one cycle of items: each item has exactly one successor, which forward rows of
    window 1 hold alone; the trained model must rank that successor first for every validation query."""
    from track2vec.training import Trainer

    rng = np.random.default_rng(0)
    cycle = [f"i{n}" for n in rng.permutation(40)]
    playlists = [[cycle[(start + step) % 40] for step in range(int(rng.integers(4, 12)))]
                 for start in rng.integers(0, 40, size=400)]
    corpus = build_corpus(Playlists.from_lists(playlists, source="cycle"), 1, 50, 0, 0)
    config = TrainConfig(architecture="count-softmax", direction="forward", window=1, dim=16, epochs=8,
                         learning_rate=0.05, scoring="target-context", popularity_weight=0.0)
    trainer = Trainer(corpus, config)
    history = trainer.fit()
    assert history.history["val_ndcg_at_10"][-1] == pytest.approx(1.0)
    assert trainer.context_bias() is not None and trainer.context_embeddings().shape == (40, 16)


@pytest.mark.slow
def test_a_study_of_count_softmax_searches_what_its_rows_read_and_exports_its_winner(tmp_path, capsys, no_ray_left):
    """A real study with ``architecture = "count-softmax"``: the pair sampling settings are fixed, not searched,
    a step takes count-softmax's rows, every trial trains it, and the winner's export carries its bias for
    ``recommend``."""
    import json

    from track2vec.recommend import Recommender
    from tune.cli import main
    from tune.testing import free_port, results, trial_dirs

    config = tmp_path / "space.toml"
    config.write_text('architecture = "count-softmax"\ndim = { min = 8, max = 32 }\nwindow = { min = 1, max = 4 }\n')
    storage, name = tmp_path / "studies", "rows"
    code = main(["run", "--data", "builtin:tiny", "--config", str(config), "--trials", "2", "--max-epochs", "2",
                 "--storage", str(storage), "--name", name, "--dashboard-port", str(free_port())])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "batch_size = 512 (fixed)" in out and "negatives in" not in out and "negatives = " not in out
    assert "negatives, alpha, subsample, shared_rows, recency_scale: not read by count-softmax" in out
    trials = trial_dirs(storage / name)
    assert len(trials) == 2
    for path in trials.values():
        trial = results(path)[-1]["config"]
        assert trial["architecture"] == "count-softmax" and trial["batch_size"] == 512 and 8 <= trial["dim"] <= 32
    export = storage / name / "export"
    info = json.loads((export / "model.json").read_text())
    assert info["hyperparameters"]["architecture"] == "count-softmax"
    assert (export / "context_bias.npy").is_file()
    recommender = Recommender.from_export(export)
    suggestions = recommender.complete([str(recommender.items[0])], k=5)
    assert len(suggestions) == 5
