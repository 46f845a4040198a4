"""Counts weighted toward playlist ends (track2vec/playlist_ends.py) and the study rule that searches
``recency_scale`` where they pay (tune/playlist_ends.py)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from track2vec.baselines import RuleSettings, corpus_baselines, distance_weight, rules, transition_counts
from track2vec.corpus import build_corpus
from track2vec.data.playlists import Playlists
from track2vec.playlist_ends import SCALES, check_playlist_ends, end_weighted_rule_scores
from tune.playlist_ends import playlist_ends_rule
from tune.search_space import build_space


def corpus_of(lists, seed=0):
    return build_corpus(Playlists.from_lists([[str(item) for item in playlist] for playlist in lists]),
                        n_validation=400, n_test=0, seed=seed)


def walks(ends_differ: bool, n=1200, length=9, items=40, seed=0):
    """Playlists that step i -> i + 1 (mod items) or, a fourth of the time, i -> i + 3; where ``ends_differ``,
    the last two steps (the training part's last, and the held-out pair) always take i -> i + 7 instead."""
    rng = np.random.default_rng(seed)
    lists = []
    for _ in range(n):
        playlist = [int(rng.integers(items))]
        for position in range(1, length):
            step = 7 if ends_differ and position >= length - 2 else (3 if rng.random() < 0.25 else 1)
            playlist.append((playlist[-1] + step) % items)
        lists.append(playlist)
    return lists


@pytest.mark.parametrize("kind", ["sr", "ar"])
def test_unweighted_scores_equal_the_baselines_in_the_queries_rows(kind):
    corpus = corpus_of(walks(False, n=200))
    settings = RuleSettings(kind, 3, "div")
    queries = corpus.validation_pairs[:, 0]
    ours = end_weighted_rule_scores(corpus.tokens, corpus.offsets, len(corpus.vocabulary), settings, None, queries)
    theirs = rules(transition_counts(corpus.tokens, corpus.offsets, len(corpus.vocabulary), 3), settings)
    rows = np.unique(queries)
    assert (ours[rows] != theirs[rows]).nnz == 0
    others = np.setdiff1d(np.arange(len(corpus.vocabulary)), rows)
    assert ours[others].nnz == 0  # only the rows the validation pairs read are counted


def test_a_co_occurrence_weighs_less_the_farther_its_later_item_is_from_the_end():
    tokens, offsets = np.array([0, 1, 2], dtype=np.int32), np.array([0, 3])
    scores = end_weighted_rule_scores(tokens, offsets, 3, RuleSettings("sr", 1, "same"), 2.0, np.array([0, 1]))
    unit = distance_weight("same", 1)
    assert scores[0, 1] == pytest.approx(unit * math.exp(-1 / 2.0))  # item 1 is one position before the end
    assert scores[1, 2] == pytest.approx(unit)  # item 2 ends the playlist


def test_the_ends_pay_where_the_last_steps_differ_and_not_where_every_step_is_alike():
    differ, alike = corpus_of(walks(True)), corpus_of(walks(False))
    paying = check_playlist_ends(differ.tokens, differ.offsets, len(differ.vocabulary), differ.validation_pairs)
    assert paying.pays and paying.scale in SCALES and paying.weighted_ndcg > paying.plain_ndcg + 0.02
    assert "weigh more" in paying.describe() and "do not" not in paying.describe()
    flat = check_playlist_ends(alike.tokens, alike.offsets, len(alike.vocabulary), alike.validation_pairs)
    assert not flat.pays and flat.gain_low <= 0.0


def test_the_check_reuses_the_baselines_a_caller_fitted_on_the_same_pairs():
    # `track2vec baselines` passes its fitted SR and AR on; the verdict is the one the check reaches alone.
    corpus = build_corpus(Playlists.from_lists([[str(item) for item in playlist] for playlist in walks(True)]),
                          n_validation=400, n_test=300, seed=0)
    alone = check_playlist_ends(corpus.tokens, corpus.offsets, len(corpus.vocabulary), corpus.validation_pairs)
    reused = check_playlist_ends(corpus.tokens, corpus.offsets, len(corpus.vocabulary), corpus.validation_pairs,
                                 fitted=corpus_baselines(corpus))
    assert reused == alone and alone.pays


def test_a_study_searches_recency_scale_only_where_the_ends_pay():
    rule = playlist_ends_rule({}, corpus_of(walks(True)))
    assert rule.overrides == {"recency_scale": {"choices": [0.0, *SCALES]}}
    assert build_space(rule.overrides).distributions["recency_scale"].choices == (0.0, *SCALES)
    assert "searches recency_scale among 0, 10, 30" in rule.describe()
    assert playlist_ends_rule({}, corpus_of(walks(False))) is None


@pytest.mark.parametrize("ends_differ", [True, False])
def test_the_baselines_command_says_whether_the_ends_pay(ends_differ, tmp_path, capsys):
    from track2vec.cli import main

    data = tmp_path / "sessions.txt"
    data.write_text("\n".join(" ".join(map(str, playlist)) for playlist in walks(ends_differ)) + "\n")
    assert main(["baselines", "--data", str(data)]) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    if ends_differ:
        assert last.startswith("playlist ends weigh more") and last.endswith("a study searches recency_scale")
    else:
        assert last.startswith("playlist ends do not weigh more")


def test_a_config_that_names_recency_scale_keeps_its_choice():
    assert playlist_ends_rule({"recency_scale": 0.0}, corpus_of(walks(True))) is None


@pytest.mark.slow
def test_a_study_on_a_corpus_whose_ends_pay_says_so_records_it_and_trains_it(tmp_path, capsys, no_ray_left):
    """A real study: the header says why recency_scale is searched, study.json keeps the choice (so resume
    searches the same space), and every trial trained with one of its values."""
    from tune.testing import FAST_SPACE_TOML, results, study_of_sessions, trial_dirs

    out, study = study_of_sessions(tmp_path, walks(True), FAST_SPACE_TOML, "ends", capsys)
    assert "playlist ends weigh more in this corpus's counts" in out and "searches recency_scale among 0, 10, 30" in out
    overrides = json.loads((study / "study.json").read_text())["overrides"]
    assert overrides["recency_scale"] == {"choices": [0.0, *SCALES]}
    for path in trial_dirs(study).values():
        assert results(path)[-1]["config"]["recency_scale"] in (0.0, *SCALES)
