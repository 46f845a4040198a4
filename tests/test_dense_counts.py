"""The study rule that trains count-softmax where a corpus's counts are dense (tune/dense_counts.py), and
count-softmax in a space beside a pair model: its trials keep their own rows per step."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from track2vec.config import COUNT_ROWS_RECIPE, TrainConfig
from track2vec.corpus import Corpus
from track2vec.memory import estimate_peak_mib
from track2vec.vocabulary import Vocabulary
from tune.dense_counts import EpochCosts, dense_counts_rule
from tune.memory import MemoryLimit, cap_to_memory
from tune.search_space import build_space

BOTH = {"architecture": {"choices": ["softmax", "count-softmax"]}}


def cycles(n=600, length=8, items=30, seed=0):
    """Many playlists over few items (dense counts), each stepping i -> i + 1 (mod items) from a random start."""
    rng = np.random.default_rng(seed)
    return [[f"t{(start + step) % items}" for step in range(length)] for start in rng.integers(items, size=n)]


def test_the_rule_fires_where_counted_rows_cost_no_more_than_sampled_pairs():
    dense = dense_counts_rule({}, items=3_000, training_tokens=400_000, artists=False)
    assert dense.overrides == {"architecture": "count-softmax"}
    assert dense.costs.rows <= dense.costs.pairs
    assert dense.describe() == ("dense counts: 400,000 training items over 3,000 items, so an epoch of "
                                "count-softmax's counted rows costs 0.12x one of softmax's sampled pairs: the study "
                                "trains count-softmax (its rows hold what the pairs sample)")
    # Rows cost items squared, pairs the corpus's length: many more items over the same corpus tip it.
    assert dense_counts_rule({}, items=40_000, training_tokens=400_000, artists=False) is None
    sparse = EpochCosts(40_000, 400_000)
    assert sparse.rows > sparse.pairs and sparse.ratio > 1


@pytest.mark.parametrize("overrides", [{"architecture": "softmax"}, {"architecture": {"choices": ["softmax", "sgns"]}},
                                       {"negatives": {"min": 1, "max": 5}}, {"subsample": 1e-3},
                                       {"recency_scale": 0.0}, {"artist_vectors": False},
                                       {"window": {"min": 1, "max": 12}}])
def test_a_config_for_the_pair_models_keeps_them(overrides):
    """A config that names the architecture, a setting only the pair models read, or windows beyond the counts'
    reach is a config for the pair models: the rule leaves it alone (count-softmax would refuse or ignore it)."""
    assert dense_counts_rule(overrides, items=3_000, training_tokens=400_000, artists=False) is None
    assert dense_counts_rule({"dim": {"min": 8, "max": 64}, "window": {"min": 1, "max": 10}}, items=3_000,
                             training_tokens=400_000, artists=False) is not None


def test_a_corpus_with_artists_keeps_the_pair_models_and_their_artist_vectors():
    assert dense_counts_rule({}, items=3_000, training_tokens=400_000, artists=True) is None


def test_a_count_softmax_trial_beside_a_pair_model_takes_its_own_rows_per_step():
    space = build_space(BOTH)
    assert space.count_rows_batch == COUNT_ROWS_RECIPE["batch_size"]
    sample = {"batch_size": 8192, "lr_at_batch_1024": 0.004}
    rows = space.trial_config({**sample, "architecture": "count-softmax"})
    assert rows["batch_size"] == 512 and rows["learning_rate"] == pytest.approx(0.004 * math.sqrt(512 / 1024))
    pairs = space.trial_config({**sample, "architecture": "softmax"})
    assert pairs["batch_size"] == 8192 and pairs["learning_rate"] == pytest.approx(0.004 * math.sqrt(8))
    # A config that names batch_size makes it every trial's step, pairs or rows.
    named = build_space({**BOTH, "batch_size": {"min": 256, "max": 2048}})
    assert named.count_rows_batch is None
    assert named.trial_config({**sample, "architecture": "count-softmax"})["batch_size"] == 8192
    assert build_space({}).count_rows_batch is None and build_space({"architecture": "count-softmax"}).count_rows_batch is None


def test_the_memory_cap_counts_count_softmax_trials_at_their_own_rows_per_step():
    """count-softmax's step holds [rows x items] labels: at the space's largest batch it would dwarf the
    softmax's, so counting it there would lower the pair models' batch_size for nothing."""
    items = 20_000
    vocabulary = Vocabulary(np.array([f"t{i}" for i in range(items)]), np.ones(items, dtype=np.int64))
    pairs = np.zeros((1, 2), dtype=np.int32)
    corpus = Corpus(vocabulary, np.zeros(10, np.int32), np.array([0, 10]), pairs, pairs, seed=0)
    largest = {"dim": 256, "batch_size": 16384, "negatives": 20, "shared_rows": 128}
    softmax = TrainConfig(architecture="softmax", optimizer="adam", **largest)
    limit = MemoryLimit(estimate_peak_mib(softmax, items, corpus.nbytes) + 1, "--max-trial-memory")
    assert estimate_peak_mib(TrainConfig(architecture="count-softmax", optimizer="adam", **largest), items,
                             corpus.nbytes) > limit.mib
    assert cap_to_memory(build_space(BOTH), corpus, limit) == cap_to_memory(build_space({}), corpus, limit) == ({}, None)


@pytest.mark.slow
def test_a_study_on_a_dense_corpus_trains_count_softmax_and_says_why(tmp_path, capsys, no_ray_left):
    """A real study with the default architecture: the header says why count-softmax is trained, study.json
    keeps the choice (so resume searches the same space), and its trials train count-softmax's rows."""
    from tune.testing import results, study_of_sessions, trial_dirs

    space = "dim = { min = 8, max = 16 }\nwindow = { min = 1, max = 2 }\n"
    out, study = study_of_sessions(tmp_path, cycles(), space, "dense", capsys)
    assert "dense counts:" in out and "the study trains count-softmax" in out
    overrides = json.loads((study / "study.json").read_text())["overrides"]
    assert overrides["architecture"] == "count-softmax"
    for path in trial_dirs(study).values():
        config = results(path)[-1]["config"]
        assert config["architecture"] == "count-softmax" and config["batch_size"] == COUNT_ROWS_RECIPE["batch_size"]


def test_the_table_leaves_blank_the_pair_sampling_settings_a_count_softmax_trial_did_not_read():
    from tune.comparison import Comparison
    from tune.reader import TrialRow
    from tune.search_space import PARAMS
    from tune.table import format_cell, row_values

    drawn = {**dict.fromkeys(PARAMS), "dim": 16, "negatives": 7, "alpha": 0.5, "subsample": 1e-3, "batch_size": 512}

    def cells(architecture):
        row = TrialRow("t", "completed", 3, {**drawn, "architecture": architecture}, best_val_ndcg=0.2)
        values = row_values(row, None, Comparison())
        return {name: format_cell(name, values[name]) for name in ("dim", "batch_size", "negatives", "alpha", "subsample")}

    assert cells("count-softmax") == {"dim": "16", "batch_size": "512", "negatives": "–", "alpha": "–", "subsample": "–"}
    assert cells("softmax") == {"dim": "16", "batch_size": "512", "negatives": "7", "alpha": "0.50",
                                "subsample": "1.00e-03"}


@pytest.mark.parametrize("ends_differ", [True, False])
def test_the_playlist_ends_rule_comes_first_and_the_dense_counts_rule_where_it_does_not_fire(ends_differ):
    """On the same dense corpus: where the last steps differ, the study searches their weighting with the pair
    models (count-softmax would not read it); where they do not, it trains count-softmax."""
    from tests.test_playlist_ends import corpus_of, walks
    from tune.run import fit_space_to_corpus
    from tune.spec import StudySpec

    spec, notes = fit_space_to_corpus(StudySpec(name="dense"), corpus_of(walks(ends_differ)))
    if ends_differ:
        assert "architecture" not in spec.overrides and "recency_scale" in spec.overrides
        assert notes[0].startswith("playlist ends weigh more")
    else:
        assert spec.overrides == {"architecture": "count-softmax"} and notes[0].startswith("dense counts:")
