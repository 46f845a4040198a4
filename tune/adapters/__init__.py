"""Small adapters over the private attributes of Ray and Optuna that the service relies on.

Each module wraps one library component (``ray_asha``, ``ray_controller``, ``ray_auth``,
``ray_loggers``, ``ray_trial_threads``, ``optuna_search``): the rest of ``tune/`` calls its
functions and never touches a private attribute. Each module's ``missing()`` probes freshly
built objects of the installed version and names every attribute that is gone or changed shape;
``tests/test_adapters.py`` fails with those names, and ``pyproject.toml`` bounds both libraries
at the versions tested.
"""

from __future__ import annotations

from typing import Any, Callable


def probe(owner: str, checks: dict[str, Callable[[], Any]]) -> list[str]:
    """``owner.attribute`` for every check that raises or returns False (the attribute is gone or changed)."""
    missing = []
    for attribute, check in checks.items():
        try:
            ok = check()
        except Exception:  # any failure means the attribute no longer looks as expected
            ok = False
        if ok is False:
            missing.append(f"{owner}.{attribute}")
    return missing
