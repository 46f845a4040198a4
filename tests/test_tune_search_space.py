"""The search space: paper/notebook defaults, TOML overrides, clear refusals."""

from __future__ import annotations

import optuna.distributions as od
import pytest

from track2vec.config import SHARED_NEGATIVE_ROWS, TrainConfig
from track2vec.errors import ConfigError
from tune.search_space import PARAMS, build_space, library_names, load_overrides


def write(tmp_path, text: str):
    path = tmp_path / "space.toml"
    path.write_text(text)
    return path


def test_default_space_follows_the_paper_and_covers_every_parameter():
    space = build_space()
    assert set(space.distributions) | set(space.fixed) == set(PARAMS)
    alpha, subsample = space.distributions["alpha"], space.distributions["subsample"]
    # the paper's ranges less the ends where no trial of our real-corpus studies did well
    assert (alpha.low, alpha.high, alpha.log) == (-1.0, 1.4, False)
    assert (subsample.low, subsample.high, subsample.log) == (3e-5, 1e-1, True)
    assert space.distributions["batch_size"].log and space.distributions["lr_at_batch_1024"].log
    assert space.fixed["architecture"] == "softmax"
    assert set(space.distributions["direction"].choices) == {"both", "forward"}
    assert set(space.distributions["shrink_windows"].choices) == {False, True}
    assert set(space.distributions["artist_vectors"].choices) == {False, True}
    assert space.distributions["dim"].high == 256
    # Scoring does not change training: chosen on validation in every trial, not searched.
    assert set(space.distributions["lr_schedule"].choices) == {"constant", "linear"}
    assert space.fixed == {"architecture": "softmax", "optimizer": "auto", "scoring": "auto", "popularity_weight": None,
                           "shared_rows": SHARED_NEGATIVE_ROWS, "learning_rate": None, "recency_scale": 0.0}
    assert ("learning_rate: auto (lr_at_batch_1024 x sqrt(batch_size / 1024), Adam's square-root rule)"
            in space.describe())
    assert "optimizer: auto (adam, or lazy-adam (sparse updates) on large vocabularies)" in space.describe()
    assert "popularity_weight: auto (the best on validation after each epoch)" in space.describe()
    assert "lr_schedule in ['constant', 'linear']" in space.describe()
    fixed = build_space({"lr_schedule": "auto"})
    assert "lr_schedule: auto (linear decay for sgd, constant for the others)" in fixed.describe()


def test_a_trials_learning_rate_is_the_searched_rate_of_1024_pairs_scaled_by_the_square_root_of_its_batch():
    space = build_space()
    assert space.trial_config({"lr_at_batch_1024": 0.01, "batch_size": 4096, "dim": 32}) == {
        "lr_at_batch_1024": 0.01, "batch_size": 4096, "dim": 32, "learning_rate": pytest.approx(0.02)}
    assert space.trial_config({"lr_at_batch_1024": 0.01, "batch_size": 256})["learning_rate"] == pytest.approx(0.005)
    # a batch size fixed by the config scales the sampled rate just the same
    fixed_batch = build_space({"batch_size": 1024})
    assert fixed_batch.trial_config({"lr_at_batch_1024": 0.003})["learning_rate"] == pytest.approx(0.003)
    # ... and a fixed reference rate follows the sampled batch
    fixed_rate = build_space({"lr_at_batch_1024": 0.004})
    assert fixed_rate.trial_config({"batch_size": 16384})["learning_rate"] == pytest.approx(0.016)


@pytest.mark.parametrize("named", ["learning_rate = 0.05", "learning_rate = { min = 1e-3, max = 1e-1 }"])
def test_a_config_that_names_the_learning_rate_fixes_or_searches_it_as_given(tmp_path, named):
    overrides, _ = load_overrides(write(tmp_path, named + "\n"))
    space = build_space(overrides)
    assert "lr_at_batch_1024" not in space.distributions and "lr_at_batch_1024" not in space.fixed
    assert not any(line.startswith("lr_at_batch_1024") for line in space.describe())
    sample = {"batch_size": 4096, "learning_rate": 0.05}
    assert space.trial_config(sample) == sample  # nothing derived: the rate is what the config says


def test_naming_both_learning_rates_is_refused_with_one_line(tmp_path):
    with pytest.raises(ConfigError) as error:
        load_overrides(write(tmp_path, "learning_rate = 0.05\nlr_at_batch_1024 = { min = 1e-3, max = 1e-2 }\n"))
    assert "give learning_rate or lr_at_batch_1024, not both" in str(error.value)
    assert "\n" not in str(error.value)


def test_recency_scale_is_off_unless_a_config_fixes_or_searches_it(tmp_path):
    assert build_space().fixed["recency_scale"] == 0.0 and "recency_scale" not in build_space().distributions
    overrides, _ = load_overrides(write(tmp_path, "recency_scale = { choices = [0, 3, 10] }\n"))
    space = build_space(overrides)
    assert space.distributions["recency_scale"].choices == (0, 3, 10)
    assert TrainConfig.from_dict({**space.fixed, "recency_scale": 3}).recency_scale == 3
    overrides, _ = load_overrides(write(tmp_path, "recency_scale = { min = 2, max = 50 }\n"))
    searched = build_space(overrides).distributions["recency_scale"]
    assert (searched.low, searched.high, searched.log) == (2.0, 50.0, True)


def test_the_softmaxs_shared_rows_can_be_fixed_or_searched(tmp_path):
    overrides, _ = load_overrides(write(tmp_path, "shared_rows = 64\n"))
    assert build_space(overrides).fixed["shared_rows"] == 64
    overrides, _ = load_overrides(write(tmp_path, "shared_rows = { min = 32, max = 128 }\n"))
    searched = build_space(overrides).distributions["shared_rows"]
    assert (searched.low, searched.high) == (32, 128)
    with pytest.raises(ConfigError, match="shared_rows"):
        build_space({"shared_rows": 0})


def test_the_learning_rate_schedule_can_be_searched(tmp_path):
    overrides, _ = load_overrides(write(tmp_path, 'optimizer = "sgd"\nlr_schedule = { choices = ["linear", "constant"] }\n'))
    space = build_space(overrides)
    assert set(space.distributions["lr_schedule"].choices) == {"linear", "constant"}
    assert TrainConfig.from_dict({**space.fixed, "lr_schedule": "constant"}).decays() is False
    assert TrainConfig.from_dict(space.fixed).decays() is True  # sgd's default: word2vec's linear decay
    with pytest.raises(ConfigError, match="lr_schedule"):
        build_space({"lr_schedule": "cosine"})


def test_scoring_can_be_fixed_and_the_popularity_weight_searched(tmp_path):
    overrides, _ = load_overrides(write(tmp_path, """
scoring = "target-context"
architecture = "sgns"
popularity_weight = { max = 2.0 }
shrink_windows = true
direction = { choices = ["forward"] }
"""))
    space = build_space(overrides)
    assert space.fixed["scoring"] == "target-context" and space.fixed["shrink_windows"] is True
    assert space.fixed["direction"] == "forward"
    weight = space.distributions["popularity_weight"]
    assert (weight.low, weight.high) == (0.0, 2.0)
    config = TrainConfig.from_dict({**space.fixed, "popularity_weight": 1.5, "dim": 8})
    assert config.scoring_methods() == ("target-context",) and config.popularity_weights() == (1.5,)
    auto, _ = load_overrides(write(tmp_path, 'popularity_weight = "auto"'))
    assert build_space(auto).fixed["popularity_weight"] is None


@pytest.mark.parametrize("text, message", [
    ("shrink_windows = 1", "expected true or false"),
    ("scoring = \"dot\"", "not one of auto, cosine, target-context"),
    ("direction = { min = 1, max = 2 }", "categorical"),
    ("popularity_weight = -0.5", "must be >= 0"),
])
def test_bad_new_parameters_are_refused_in_one_line(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_overrides(write(tmp_path, text))


def test_default_choices_are_names_the_library_accepts():
    from tune import search_space

    assert search_space.DEFAULT_ARCHITECTURE in library_names("ARCHITECTURES")
    assert search_space.DEFAULT_OPTIMIZER in library_names("OPTIMIZER_CHOICES")


def test_every_point_of_the_space_is_a_valid_train_config():
    space = build_space()
    lows = {name: (d.choices[0] if isinstance(d, od.CategoricalDistribution) else d.low)
            for name, d in space.distributions.items()}
    highs = {name: (d.choices[-1] if isinstance(d, od.CategoricalDistribution) else d.high)
             for name, d in space.distributions.items()}
    for point in (lows, highs):
        TrainConfig.from_dict({**point, **space.fixed})


def test_toml_fixes_values_and_overrides_ranges(tmp_path):
    overrides, text = load_overrides(write(tmp_path, """
architecture = "sgns"
dim = { min = 32, max = 64 }
alpha = { min = -1.0, max = 1.0 }
optimizer = { choices = ["adam", "adagrad"] }
window = { min = 5, max = 5 }
learning_rate = { min = 0.001, max = 0.01, log = false }
"""))
    assert "sgns" in text
    space = build_space(overrides)
    assert space.fixed["architecture"] == "sgns" and space.fixed["window"] == 5
    dim = space.distributions["dim"]
    assert (dim.low, dim.high, dim.log) == (32, 64, True)  # log scale kept from the default
    assert space.distributions["alpha"].low == -1.0
    assert space.distributions["optimizer"].choices == ("adam", "adagrad")
    assert space.distributions["learning_rate"].log is False


@pytest.mark.parametrize("text, message", [
    ("colour = 3", "unknown parameter 'colour'"),
    ("window = -2", "window: must be >= 1"),
    ("window = { min = 0, max = 3 }", "window.min: must be >= 1"),
    ("dim = { min = 64, max = 32 }", "min (64) is greater than max (32)"),
    ("dim = 'big'", "dim: expected a number"),
    ("dim = 12.5", "expected an integer"),
    ("alpha = true", "expected a number"),
    ("architecture = 'cbow'", "'cbow' is not one of"),
    ("architecture = { min = 1, max = 2 }", "categorical parameter"),
    ("learning_rate = 0", "must be > 0"),
    ("subsample = { min = 0, max = 0.1 }", "log-scale range needs min > 0"),
    ("dim = { low = 1 }", "unknown key(s) low"),
    ("optimizer = { choices = [] }", "non-empty list"),
    ("min_count = 5", "per-study setting"),
    ("epochs = 5", "--max-epochs"),
    ("window = [", "invalid TOML"),
])
def test_invalid_files_are_refused_with_one_clear_line(tmp_path, text, message):
    with pytest.raises(ConfigError) as error:
        load_overrides(write(tmp_path, text))
    assert message in str(error.value)
    assert "\n" not in str(error.value)
    assert str(tmp_path / "space.toml") in str(error.value)


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_overrides(tmp_path / "nope.toml")


def test_artist_vectors_are_searched_only_where_they_can_act(tmp_path):
    assert build_space(artists=False).fixed["artist_vectors"] is False  # a corpus without artists
    assert "artist_vectors" not in build_space(artists=False).distributions
    tied = build_space({"architecture": "tied-cosine"})  # one shared table: no context side to add to
    assert tied.fixed["artist_vectors"] is False and "artist_vectors" not in tied.distributions
    assert build_space({"artist_vectors": True}).fixed["artist_vectors"] is True
    with pytest.raises(ConfigError, match="artist_vectors: the corpus names no artists"):
        build_space({"artist_vectors": True}, artists=False)
    with pytest.raises(ConfigError, match="artist_vectors: architecture tied-cosine"):
        build_space({"artist_vectors": {"choices": [False, True]}, "architecture": {"choices": ["sgns", "tied-cosine"]}})
    assert build_space({"artist_vectors": False}, artists=False).fixed["artist_vectors"] is False
    rows = build_space({"architecture": {"choices": ["softmax", "count-softmax"]}})  # counted rows: no artists
    assert rows.fixed["artist_vectors"] is False and "artist_vectors" not in rows.distributions


def test_count_softmax_is_searched_only_within_the_window_its_rows_can_count():
    assert "window" in build_space({"architecture": "count-softmax"}).distributions  # the default 1..10
    with pytest.raises(ConfigError, match="window: architecture count-softmax counts its rows up to a window of 10, "
                                          "and the window reaches 12"):
        build_space({"architecture": {"choices": ["softmax", "count-softmax"]}, "window": {"min": 2, "max": 12}})
    with pytest.raises(ConfigError, match="reaches 11"):
        build_space({"architecture": "count-softmax", "window": 11})
    assert build_space({"window": {"min": 2, "max": 12}}).distributions["window"].high == 12  # softmax has no bound


def test_a_count_softmax_space_fixes_the_pair_sampling_and_searches_its_rows_per_step_only_when_asked():
    rows = build_space({"architecture": "count-softmax"})
    assert not {"negatives", "alpha", "subsample", "batch_size"} & set(rows.distributions)
    assert rows.fixed["batch_size"] == 512 and rows.fixed["negatives"] == 5
    with pytest.raises(ConfigError, match="negatives: architecture count-softmax trains on counted rows"):
        build_space({"architecture": "count-softmax", "negatives": {"min": 1, "max": 5}})
    searched = build_space({"architecture": "count-softmax", "batch_size": {"min": 128, "max": 1024}})
    assert (searched.distributions["batch_size"].low, searched.distributions["batch_size"].high) == (128, 1024)
    assert build_space({"architecture": "count-softmax", "batch_size": 256}).fixed["batch_size"] == 256
    # the study's header names the settings it does not read once, rather than as fixed values
    described = rows.describe()
    assert described[-1] == ("negatives, alpha, subsample, shared_rows, recency_scale: not read by count-softmax "
                              "(counted rows, not sampled pairs)")
    assert not any(line.startswith(("negatives =", "alpha =", "subsample =")) for line in described)
    assert "negatives in [1, 20]" in build_space({}).describe()
    # beside a pair model, every setting is searched as before
    assert "negatives" in build_space({"architecture": {"choices": ["softmax", "count-softmax"]}}).distributions


def test_a_space_with_nothing_left_to_search_is_refused_in_one_line():
    # every searched parameter of the default space fixed at one of its values
    everything_fixed = {name: (dist.choices[0] if hasattr(dist, "choices") else dist.low)
                        for name, dist in build_space().distributions.items()}
    with pytest.raises(ConfigError, match="every hyperparameter is fixed, so there is nothing to search"):
        build_space(everything_fixed)
    # one parameter left to search is enough
    del everything_fixed["dim"]
    assert set(build_space(everything_fixed).distributions) == {"dim"}
