"""A study on an existing multi-node cluster (two raylets on 127.0.0.1, token auth as default)."""

from __future__ import annotations

import pytest
import ray

from track2vec.corpus import Corpus
from tune.cli import main
from tune.testing import FAST_SPACE_TOML, results, trial_dirs

TRIALS = 2  # one per node, at the same time


@pytest.mark.slow
def test_study_spreads_over_nodes_and_shares_the_corpus_once(tmp_path, capsys, monkeypatch, two_node_cluster):
    cluster, _ = two_node_cluster
    put_corpora = []
    real_put = ray.put

    def counting_put(value, *args, **kwargs):
        if isinstance(value, Corpus):
            put_corpora.append(value)
        return real_put(value, *args, **kwargs)

    monkeypatch.setattr(ray, "put", counting_put)
    config = tmp_path / "space.toml"
    config.write_text(FAST_SPACE_TOML)
    storage = tmp_path / "studies"
    code = main(["run", "--data", "builtin:tiny", "--config", str(config), "--trials", str(TRIALS),
                 "--max-epochs", "2", "--address", cluster.address,
                 "--storage", str(storage), "--name", "nodes"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "Ray cluster: 2 node(s), 2 CPUs" in out

    reported = [result for path in trial_dirs(storage / "nodes").values() for result in results(path)]
    nodes = {result["node_id"] for result in reported}
    assert nodes == {node.node_id for node in cluster.list_all_nodes()}
    assert len({(result["hostname"], result["pid"]) for result in reported}) >= 2

    # the driver put the corpus into the object store once; every trial, on either node,
    # read its arrays zero-copy from there
    assert len(put_corpora) == 1
    assert all(result["corpus_zero_copy"] for result in reported)
    assert (storage / "nodes" / "export" / "trials.csv").exists()
