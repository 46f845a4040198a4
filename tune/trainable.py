"""The Ray Tune function trainable: one Keras model per trial, a checkpoint per epoch.

A checkpoint holds

* ``model.keras``: the model saved by Keras, optimizer state included (Adam's moments
  and step count), so training continues exactly;
* ``best_embeddings.npy`` (and, where the model has them, ``best_context_embeddings.npy``
  and ``best_context_bias.npy``): the item vectors of the best epoch so far (by validation NDCG@10), so the winner stays exportable
  although only the last checkpoints are kept;
* ``state.json``: epochs done (the sampler's randomness is derived from (seed, epoch),
  so the epoch number is the sampler's whole state), best epoch, its metrics and the
  scoring they were measured with, accumulated wall time, the trial's cost so far (``tune/cost.py``);
* ``metrics.json``: the metrics reported with it (Ray's experiment state is a periodic
  snapshot; after a killed driver the newest checkpoint on storage can be ahead of it).
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from ray import tune

from track2vec.corpus import Corpus, validation_sample
from track2vec.scoring import Vectors
from track2vec.runtime import configure_backend

from tune.adapters.ray_trial_threads import wait_for_finished_trials
from tune.cost import CostMeter, peak_memory_resettable, reset_peak_memory

METRIC = "val_ndcg_at_10"  # reported every epoch; ASHA and the intermediate values use it
OBJECTIVE = "best_val_ndcg_at_10"  # best epoch so far: what export ranks trials by
TIME_ATTR = "epoch"
MODEL_FILE = "model.keras"
BEST_EMBEDDINGS_FILE = "best_embeddings.npy"
BEST_CONTEXT_EMBEDDINGS_FILE = "best_context_embeddings.npy"
BEST_CONTEXT_BIAS_FILE = "best_context_bias.npy"
STATE_FILE = "state.json"
METRICS_FILE = "metrics.json"  # what the epoch reported (the table reads it if Ray's state lags)


# Keys of a repeat's config (tune/repeats.py) beside its hyperparameters: a search trial's config has
# none of them and takes its seed and epochs from TrialSettings.
SEED_KEY, EPOCHS_KEY, SOURCE_KEY = "seed", "epochs", "source_trial"


@dataclass(frozen=True)
class TrialSettings:
    """Per-study settings every trial needs, from the study's StudySpec (hyperparameters come in ``config``)."""

    max_epochs: int
    seed: int
    cpus_per_trial: float
    gpus_per_trial: float
    validation_sample: int  # epochs are scored on this many validation pairs, sampled by the study's seed (0: all)


@dataclass
class TrialProgress:
    epoch: int = 0
    best_epoch: int = 0
    best_val_ndcg_at_10: float = float("-inf")
    best_val_hr_at_10: float = 0.0
    best_scoring: dict = field(default_factory=dict)  # track2vec.scoring.Scoring.as_dict() of the best epoch
    wall_seconds: float = 0.0
    cost: CostMeter = field(default_factory=CostMeter)


def train_trial(config: dict, corpus: Corpus, settings: TrialSettings) -> None:
    """Train one configuration, reporting (and checkpointing) after every epoch."""
    # Before the backend initialises: its thread pools and visible devices are fixed then.
    configure_backend(threads=max(1, int(settings.cpus_per_trial)), use_gpu=settings.gpus_per_trial > 0,
                      vocabulary_size=len(corpus.vocabulary))
    import keras  # only after configure_backend

    from track2vec.config import TrainConfig
    from track2vec.training import Trainer

    # The worker may have run other trials before (tune.driver.reuse_actors): drop their graphs,
    # measure this trial's own peak memory, and let the next trial wait until this one's thread ends.
    keras.backend.clear_session()
    if peak_memory_resettable():
        reset_peak_memory()
    wait_for_finished_trials()

    # A repeat brings its own seed and epoch count in its config; a search trial takes the study's.
    seed, epochs = int(config.get(SEED_KEY, settings.seed)), int(config.get(EPOCHS_KEY, settings.max_epochs))
    train_config = TrainConfig.from_dict({**config, "epochs": epochs, "seed": seed})
    progress, model, best = TrialProgress(), None, None
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as directory:
            progress, model, best = load_checkpoint(Path(directory))
    if progress.epoch >= epochs:
        return  # finished just before an interruption: nothing left to do
    # The study's seed, not a repeat's: every trial and repeat is scored on the same pairs.
    pairs = validation_sample(corpus.validation_pairs, settings.validation_sample, settings.seed)
    trainer = Trainer(corpus, train_config, model=model, validation_pairs=pairs)
    reporter = _epoch_reporter(trainer, progress, best, restored_from=progress.epoch, seed=seed)
    trainer.fit(epochs=epochs, initial_epoch=progress.epoch, callbacks=[reporter])


def save_checkpoint(directory: Path, model, best: Vectors, progress: TrialProgress,
                    epoch_started: float) -> float:
    """Write a checkpoint; adds the epoch's seconds (save included) to ``progress``, returns them."""
    model.save(directory / MODEL_FILE)
    save_best_vectors(directory, best)
    seconds = time.perf_counter() - epoch_started
    progress.wall_seconds += seconds
    (directory / STATE_FILE).write_text(json.dumps(asdict(progress)))
    return seconds


_BEST_FILES = {"embeddings": BEST_EMBEDDINGS_FILE, "context_embeddings": BEST_CONTEXT_EMBEDDINGS_FILE,
               "context_bias": BEST_CONTEXT_BIAS_FILE}


def save_best_vectors(directory: Path, best: Vectors) -> None:
    for name, file in _BEST_FILES.items():
        if getattr(best, name) is not None:
            np.save(directory / file, getattr(best, name), allow_pickle=False)


def load_best_vectors(directory: Path) -> Vectors:
    """The best epoch's vectors; the item vectors must be there, the others where the model has them."""
    loaded = {name: np.load(directory / file, allow_pickle=False) for name, file in _BEST_FILES.items()
              if name == "embeddings" or (directory / file).is_file()}
    return Vectors(**loaded)


def load_progress(directory: Path) -> TrialProgress:
    values = json.loads((directory / STATE_FILE).read_text())
    return TrialProgress(**{**values, "cost": CostMeter(**values.get("cost", {}))})


def load_checkpoint(directory: Path):
    """(progress, Keras model with its optimizer state, best vectors so far)."""
    import keras

    import track2vec.model  # noqa: F401  (registers the model's own layers and LazyAdam for loading)

    model = keras.saving.load_model(directory / MODEL_FILE)
    return load_progress(directory), model, load_best_vectors(directory)


def _where() -> dict:
    import ray

    return {"node_id": ray.get_runtime_context().get_node_id(), "hostname": socket.gethostname(), "pid": os.getpid()}


def _epoch_reporter(trainer, progress: TrialProgress, best: Vectors | None, restored_from: int, seed: int):
    """A Keras callback that checkpoints and reports each epoch (Keras is imported only in the trial)."""
    import keras

    where = _where()
    zero_copy = not trainer.corpus.tokens.flags.writeable  # arrays from Ray's object store are read-only
    started = [0.0]

    class EpochReporter(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            started[0] = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            nonlocal best
            ndcg = float(logs[METRIC])
            progress.epoch = int(logs["epoch"])
            progress.cost.add_epoch(float(logs["train_seconds"]), epoch_of_process=progress.epoch - restored_from)
            if ndcg > progress.best_val_ndcg_at_10 or best is None:
                progress.best_epoch = progress.epoch
                progress.best_val_ndcg_at_10 = ndcg
                progress.best_val_hr_at_10 = float(logs["val_hr_at_10"])
                progress.best_scoring = trainer.scoring.as_dict()
                best = Vectors(trainer.embeddings(), trainer.context_embeddings(), trainer.context_bias())
            with tempfile.TemporaryDirectory(prefix="track2vec-ckpt-") as directory:
                seconds = save_checkpoint(Path(directory), self.model, best, progress, started[0])
                metrics = {
                    TIME_ATTR: progress.epoch,
                    METRIC: ndcg,
                    "val_hr_at_10": float(logs["val_hr_at_10"]),
                    "loss": float(logs["loss"]),
                    "accuracy": float(logs["accuracy"]),
                    "scoring": trainer.scoring.method,
                    "popularity_weight": trainer.scoring.popularity_weight,
                    "best_scoring": progress.best_scoring.get("method"),
                    "best_popularity_weight": progress.best_scoring.get("popularity_weight"),
                    "pairs_per_second": float(logs["pairs_per_second"]),
                    "train_seconds": float(logs["train_seconds"]),
                    "epoch_seconds": seconds,
                    "wall_seconds": progress.wall_seconds,
                    OBJECTIVE: progress.best_val_ndcg_at_10,
                    "best_val_hr_at_10": progress.best_val_hr_at_10,
                    "best_epoch": progress.best_epoch,
                    "restored_from_epoch": restored_from,
                    "seed": seed,
                    "optimizer": trainer.optimizer,  # what trained: "auto" resolved for the vocabulary
                    "corpus_zero_copy": zero_copy,
                    **progress.cost.metrics(),
                    **where,
                }
                (Path(directory) / METRICS_FILE).write_text(json.dumps(metrics))
                tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(directory))

    return EpochReporter()
