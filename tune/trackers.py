"""Experiment trackers (``--log-to mlflow``, ``--log-to wandb``): Ray Tune's own logger callbacks.

Each callback runs in the driver and sends every trial's config and every reported result
(one per epoch: validation NDCG@10, HR@10, loss, ...) to the tracker, one tracker run per
trial. Where the results go is the trackers' own business: MLflow reads
``MLFLOW_TRACKING_URI`` (e.g. ``file:///path`` or ``http://host:5000``), W&B reads
``WANDB_API_KEY`` / ``WANDB_MODE``. The packages are optional extras of this project.
"""

from __future__ import annotations

import importlib.util

from track2vec.errors import ConfigError

PACKAGES = {"mlflow": "mlflow", "wandb": "wandb"}  # each of TRACKERS -> the module its callback imports


def check_trackers(names: tuple[str, ...]) -> None:
    """Refuse, in one line, a tracker whose package is not installed (before anything starts)."""
    for name in names:
        if importlib.util.find_spec(PACKAGES[name]) is None:
            raise ConfigError(f"--log-to {name} needs the {PACKAGES[name]} package: "
                              f"pip install 'track2vec-tune[{name}]'")


def tracker_callbacks(names: tuple[str, ...], experiment: str) -> list:
    """Ray Tune logger callbacks for ``names``, each logging to the tracker's experiment/project ``experiment``."""
    check_trackers(names)
    callbacks = []
    if "mlflow" in names:
        from ray.air.integrations.mlflow import MLflowLoggerCallback

        callbacks.append(MLflowLoggerCallback(experiment_name=experiment, save_artifact=False))
    if "wandb" in names:
        from ray.air.integrations.wandb import WandbLoggerCallback

        callbacks.append(WandbLoggerCallback(project=experiment))
    return callbacks
