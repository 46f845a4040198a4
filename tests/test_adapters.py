"""The private Ray and Optuna attributes tune/ relies on, probed on the installed versions (no Ray cluster).

When a Ray or Optuna upgrade moves one of them, this fails naming it, and the adapter in
tune/adapters/ that reads it is the one place to change.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from tune.adapters import optuna_search, probe, ray_asha, ray_auth, ray_controller

ADAPTERS = {"ray_asha": ray_asha, "ray_controller": ray_controller, "ray_auth": ray_auth,
            "optuna_search": optuna_search}


@pytest.mark.parametrize("name", ADAPTERS)
def test_the_private_attributes_are_where_the_adapters_read_them(name):
    missing = ADAPTERS[name].missing()
    assert not missing, (f"tune/adapters/{name}.py reads attributes this Ray/Optuna no longer has as expected: "
                         f"{', '.join(missing)}")


def test_a_moved_attribute_is_named():
    gone = SimpleNamespace(_rungs=[(3, {})])
    assert probe("Bracket", {"_rungs": lambda: isinstance(gone._rungs, list), "rf": lambda: gone.rf == 3,
                             "cutoff": lambda: gone.cutoff({}) is None}) == ["Bracket.rf", "Bracket.cutoff"]


def test_no_module_of_tune_reaches_into_them_but_the_adapters():
    from pathlib import Path

    private = ("._brackets", "._rungs", "._num_stopped", "._metric_op", "._ot_study", "._ot_trials",
               "._completed_trials", "._storage", "._trial_id", "._mark_trial_to_checkpoint", "ray._private")
    root = Path(__file__).resolve().parents[1] / "tune"
    for path in root.rglob("*.py"):
        if path.parent.name == "adapters":
            continue
        text = path.read_text()
        assert not [name for name in private if re.search(re.escape(name) + r"\b", text)], path


def test_the_asha_probe_names_an_attribute_that_moved(monkeypatch):
    from ray.tune.schedulers import async_hyperband

    init = async_hyperband._Bracket.__init__

    def without_rf(self, *args, **kwargs):
        init(self, *args, **kwargs)
        del self.rf  # as if Ray renamed the bracket's reduction factor

    monkeypatch.setattr(async_hyperband._Bracket, "__init__", without_rf)
    assert "ASHAScheduler._brackets[0].rf" in ray_asha.missing()
