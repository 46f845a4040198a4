"""The approximate nearest-neighbour index (the ``ann`` extra): built at export, searched by recommend."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

pytest.importorskip("voyager")

from track2vec import ann  # noqa: E402
from track2vec.errors import ConfigError, DataError, Track2VecError  # noqa: E402
from track2vec.export import write_export  # noqa: E402
from track2vec.recommend import Recommender  # noqa: E402
from track2vec.scoring import Scoring  # noqa: E402
from track2vec.vocabulary import Vocabulary  # noqa: E402

ITEMS, DIM, CLUSTERS = 3_000, 16, 60


def clustered_export(path: Path, scoring: Scoring = Scoring(), ann_index: bool | None = True) -> Path:
    """Items around a few centres, as trained item vectors are (genres, artists), with lengths that differ."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(CLUSTERS, DIM))
    vectors = centres[rng.integers(0, CLUSTERS, ITEMS)] + 0.4 * rng.normal(size=(ITEMS, DIM))
    vectors *= rng.uniform(0.5, 2.0, (ITEMS, 1))
    vocabulary = Vocabulary(np.array([f"item_{i}" for i in range(ITEMS)]), rng.integers(1, 100, ITEMS), None)
    info = {"hyperparameters": {"architecture": "sgns", "dim": DIM}, "scoring": scoring.as_dict()}
    return write_export(path, vectors.astype(np.float32), vocabulary, info,
                        context_embeddings=vectors.astype(np.float32), ann_index=ann_index)


def random_playlists(count: int) -> list[list[str]]:
    rng = np.random.default_rng(1)
    return [[f"item_{i}" for i in rng.choice(ITEMS, rng.integers(1, 4), replace=False)] for _ in range(count)]


def test_the_index_top_10_agrees_with_exact_search_and_keeps_exact_scores(tmp_path):
    export = clustered_export(tmp_path / "model")
    assert (export / ann.INDEX_FILE).is_file()
    assert json.loads((export / "model.json").read_text())["ann"]["library"] == "voyager"
    approximate, exact = Recommender.from_export(export), Recommender.from_export(export, exact=True)
    assert approximate.approximate and not exact.approximate
    playlists = random_playlists(400)
    found, expected = approximate.complete_many(playlists, k=10), exact.complete_many(playlists, k=10)
    recall = np.mean([len({s.item for s in a} & {s.item for s in e}) / 10 for a, e in zip(found, expected)])
    assert recall >= 0.99
    exact_scores = {(n, s.item): s.score for n, row in enumerate(expected) for s in row}
    for number, (playlist, row) in enumerate(zip(playlists, found)):
        assert len(row) == 10 and not {s.item for s in row} & set(playlist)  # playlist items never suggested
        scores = [s.score for s in row]
        assert scores == sorted(scores, reverse=True)
        for suggestion in row:  # the candidates are scored exactly, as the exact search scores them
            if (number, suggestion.item) in exact_scores:
                assert suggestion.score == pytest.approx(exact_scores[number, suggestion.item], abs=1e-5)


def test_only_plain_cosine_exports_of_a_large_vocabulary_get_one_by_default(tmp_path):
    assert ann.wanted(ann.MIN_ITEMS, Scoring()) and not ann.wanted(ann.MIN_ITEMS - 1, Scoring())
    assert not ann.wanted(ann.MIN_ITEMS, Scoring("cosine", 0.5))
    assert not ann.wanted(ann.MIN_ITEMS, Scoring("target-context"))
    small = clustered_export(tmp_path / "small", ann_index=None)  # below MIN_ITEMS: exact, no file
    assert not (small / ann.INDEX_FILE).exists() and not Recommender.from_export(small).approximate
    with pytest.raises(Track2VecError, match="plain cosine scoring only"):
        clustered_export(tmp_path / "tc", Scoring("target-context", 1.0))
    with pytest.raises(ConfigError, match="plain cosine scoring only"):
        Recommender(np.eye(3, dtype=np.float32), np.array(["a", "b", "c"]), scoring=Scoring("cosine", 1.0),
                    index=ann.AnnIndex.build(np.eye(3, dtype=np.float32)))


def test_the_blended_mode_scores_every_item_even_with_an_index(tmp_path):
    export = clustered_export(tmp_path / "model")
    rng = np.random.default_rng(2)
    rules = sp.csr_matrix((rng.uniform(1, 5, 20_000), (rng.integers(0, ITEMS, 20_000), rng.integers(0, ITEMS, 20_000))),
                          shape=(ITEMS, ITEMS), dtype=np.float32)
    approximate = Recommender.from_export(export)
    approximate.blend_rules, approximate.blend_weight = rules, 2.0
    exact = Recommender.from_export(export, exact=True)
    exact.blend_rules, exact.blend_weight = rules, 2.0
    playlists = random_playlists(100)
    assert approximate.complete_many(playlists, mode="blend") == exact.complete_many(playlists, mode="blend")
    assert approximate.complete_many(playlists, mode="blend") != approximate.complete_many(playlists)


def test_without_voyager_an_index_is_ignored_with_a_warning(tmp_path, monkeypatch):
    export = clustered_export(tmp_path / "model")
    monkeypatch.setattr(ann, "available", lambda: False)
    with pytest.warns(UserWarning, match="every item is scored"):
        recommender = Recommender.from_export(export)
    assert not recommender.approximate


def test_a_damaged_or_mismatched_index_is_a_data_error(tmp_path):
    export = clustered_export(tmp_path / "model")
    (export / ann.INDEX_FILE).write_bytes(b"not an index")
    with pytest.raises(DataError, match="unreadable approximate index"):
        Recommender.from_export(export)
    ann.AnnIndex.build(np.eye(4, dtype=np.float32)).save(export / ann.INDEX_FILE)
    with pytest.raises(DataError, match="an index of 4 x 4 vectors"):
        Recommender.from_export(export)
