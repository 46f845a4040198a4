"""The comparison series: one typed object behind model.json's flat keys, the summary and trials.md."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from track2vec.scoring import Scoring, Vectors

from tune.comparison import ONE_NUMBER, Comparison, Score
from tune.evaluation import Evaluation
from tune.reader import TrialRow
from tune.search_space import PARAMS
from tune.spec import StudySpec
from tune.study import Study
from tune.table import status_report, summary_lines, trials_markdown

FLAT = {  # model.json's "metrics" as track2vec-tune has always written them
    "popularity_val_ndcg_at_10": 0.04, "popularity_val_hr_at_10": 0.1,
    "popularity_test_ndcg_at_10": 0.03, "popularity_test_hr_at_10": 0.09,
    "oracle_ndcg_at_10": 0.25, "oracle_hr_at_10": 0.4,
    "winner_val_ndcg_at_10": 0.15, "winner_val_hr_at_10": 0.3,
    "winner_test_ndcg_at_10": 0.14, "winner_test_hr_at_10": 0.28,
}


def test_flat_keys_read_back_into_series_with_the_winner_first():
    comparison = Comparison.from_metrics({**FLAT, "val_ndcg_at_10": 0.2, "seconds": 3.0})
    assert list(comparison.series) == ["winner", "popularity", "oracle"]
    assert comparison.score("popularity", "test") == Score(0.03, 0.09)
    assert comparison.score("oracle", "val") == comparison.score("oracle", "test") == Score(0.25, 0.4)
    assert comparison.per_split() == ["winner", "popularity"] and comparison.one_number() == ["oracle"]
    assert comparison.to_metrics() == FLAT


def evaluation(comparison: Comparison) -> Evaluation:
    params = {**dict.fromkeys(PARAMS), "dim": 16}  # the reader gives every parameter
    winner = TrialRow("w1", "completed", 3, params, best_val_ndcg=0.15, best_val_hr=0.3, best_epoch=2)
    return Evaluation(Study("/studies", "s"), StudySpec(name="s", trials=1, max_epochs=3), [winner], winner,
                      comparison=comparison)


def test_an_ensembles_winning_trial_is_named_with_its_own_scoring_and_the_ensemble_with_its():
    found = evaluation(Comparison.from_metrics(FLAT))
    found.winner = replace(found.winner, best_scoring="symmetric + 0.5 log(count)")
    partner = TrialRow("w2", "completed", 3, dict(found.winner.params), best_val_ndcg=0.14, best_val_hr=0.3,
                       best_epoch=3, best_scoring="target-context")
    found.ensemble = [found.winner, partner]
    found.winner_vectors = Vectors(np.zeros((4, 32), dtype=np.float32))
    found.winner_scoring = Scoring("symmetric", 1.5)
    lines = summary_lines(found)
    trial_line = next(line for line in lines if line.startswith("Winner (chosen on validation only)"))
    assert trial_line.endswith("ranking by symmetric + 0.5 log(count).")
    ensemble_line = next(line for line in lines if line.startswith("The winner is an ensemble"))
    assert ensemble_line.endswith("ranking by symmetric + 1.5 log(count).")


def test_a_new_series_needs_only_its_scores():
    """A series with scores and no label ("gru4rec", say): scores added, no other change, in every view."""
    comparison = Comparison.from_metrics(FLAT)
    comparison.add("gru4rec", "val", Score(0.11, 0.2))
    comparison.add("gru4rec", "test", Score(0.1, 0.19))
    lines = summary_lines(evaluation(comparison))
    assert "Gru4rec: validation NDCG@10 0.1100, HR@10 0.2000; test NDCG@10 0.1000, HR@10 0.1900." in lines
    assert "Popularity baseline: validation NDCG@10 0.0400, HR@10 0.1000; test NDCG@10 0.0300, HR@10 0.0900." in lines
    assert "Generator oracle (best possible): NDCG@10 0.2500, HR@10 0.4000." in lines
    assert "Winner on the held-out test pairs (scored once): NDCG@10 0.1400, HR@10 0.2800." in lines
    assert "Gru4rec: validation" in trials_markdown(evaluation(comparison))
    assert comparison.to_metrics()["gru4rec_test_hr_at_10"] == 0.19
    exported = status_report(evaluation(comparison), {}, comparison)["exported_scores"]
    assert exported["gru4rec"]["val"] == {"ndcg_at_10": 0.11, "hr_at_10": 0.2}
    assert exported["oracle"] == {ONE_NUMBER: {"ndcg_at_10": 0.25, "hr_at_10": 0.4}}


def test_sr_ar_and_the_blend_have_labels_and_read_back_from_model_json():
    comparison = Comparison.from_metrics(FLAT)
    for series, value in (("blend", 0.16), ("sr", 0.11), ("ar", 0.12)):
        comparison.add(series, "val", Score(value, 0.2))
        comparison.add(series, "test", Score(value, 0.2))
    lines = summary_lines(evaluation(comparison))
    assert any(line.startswith("SR baseline (sequential rules): validation NDCG@10 0.1100") for line in lines)
    assert any(line.startswith("AR baseline (co-occurrence): validation NDCG@10 0.1200") for line in lines)
    assert any(line.startswith("Blend: winner + counts (separate mode): validation NDCG@10 0.1600") for line in lines)
    assert Comparison.from_metrics(comparison.to_metrics()).as_dict() == comparison.as_dict()


def test_the_summary_says_what_the_blend_ranks_by():
    """The blend may score the winner's vectors another way than the winner: the summary names its scoring."""
    from track2vec.baselines import RuleSettings
    from track2vec.blend import Blend
    from track2vec.evaluation import Metrics
    from track2vec.scoring import Scoring

    found = evaluation(Comparison.from_metrics(FLAT))
    found.blend = Blend(RuleSettings("sr", 3, "div"), 100.0, Metrics(0.16, 0.2, 100, 10), None, ar_weight=0.3,
                        ar_rules=RuleSettings("ar", 3, "div"), scoring=Scoring("symmetric", 3.0))
    assert ("The blend ranks by the winner's vectors under symmetric + 3 log(count) plus 100 × (log(1 + SR) + "
            "0.3 × log(1 + AR)), its scoring and weights chosen on validation.") in summary_lines(found)


def test_winner_row_alone_has_test_scores_in_the_table():
    text = trials_markdown(evaluation(Comparison.from_metrics(FLAT)))
    header, _, row = text.strip().splitlines()[-3:]
    cells = dict(zip(header.split(" | "), row.split(" | ")))
    assert cells["test NDCG@10"] == "0.1400" and cells["| trial"] == "| w1 ★"


def test_an_unknown_split_is_refused():
    with pytest.raises(ValueError, match="unknown split"):
        Comparison().add("winner", "train", Score(0.1, 0.2))
