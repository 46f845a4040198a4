"""The memory a trial can have, and the search space capped to it (tune/memory.py, track2vec/memory.py)."""

from __future__ import annotations

import numpy as np
import pytest

from track2vec.config import TrainConfig
from track2vec.corpus import Corpus
from track2vec.errors import ConfigError
from track2vec.memory import PROCESS_MIB, estimate_peak_mib
from track2vec.vocabulary import Vocabulary
from tune.memory import MemoryLimit, cap_to_memory, trial_memory_limit
from tune.search_space import build_space

GIB = 2**30


def corpus_of(vocabulary_size: int) -> Corpus:
    """A corpus with a Million-Playlist-size vocabulary and almost no playlists: only its sizes matter here."""
    items = np.array([f"t{i}" for i in range(vocabulary_size)])
    vocabulary = Vocabulary(items, np.ones(vocabulary_size, dtype=np.int64))
    pairs = np.zeros((1, 2), dtype=np.int32)
    return Corpus(vocabulary, np.zeros(10, np.int32), np.array([0, 10]), pairs, pairs, seed=0)


def corner_mib(space, corpus: Corpus) -> float:
    """The estimate of the space's largest configuration (softmax and adam fixed by default)."""
    size = {name: (space.fixed[name] if name in space.fixed else space.distributions[name].high)
            for name in ("dim", "batch_size", "negatives", "shared_rows")}
    config = TrainConfig(architecture=space.fixed["architecture"], optimizer=space.fixed["optimizer"], **size)
    return estimate_peak_mib(config, len(corpus.vocabulary), corpus.nbytes)


def test_the_limit_is_the_least_of_the_budget_and_the_clusters_offer_per_trial():
    nodes = [{"CPU": 8.0, "memory": 32 * GIB}, {"CPU": 2.0, "memory": 12 * GIB}, {"CPU": 0.5, "memory": 1 * GIB}]
    offer = trial_memory_limit(None, 1, nodes)
    # 8 CPUs run 8 trials at once: 4 GiB each; 2 CPUs, 2 trials: 6 GiB; the half-CPU node hosts none
    assert offer.mib == 4096 and "32,768 MiB" in offer.source and "8 trial(s)" in offer.source
    assert trial_memory_limit(3000, 1, nodes) == MemoryLimit(3000.0, "--max-trial-memory")
    assert trial_memory_limit(5000, 1, nodes).mib == 4096
    assert trial_memory_limit(None, 2, nodes).mib == 8192  # 2 CPUs a trial: 4 at once on the large node
    assert trial_memory_limit(None, 1, []) is None


def test_a_space_that_fits_is_left_alone():
    space = build_space({})
    overrides, cap = cap_to_memory(space, corpus_of(1000), MemoryLimit(64 * 1024, "the cluster"))
    assert overrides == {} and cap is None


def test_the_tables_of_a_large_vocabulary_cap_dim_to_the_largest_that_fits():
    corpus = corpus_of(2_000_000)
    space = build_space({})
    limit = MemoryLimit(6 * 1024, "--max-trial-memory")
    assert corner_mib(space, corpus) > limit.mib
    overrides, cap = cap_to_memory(space, corpus, limit)
    assert set(overrides) == {"dim"}  # the tables dominate: dim goes first, and is enough
    capped = build_space(overrides)  # the overrides are valid --config tables, log scale kept
    dim = capped.distributions["dim"]
    assert dim.low == 16 and dim.log and dim.high < 256
    assert corner_mib(capped, corpus) <= limit.mib < corner_mib(build_space({**overrides, "dim": {"min": 16, "max": dim.high + 1}}), corpus)
    assert cap.describe().startswith(f"memory: capped dim <= {dim.high} (was 256) so that the largest trial fits "
                                     "the 6,144 MiB a trial can have (--max-trial-memory; estimated")


def test_a_large_softmax_step_caps_the_batch_size_first():
    corpus = corpus_of(50_000)
    space = build_space({"dim": 16})
    limit = MemoryLimit(PROCESS_MIB + 300, "--max-trial-memory")
    overrides, cap = cap_to_memory(space, corpus, limit)
    assert list(overrides) == ["batch_size"] and overrides["batch_size"]["max"] < 16384
    assert corner_mib(build_space({"dim": 16, **overrides}), corpus) <= limit.mib


def test_nothing_fits_below_the_process_itself_one_clear_error():
    with pytest.raises(ConfigError, match=r"no configuration of the search space fits the 100 MiB a trial can have "
                                          r"\(--max-trial-memory\): its smallest sizes need about"):
        cap_to_memory(build_space({}), corpus_of(1000), MemoryLimit(100, "--max-trial-memory"))


def test_the_clusters_offer_caps_to_the_smallest_sizes_and_warns_rather_than_refuse():
    # Ray does not enforce its memory resource, and a laptop with many cores offers each trial little
    offer = trial_memory_limit(None, 1, [{"CPU": 16.0, "memory": 8 * GIB}])
    assert offer.mib == 512 and not offer.strict
    overrides, cap = cap_to_memory(build_space({}), corpus_of(200_000), offer)
    assert overrides["dim"]["max"] == 16 and not cap.fits
    assert cap.describe().startswith("memory: capped dim <= 16 (was 256), batch_size <= 256 (was 16,384), negatives <= 1 "
                                     "(was 20), the smallest sizes, yet a trial is estimated at")
    assert "more than the 512 MiB a trial can have (the cluster: 8,192 MiB of Ray memory on its smallest node for 16 " \
           "trial(s) at once); fewer trials at once (--cpus-per-trial) leave each more" in cap.describe()
    fixed = build_space({"dim": 16, "batch_size": 256, "negatives": 1})
    assert cap_to_memory(fixed, corpus_of(200_000), offer)[0] == {}
    assert cap_to_memory(fixed, corpus_of(200_000), offer)[1].describe().startswith("memory: a trial is estimated at")


def test_the_estimate_grows_with_each_term():
    base = TrainConfig(architecture="softmax", dim=16, batch_size=256, negatives=1)
    small = estimate_peak_mib(base, 100_000)
    for larger in (TrainConfig(architecture="softmax", dim=256, batch_size=256, negatives=1),
                   TrainConfig(architecture="softmax", dim=16, batch_size=16384, negatives=20),
                   TrainConfig(architecture="softmax", dim=16, batch_size=256, negatives=1, optimizer="sgd")):
        assert (estimate_peak_mib(larger, 100_000) > small) == (larger.optimizer != "sgd")
    assert estimate_peak_mib(base, 100_000, corpus_bytes=100 * 2**20) == pytest.approx(small + 100)


def test_sparse_updates_are_estimated_below_dense_adam_so_a_large_vocabulary_caps_less():
    """lazy-adam keeps Adam's two moments but no dense gradient: between sgd (no slots) and dense Adam."""
    sizes = dict(architecture="softmax", dim=64, batch_size=2048, negatives=10)
    estimate = {optimizer: estimate_peak_mib(TrainConfig(**sizes, optimizer=optimizer), 2_000_000)
                for optimizer in ("sgd", "lazy-adam", "adam")}
    assert estimate["sgd"] < estimate["lazy-adam"] < estimate["adam"]


def test_lazy_adams_tables_count_the_pools_share_only_where_the_pool_is_used(monkeypatch):
    """Below the pool's vocabulary limit lazy-adam's tables count the pool's share; from it on they do not."""
    from track2vec.memory import POOLED_EXTRA_TABLE_COPIES, TABLE_COPIES, table_bytes
    from track2vec.runtime import POOLED_HOST_MEMORY_BELOW_ITEMS

    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    monkeypatch.delenv("TF_CPU_ALLOCATOR_USE_BFC", raising=False)  # the environment's choice would win
    config = TrainConfig(architecture="softmax", dim=64, batch_size=2048, negatives=10, optimizer="lazy-adam")
    for items, copies in ((POOLED_HOST_MEMORY_BELOW_ITEMS - 1, TABLE_COPIES["lazy-adam"] + POOLED_EXTRA_TABLE_COPIES["lazy-adam"]),
                          (POOLED_HOST_MEMORY_BELOW_ITEMS, TABLE_COPIES["lazy-adam"])):
        one_copy = (items * 64 * 2 + items) * 4  # both tables and the softmax's bias, float32
        assert table_bytes(config, items) == int(one_copy * copies)
    assert POOLED_EXTRA_TABLE_COPIES["lazy-adam"] > 0
    # dense Adam's six copies fit its peaks with the pool (Deezer size) and without it (Million Playlist size)
    dense = TrainConfig(architecture="softmax", dim=64, batch_size=2048, negatives=10, optimizer="adam")
    assert table_bytes(dense, 1000) == (1000 * 129) * 4 * TABLE_COPIES["adam"]


@pytest.mark.parametrize("backend, large_vocabulary_optimizer", [("tensorflow", "lazy-adam"), ("jax", "adam")])
def test_the_default_optimizer_is_estimated_as_the_one_it_resolves_to(monkeypatch, backend, large_vocabulary_optimizer):
    """As the trainer on the backend that KERAS_BACKEND selects: JAX has no lazy-adam and stays on dense Adam."""
    from track2vec.config import SPARSE_FROM_ITEMS

    monkeypatch.setenv("KERAS_BACKEND", backend)
    sizes = dict(architecture="softmax", dim=64, batch_size=2048, negatives=10)
    for items, resolved in ((SPARSE_FROM_ITEMS - 1, "adam"), (SPARSE_FROM_ITEMS, large_vocabulary_optimizer)):
        assert estimate_peak_mib(TrainConfig(**sizes), items) == estimate_peak_mib(TrainConfig(**sizes, optimizer=resolved), items)


def test_the_driver_keeps_the_capped_ranges_in_the_studys_overrides(monkeypatch):
    import ray

    from tune import driver
    from tune.spec import StudySpec

    monkeypatch.setattr(ray, "nodes", lambda: [{"Alive": True, "Resources": {"CPU": 2.0, "memory": 64 * GIB}}])
    spec = StudySpec(name="s", trials=2, max_epochs=1, max_trial_memory=6144, overrides={"window": 3})
    capped, cap = driver.fit_space_to_memory(spec, corpus_of(2_000_000))
    assert capped.overrides["window"] == 3 and capped.overrides["dim"]["max"] == cap.after["dim"] < 256
    assert capped.space(artists=False).distributions["dim"].high == cap.after["dim"]
    # a study whose largest trial fits keeps its spec
    assert driver.fit_space_to_memory(spec, corpus_of(1000)) == (spec, None)


def test_a_budget_no_configuration_fits_is_refused_before_a_cluster_starts(tmp_path, monkeypatch, capsys):
    from tune import driver
    from tune.cli import main

    def no_cluster(*args, **kwargs):
        raise AssertionError("run started or joined a Ray cluster before refusing the budget")

    monkeypatch.setattr(driver, "connect", no_cluster)
    code = main(["run", "--data", "builtin:tiny", "--max-trial-memory", "100", "--storage", str(tmp_path / "studies"),
                 "--name", "s"])
    err = capsys.readouterr().err
    assert code == 2 and "no configuration of the search space fits the 100 MiB a trial can have" in err, err
    assert not (tmp_path / "studies" / "s").exists()


def test_a_searched_shared_row_count_is_estimated_at_its_top_and_capped_like_the_other_step_sizes():
    corpus = corpus_of(100_000)
    assert (estimate_peak_mib(TrainConfig(architecture="softmax", batch_size=4096, shared_rows=256), 100_000)
            > estimate_peak_mib(TrainConfig(architecture="softmax", batch_size=4096, shared_rows=32), 100_000))
    sizes = {"dim": 16, "batch_size": 16384, "negatives": 20}
    space = build_space({**sizes, "shared_rows": {"min": 16, "max": 256}})
    top = estimate_peak_mib(TrainConfig(architecture="softmax", **sizes, shared_rows=256), len(corpus.vocabulary), corpus.nbytes)
    limit = MemoryLimit(top - 200, "--max-trial-memory")
    overrides, cap = cap_to_memory(space, corpus, limit)
    assert list(overrides) == ["shared_rows"] and 16 <= overrides["shared_rows"]["max"] < 256
    capped = TrainConfig(architecture="softmax", **sizes, shared_rows=overrides["shared_rows"]["max"])
    assert estimate_peak_mib(capped, len(corpus.vocabulary), corpus.nbytes) <= limit.mib
