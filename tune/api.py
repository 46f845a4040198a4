"""The Python API: ``track2vec-tune``'s commands as a ``Study`` object, for notebooks and scripts.

::

    from tune import Study

    study = Study.run(data="builtin:tiny", trials=4, storage="studies", name="demo", max_epochs=3)
    study.table()        # every trial: a pandas DataFrame where pandas is installed, else a list of dicts
    study.winner         # its hyperparameters, scoring, validation and test scores, seed, intervals
    study.export(force=True)

Each method calls the function of ``tune/run.py`` that the command line calls, with the same
settings (``StudySpec``'s fields as keyword arguments) and the same errors
(``track2vec.errors.Track2VecError`` for bad input, e.g. ``ConfigError``). A study that stops
before it finishes raises ``KeyboardInterrupt`` (interrupted; ``Study.resume`` continues it) or
``StudyFailed`` (no trial finished an epoch).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from track2vec.errors import ConfigError, Track2VecError
from track2vec.scoring import Scoring

from tune import run as commands
from tune.comparison import TEST, VALIDATION, WINNER, Comparison, Score
from tune.intervals import StudyIntervals
from tune.spec import StudySpec
from tune.study import Study as Location
from tune.study import check_name, default_name, resolve_storage

HOST, PORT = commands.ClusterOptions.dashboard_host, commands.ClusterOptions.dashboard_port  # a local cluster's dashboard
# Keyword arguments of Study.run that are not StudySpec fields of the same name.
_ALIASES = {"top": "repeat_top"}
# StudySpec fields that Study.run sets itself (or that are derived), never given as options.
_NOT_OPTIONS = {"name", "storage", "created", "data", "data_fingerprint", "corpus_stats", "config_file",
                "config_text", "overrides", "metric", "command", "trials", "warm_start_points"}


class StudyFailed(Track2VecError):
    """A study ended without any trial finishing an epoch (the command line's exit status 1)."""


@dataclass(frozen=True)
class Winner:
    """The exported winner, as its ``model.json`` describes it."""

    trial_id: str  # the search trial of the winning configuration
    hyperparameters: dict[str, Any]  # the configuration, with the epochs and seed of the exported vectors
    scoring: Scoring  # how it ranks candidates (chosen on validation)
    validation: Score | None
    test: Score | None  # scored once, on the held-out test pairs
    seed: int  # the seed of the exported vectors
    vectors_trial: str  # the trial whose vectors are exported: trial_id, or with repeats its best seed's repeat
    best_epoch: int | None
    intervals: StudyIntervals | None  # test intervals of the winner, the runner-up and the baselines
    export_path: str
    # where validation chose an ensemble: the trials whose vectors are exported side by side (vectors_trial first)
    ensemble: list[str] = field(default_factory=list)


class Study:
    """A study of a storage, by name; ``Study.run``, ``Study.resume`` and ``Study.open`` make one."""

    def __init__(self, name: str, storage: str | Path | None = None) -> None:
        self._location = Location(resolve_storage(str(storage) if storage is not None else None), check_name(name))

    def __repr__(self) -> str:
        return f"Study(name={self.name!r}, storage={self.storage!r})"

    @property
    def name(self) -> str:
        return self._location.name

    @property
    def storage(self) -> str:
        return self._location.storage

    @property
    def path(self) -> str:
        return self._location.path

    @property
    def spec(self) -> StudySpec:
        """The study's settings (its ``study.json``)."""
        return self._location.load_spec()

    # --- the commands ------------------------------------------------------------------------

    @classmethod
    def run(cls, data: str = "builtin", trials: int | None = None, storage: str | Path | None = None,
            name: str | None = None, *, config: str | Path | None = None, resume: bool = False,
            address: str | None = None, dashboard: bool = True, dashboard_host: str = HOST,
            dashboard_port: int = PORT, **options: Any) -> Study:
        """``track2vec-tune run``: a new study (with ``resume``, continue the one of that name); returns it
        finished and exported. ``options`` are the run's other settings by ``StudySpec`` field name
        (``max_epochs``, ``seed``, ``cpus_per_trial``, ``repeats``, ``top``, ``log_to``, ``sample``,
        ``warm_start_from``, ``warm_start_top``, ``max_epoch_seconds``, ``max_trial_memory``, ``gensim``, ...)."""
        study = cls(name or default_name(), storage)
        settings = _settings(options)
        if trials is not None:
            settings["trials"] = trials
        spec = commands.new_spec(study._location, data, command=("tune.api.Study.run",), **settings)
        cluster = commands.ClusterOptions(address, dashboard_host, dashboard_port, dashboard)
        study._check(commands.start(study._location, spec, Path(config) if config else None, cluster,
                               resume_existing=resume))
        return study

    @classmethod
    def resume(cls, name: str, storage: str | Path | None = None, *, address: str | None = None,
               dashboard: bool = True, dashboard_host: str = HOST,
               dashboard_port: int = PORT) -> Study:
        """``track2vec-tune resume``: continue an interrupted study; returns it finished and exported."""
        study = cls.open(name, storage)
        cluster = commands.ClusterOptions(address, dashboard_host, dashboard_port, dashboard)
        study._check(commands.resume(study._location, cluster))
        return study

    @classmethod
    def open(cls, name: str, storage: str | Path | None = None) -> Study:
        """An existing study (finished, interrupted or running); an unknown name is a ConfigError."""
        study = cls(name, storage)
        study._location.load_spec()
        return study

    def repeat(self, repeats: int = 3, top: int = 3, *, force: bool = False, address: str | None = None,
               dashboard: bool = True, dashboard_host: str = HOST,
               dashboard_port: int = PORT) -> Study:
        """``track2vec-tune repeat``: retrain the ``top`` configurations with ``repeats`` new seeds, export again."""
        cluster = commands.ClusterOptions(address, dashboard_host, dashboard_port, dashboard)
        self._check(commands.repeat(self._location, repeats, top, cluster, force=force))
        return self

    def export(self, force: bool = False, gensim: bool = False) -> str:
        """``track2vec-tune export``: write the winner and the tables into ``<study>/export``; returns its path.
        ``gensim``: score gensim's skip-gram beside the counts (``export --gensim``)."""
        commands.export(self._location, force=force, gensim=gensim)
        return self._location.export_path

    def status(self) -> dict[str, Any]:
        """``track2vec-tune status --json``: trials by status, the best so far, the export's scores and intervals."""
        return commands.status_data(self._location)

    def report(self) -> str:
        """``track2vec-tune report``: write ``<study>/report.html``; returns its path."""
        commands.report(self._location)
        return f"{self.path}/report.html"

    # --- reading -----------------------------------------------------------------------------

    def table(self):
        """Every trial, best validation NDCG@10 first, with the columns of ``trials.csv`` (the winner's test
        scores and the repeats' means where the study has them): a pandas DataFrame where pandas is
        installed, else a list of dicts."""
        from tune.evaluation import evaluate_study
        from tune.table import columns, records

        evaluation = evaluate_study(self._location, self._location.load_spec(), corpus=None)
        info = commands.exported_info(self._location) or {}
        comparison, _ = commands.exported_scores(self._location)
        rows = records(evaluation, info.get("trial_id"), comparison or Comparison())
        try:
            import pandas
        except ImportError:
            return rows
        return pandas.DataFrame(rows, columns=[name for name, _ in columns(evaluation.repeats, csv_columns=True)])

    @property
    def winner(self) -> Winner:
        """The exported winner (``study.export()`` writes it; ``run`` and ``resume`` do at the end)."""
        info = commands.exported_info(self._location)
        if info is None or "trial_id" not in info:
            raise ConfigError(f"study {self.name!r} has no export yet: study.export() writes one")
        comparison, intervals = commands.exported_scores(self._location)
        comparison = comparison or Comparison()
        vectors = info.get("vectors") or {}
        return Winner(
            trial_id=info["trial_id"], hyperparameters=dict(info.get("hyperparameters", {})),
            scoring=Scoring.from_dict(info.get("scoring") or {}),
            validation=comparison.score(WINNER, VALIDATION) if WINNER in comparison else None,
            test=comparison.score(WINNER, TEST) if WINNER in comparison else None,
            seed=int(info.get("seed", 0)), vectors_trial=str(vectors.get("trial_id", info["trial_id"])),
            best_epoch=info.get("best_epoch"), intervals=intervals, export_path=self._location.export_path,
            ensemble=list((info.get("ensemble") or {}).get("trial_ids", [])),
        )

    def _check(self, code: int) -> None:
        if code == commands.INTERRUPTED:
            raise KeyboardInterrupt(f"study {self.name!r} was interrupted; its state is saved: "
                                    f"Study.resume(name={self.name!r}, storage={self.storage!r}) continues it")
        if code != 0:
            raise StudyFailed(f"study {self.name!r}: no trial finished an epoch; each trial's error is in "
                              f"{self.path}/trial_<id>/error.txt")


def _settings(options: Mapping[str, Any]) -> dict[str, Any]:
    """``Study.run``'s options as StudySpec fields; an unknown one is a ConfigError naming the known ones."""
    known = sorted({field.name for field in fields(StudySpec)} - _NOT_OPTIONS - set(_ALIASES.values())
                   | set(_ALIASES))
    settings = {}
    for key, value in options.items():
        if key not in known:
            raise ConfigError(f"Study.run: unknown option {key!r} (known: {', '.join(known)})")
        if key == "log_to":
            value = (value,) if isinstance(value, str) else tuple(value) if isinstance(value, Iterable) else value
        if key == "warm_start_from" and isinstance(value, Path):
            value = str(value)
        settings[_ALIASES.get(key, key)] = value
    return settings
