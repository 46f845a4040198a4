"""track2vec-tune: the tuning service (Ray Tune + Optuna + ASHA) over the track2vec library.

``from tune import Study`` is the Python API (``tune/api.py``); it is imported on first use, so
that the service's modules, which all import this package, do not load it.
"""

PROG = "track2vec-tune"

__all__ = ["PROG", "Study", "StudyFailed", "Winner"]


def __getattr__(name: str):
    if name in ("Study", "StudyFailed", "Winner"):
        from tune import api

        return getattr(api, name)
    raise AttributeError(f"module 'tune' has no attribute {name!r}")
