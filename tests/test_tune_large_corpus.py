"""On a very large corpus the default space trains word2vec's recipe (sgns, sgd, linear decay), and says so."""

from __future__ import annotations

import json

import pytest

from tune import large_corpus
from tune.large_corpus import RECIPE_FROM_TOKENS, WORD2VEC_RECIPE, large_corpus_recipe
from tune.testing import FAST_SPACE_TOML, free_port, results, trial_dirs


def test_below_the_threshold_the_default_space_stands():
    assert large_corpus_recipe({}, RECIPE_FROM_TOKENS - 1) is None


def test_from_the_threshold_the_space_trains_sgns_with_sgd_and_a_decaying_rate():
    recipe = large_corpus_recipe({"dim": {"min": 8, "max": 32}}, RECIPE_FROM_TOKENS)
    # sgd's rate is word2vec's per pair: searched itself, not scaled with the batch as Adam's
    assert dict(recipe.fixed) == {"architecture": "sgns", "optimizer": "sgd", "lr_schedule": "linear",
                                  "negatives": {"min": 1, "max": 5}, "learning_rate": {"min": 1e-3, "max": 1e-1}}
    assert f"{RECIPE_FROM_TOKENS:,} training tokens" in recipe.describe()
    assert "architecture = 'sgns'" in recipe.describe() and "negatives in 1-5" in recipe.describe()


@pytest.mark.parametrize("named", [{"architecture": "softmax"}, {"optimizer": "lazy-adam"},
                                   {"architecture": {"choices": ["softmax", "sgns"]}}])
def test_a_config_that_chooses_the_model_keeps_its_choice(named):
    assert large_corpus_recipe(named, 10 * RECIPE_FROM_TOKENS) is None


def test_the_users_own_rate_schedule_and_negatives_are_kept():
    recipe = large_corpus_recipe({"lr_schedule": "constant", "negatives": {"min": 5, "max": 15},
                                  "learning_rate": 0.025}, RECIPE_FROM_TOKENS)
    assert dict(recipe.fixed) == {"architecture": "sgns", "optimizer": "sgd"}


def test_a_user_who_searches_the_rate_of_1024_pairs_keeps_it():
    recipe = large_corpus_recipe({"lr_at_batch_1024": {"min": 1e-3, "max": 1e-2}}, RECIPE_FROM_TOKENS)
    assert "learning_rate" not in recipe.fixed


def test_a_large_corpus_study_records_the_recipe_and_its_trials_train_it(tmp_path, monkeypatch, capsys, no_ray_left):
    """A real study, with the threshold lowered below builtin:tiny's tokens: the header says what was fixed,
    study.json keeps it (so resume searches the same space), and every trial trained sgns with sgd."""
    from tune.cli import main

    monkeypatch.setattr(large_corpus, "RECIPE_FROM_TOKENS", 1_000)
    config = tmp_path / "space.toml"
    config.write_text(FAST_SPACE_TOML)
    storage, name = tmp_path / "studies", "large"
    code = main(["run", "--data", "builtin:tiny", "--config", str(config), "--trials", "2", "--max-epochs", "1",
                 "--storage", str(storage), "--name", name, "--dashboard-port", str(free_port())])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "large corpus: " in out and "from 1,000): the space trains word2vec's recipe" in out
    assert "architecture = 'sgns' (fixed)" in out and "optimizer = 'sgd' (fixed)" in out
    overrides = json.loads((storage / name / "study.json").read_text())["overrides"]
    assert {key: overrides[key] for key in WORD2VEC_RECIPE} == WORD2VEC_RECIPE
    trials = trial_dirs(storage / name)
    assert len(trials) == 2
    for path in trials.values():
        config_of_trial = results(path)[-1]["config"]
        assert {key: config_of_trial[key] for key in ("architecture", "optimizer", "lr_schedule")} == {
            "architecture": "sgns", "optimizer": "sgd", "lr_schedule": "linear"}
        assert 1 <= config_of_trial["negatives"] <= 5
    # At this size the blend counts SR alone: AR's matrix would double what the export holds.
    info = json.loads((storage / name / "export" / "model.json").read_text())
    assert info["blend"]["weight"] > 0 and "ar_weight" not in info["blend"] and "counts_ar_weight" not in info["blend"]
    assert "counts_val_ndcg_at_10" not in info["metrics"] and "blend_val_ndcg_at_10" in info["metrics"]
