"""scripts/test.sh runs the suite on two pytest-xdist workers (``-n 2 --dist loadgroup``): the tests that run
Ray studies go one after another to one worker (conftest's ``pytest_itemcollected``), the others share the
second one."""

from __future__ import annotations

import pytest


def test_a_test_that_may_start_ray_runs_in_the_ray_group(request, no_ray_left):
    if not request.config.getoption("loadgroup", default=False):
        pytest.skip("run without pytest-xdist's --dist loadgroup")
    # xdist groups a test by a suffix it appends to the node id; pytest 9.2's node ids silently drop it
    # (pytest-xdist issue 1386), and the studies would then run side by side on the same cores.
    assert request.node.nodeid.endswith("@ray"), (
        "pytest-xdist no longer groups the Ray tests under --dist loadgroup: install the pytest and "
        "pytest-xdist versions that the test extra of pyproject.toml names")
