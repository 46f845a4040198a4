"""The settings of one study, ``StudySpec``: what ``run`` was asked, kept in the study's ``study.json``.

Every module takes a ``StudySpec``; this is the one home of the study defaults and of their
checks (``__post_init__``), so a value is checked once, whether it comes from the command
line or from ``study.json``. The file carries ``format_version``: files of this version or
older are read, a newer one is refused in one line. Version 2 added ``optuna_backend``; a
version 1 file has none and its study is SQLite, the field's default. Version 3 added the
sample, the warm start and the cost budgets (``sample``, ``warm_start_*``, ``max_epoch_seconds``,
``max_trial_memory``): an older track2vec-tune must refuse such a study rather than drop its budget,
which changes the winner. It also added ``validation_sample``; an older file's trials scored every
validation pair, so it reads as 0. Version 4 lets ``validation_sample`` be null: the sample sized by the
vocabulary (``trial_validation_sample``), which an older track2vec-tune cannot read. ``gensim``
(``--gensim``) came later without a new version: a track2vec-tune that does not know it reads the
study all the same and only leaves gensim's row out.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Mapping

from track2vec.config import TrainConfig
from track2vec.corpus import DEFAULT_DATA, DEFAULT_MIN_COUNT, DEFAULT_TEST_PAIRS, DEFAULT_VALIDATION_PAIRS
from track2vec.errors import ConfigError

FORMAT_VERSION = 4

# The Optuna file in a local study directory: "journal" (optuna.journal, Optuna's JournalFileBackend:
# safe on NFS and other shared file systems, where SQLite's locking is not) for every new study;
# "sqlite" (optuna.db) for studies written before journal storage, which are still read and resumed.
OPTUNA_BACKENDS = ("journal", "sqlite")
NEW_STUDY_OPTUNA_BACKEND = "journal"

# The budget every quality claim was measured at (README, "Quality: the winner against the counts"); with
# half as many, TPE has few trials left after its random start and the winner is less sure to pass the counts.
DEFAULT_TRIALS = 24
# With the grace period and reduction factor below, ASHA's rungs fall at epochs 1 and 3, and
# 9 = 1 x 3^2 makes the last rung the end of training: a trial is judged twice before it runs to the end.
DEFAULT_MAX_EPOCHS = 9
DEFAULT_GRACE_PERIOD = 1
DEFAULT_REDUCTION_FACTOR = 3.0
DEFAULT_CPUS_PER_TRIAL = 1.0
DEFAULT_GPUS_PER_TRIAL = 0.0
DEFAULT_MAX_FAILURES = 2  # restarts of a trial whose worker process or node dies
DEFAULT_SEED = TrainConfig.seed  # of the split, the sampler, the models and TPE
DEFAULT_REPEATS = 0  # new seeds for each of the top configurations after the search (0: none)
DEFAULT_REPEAT_TOP = 3  # configurations repeated, by best validation NDCG@10
# Trials score each epoch on a fixed seeded sample of the validation pairs; the winner is always scored
# on all of them. Scoring costs pairs x vocabulary, so by default (validation_sample None) the sample is
# as large as that budget allows: every pair on small and mid-sized vocabularies, where a smaller
# sample only adds noise to the choice of the winner, and fewer as the vocabulary grows, never fewer
# than the floor. Its cost in rank agreement of trials and its saving: BENCHMARKS.md, "Validation sample".
DEFAULT_VALIDATION_SAMPLE = None
VALIDATION_SAMPLE_FLOOR = 2_000
VALIDATION_SCORING_BUDGET = VALIDATION_SAMPLE_FLOOR * 200_000  # validation pairs x items ranked per epoch
REPEAT_COMMAND_SEEDS = 3  # `track2vec-tune repeat`'s default number of new seeds
DEFAULT_SAMPLE = 1.0  # --sample: the fraction of the training playlists the trials train on (1: all)
DEFAULT_WARM_START_TOP = 3  # configurations of the --warm-start-from study tried first, by best validation NDCG@10
TRACKERS = ("mlflow", "wandb")  # --log-to: Ray Tune's logger callbacks
METRIC_DESCRIPTION = "val_ndcg_at_10 (validation NDCG@10)"

# Settings a resumed study must share with the command that resumes it (`run --resume`).
SAME_STUDY = ("trials", "max_epochs", "seed", "min_count", "grace_period", "reduction_factor", "sample",
              "max_epoch_seconds", "max_trial_memory", "validation_sample")

_WHOLE_NUMBERS = {  # field -> smallest valid value
    "trials": 1, "max_epochs": 1, "grace_period": 1, "max_failures": 0, "min_count": 1,
    "validation_pairs": 1, "validation_sample": 0, "test_pairs": 1, "seed": 0, "repeats": 0, "repeat_top": 1,
    "warm_start_top": 1,
}
_NUMBERS = ("reduction_factor", "cpus_per_trial", "gpus_per_trial")
_UNSET_ALLOWED = ("validation_sample",)  # None: decided per corpus (trial_validation_sample)


_BUDGETS = ("max_epoch_seconds", "max_trial_memory")  # None (no budget) or a number > 0
_OPTIONS = {"repeat_top": "--top"}  # fields whose option is not their name


def option(name: str) -> str:
    """The command-line option of a field: ``max_epochs`` -> ``--max-epochs``."""
    return _OPTIONS.get(name, "--" + name.replace("_", "-"))


@dataclass(frozen=True)
class StudySpec:
    """One study's settings, as ``track2vec-tune run`` was given them (and what it derived)."""

    name: str
    storage: str = ""
    created: str = ""
    data: str = DEFAULT_DATA  # "builtin[:size]" or an absolute path
    data_fingerprint: str = ""  # of the data when the study started: resume refuses changed data
    corpus_stats: Mapping[str, int] = field(default_factory=dict)
    config_file: str | None = None  # --config, absolute
    config_text: str | None = None  # its text, as read
    overrides: Mapping[str, Any] = field(default_factory=dict)  # its parsed search-space overrides
    trials: int = DEFAULT_TRIALS
    max_epochs: int = DEFAULT_MAX_EPOCHS
    grace_period: int = DEFAULT_GRACE_PERIOD
    reduction_factor: float = DEFAULT_REDUCTION_FACTOR
    cpus_per_trial: float = DEFAULT_CPUS_PER_TRIAL
    gpus_per_trial: float = DEFAULT_GPUS_PER_TRIAL
    max_failures: int = DEFAULT_MAX_FAILURES
    seed: int = DEFAULT_SEED
    min_count: int = DEFAULT_MIN_COUNT
    validation_pairs: int = DEFAULT_VALIDATION_PAIRS
    # pairs each epoch of a trial is scored on (0: all; None: sized by the vocabulary, trial_validation_sample)
    validation_sample: int | None = DEFAULT_VALIDATION_SAMPLE
    test_pairs: int = DEFAULT_TEST_PAIRS
    optuna_storage: str | None = None  # an Optuna storage URL; None: a file in the study directory
    optuna_backend: str = "sqlite"  # that file's kind (OPTUNA_BACKENDS); a study.json without it is SQLite
    repeats: int = DEFAULT_REPEATS  # after the search, retrain the top configurations with this many new seeds
    repeat_top: int = DEFAULT_REPEAT_TOP  # how many configurations the repeats retrain
    log_to: tuple[str, ...] = ()  # experiment trackers (TRACKERS) that every trial's results also go to
    sample: float = DEFAULT_SAMPLE  # fraction of the training playlists (seeded); held-out pairs stay the whole corpus'
    warm_start_from: str | None = None  # an earlier study's directory, absolute
    warm_start_top: int = DEFAULT_WARM_START_TOP  # how many of its configurations are tried first
    # The configurations read from it when this study started (searched parameters only), so that
    # resuming needs neither that study nor a second reading of it.
    warm_start_points: tuple[Mapping[str, Any], ...] = ()
    max_epoch_seconds: float | None = None  # budget: training seconds per epoch (tune/cost.py)
    max_trial_memory: float | None = None  # budget: a trial's peak resident memory, MiB
    gensim: bool = False  # also score gensim's skip-gram with its defaults beside the counts (--gensim)
    metric: str = METRIC_DESCRIPTION
    command: tuple[str, ...] = ()  # the command line that started the study

    def __post_init__(self) -> None:
        for name in ("name", "data"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ConfigError(f"{name}: expected a non-empty string, got {value!r}")
        for name, lowest in _WHOLE_NUMBERS.items():
            value = getattr(self, name)
            if value is None and name in _UNSET_ALLOWED:
                continue
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"{option(name)}: expected a whole number, got {value!r}")
            if lowest is not None and value < lowest:
                raise ConfigError(f"{option(name)} must be >= {lowest}, got {value}")
        for name in (*_NUMBERS, "sample", *(budget for budget in _BUDGETS if getattr(self, budget) is not None)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ConfigError(f"{option(name)}: expected a finite number, got {value!r}")
        for name in _BUDGETS:
            if getattr(self, name) is not None and getattr(self, name) <= 0:
                raise ConfigError(f"{option(name)} must be > 0, got {getattr(self, name)}")
        if not isinstance(self.gensim, bool):
            raise ConfigError(f"gensim: expected true or false, got {self.gensim!r}")
        if not 0 < self.sample <= 1:
            raise ConfigError(f"--sample must be in (0, 1] (a fraction of the training playlists), got {self.sample}")
        if self.warm_start_from is not None and (not isinstance(self.warm_start_from, str) or not self.warm_start_from):
            raise ConfigError(f"--warm-start-from: expected a study directory, got {self.warm_start_from!r}")
        if isinstance(self.warm_start_points, (str, Mapping)) or not all(
                isinstance(point, Mapping) for point in self.warm_start_points):
            raise ConfigError(f"warm_start_points: expected a list of configurations, got {self.warm_start_points!r}")
        object.__setattr__(self, "warm_start_points", tuple(dict(point) for point in self.warm_start_points))
        if self.optuna_backend not in OPTUNA_BACKENDS:
            raise ConfigError(f"optuna_backend: expected one of {', '.join(OPTUNA_BACKENDS)}, got {self.optuna_backend!r}")
        checks = [
            (self.grace_period <= self.max_epochs,
             f"--grace-period ({self.grace_period}) must not exceed --max-epochs ({self.max_epochs})"),
            (self.reduction_factor > 1, f"--reduction-factor must be > 1, got {self.reduction_factor}"),
            (self.cpus_per_trial >= 0, f"--cpus-per-trial must be >= 0, got {self.cpus_per_trial}"),
            (self.gpus_per_trial >= 0, f"--gpus-per-trial must be >= 0, got {self.gpus_per_trial}"),
            (self.cpus_per_trial > 0 or self.gpus_per_trial > 0, "--cpus-per-trial must be > 0"),
            (self.gpus_per_trial <= 1 or float(self.gpus_per_trial).is_integer(),
             f"--gpus-per-trial above 1 must be a whole number, got {self.gpus_per_trial}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)
        object.__setattr__(self, "command", tuple(self.command))
        if isinstance(self.log_to, str) or any(tracker not in TRACKERS for tracker in self.log_to):
            raise ConfigError(f"--log-to: expected some of {', '.join(TRACKERS)}, got {self.log_to!r}")
        object.__setattr__(self, "log_to", tuple(dict.fromkeys(self.log_to)))

    def trial_validation_sample(self, vocabulary_size: int) -> int:
        """How many validation pairs each epoch of a trial is scored on (0: all) for this vocabulary."""
        if self.validation_sample is not None:
            return self.validation_sample
        return max(VALIDATION_SAMPLE_FLOOR, VALIDATION_SCORING_BUDGET // max(1, vocabulary_size))

    @property
    def has_budget(self) -> bool:
        return any(getattr(self, name) is not None for name in _BUDGETS)

    def space(self, artists: bool = True):
        """The study's search space (its defaults with the ``--config`` overrides).

        ``artists``: whether the corpus names artists (``artist_vectors`` is searched only then).
        """
        from tune.search_space import build_space

        return build_space(dict(self.overrides), source=self.config_file or "config", artists=artists)

    def differences(self, other: StudySpec) -> list[str]:
        """The settings of ``SAME_STUDY`` in which ``other`` differs from this spec."""
        return [name for name in SAME_STUDY if getattr(other, name) != getattr(self, name)]

    # study.json

    def to_json(self) -> str:
        values = asdict(self)
        values["command"] = list(self.command)
        values["log_to"] = list(self.log_to)
        values["warm_start_points"] = [dict(point) for point in self.warm_start_points]
        return json.dumps({"format_version": FORMAT_VERSION, **values}, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str, default_name: str) -> StudySpec:
        """Read ``study.json``; ``default_name`` names a study whose file does not. Raises ConfigError."""
        try:
            values = json.loads(text)
        except ValueError as error:
            raise ConfigError(f"unreadable ({error})") from None
        if not isinstance(values, dict):
            raise ConfigError(f"expected a JSON object, got {type(values).__name__}")
        version = values.get("format_version")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise ConfigError(f"unknown format version {version!r}")
        if version > FORMAT_VERSION:
            raise ConfigError(f"format version {version} is newer than this track2vec-tune reads "
                              f"({FORMAT_VERSION}): upgrade track2vec-tune")
        known = {spec_field.name for spec_field in fields(cls)}
        # Whole numbers in JSON stay ints; a float setting written as 3 is read back as 3.0.
        settings = {key: value for key, value in values.items() if key in known}
        for name in (*_NUMBERS, "sample", *_BUDGETS):
            if isinstance(settings.get(name), int) and not isinstance(settings[name], bool):
                settings[name] = float(settings[name])
        if version < 3:
            settings.setdefault("validation_sample", 0)  # its trials scored every validation pair
        return cls(**{"name": default_name, **settings})
