"""Run and resume a study: connect to Ray, build the Tuner, fit.

The driver builds the corpus once; ``tune.with_parameters`` puts it into Ray's object
store once and every trial reads its NumPy arrays zero-copy from there.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass, replace
from urllib.parse import urlparse

from ray.tune import Callback

from track2vec.cli_support import stop_on_sigterm
from track2vec.corpus import Corpus, build_corpus
from track2vec.corpus_sample import sample_training
from track2vec.data.loaders import load_playlists
from track2vec.errors import ConfigError, DataError, StorageError
from track2vec.vocabulary import artist_ids

from tune.adapters import ray_auth
from tune.cost import PEAK_MEMORY_MIB, SECONDS_PER_EPOCH, Budget, BudgetStopper, peak_memory_resettable
from tune.search_space import PARAMS, SearchSpace
from tune.spec import StudySpec
from tune.study import Study
from tune.trainable import METRIC, OBJECTIVE, TIME_ATTR, TrialSettings, train_trial

# Ray snapshots its experiment state at most this often (its own default waits much longer);
# a short period keeps what `resume` sees after a killed driver close to what happened.
EXPERIMENT_SNAPSHOT_SECONDS = "2"
KEEP_CHECKPOINTS = 2


@dataclass
class Outcome:
    """How ``fit`` ended: ``interrupted`` when some trials are left to run."""

    interrupted: bool
    seconds: float


def load_corpus(spec: StudySpec) -> Corpus:
    """The study's corpus, built from its settings, its training playlists sampled with ``--sample``;
    refuses data that changed since the study started."""
    corpus = build_corpus(
        load_playlists(spec.data, spec.seed), spec.min_count,
        spec.validation_pairs, spec.test_pairs, spec.seed,
    )
    expected = spec.data_fingerprint
    if expected and corpus.fingerprint != expected:
        raise DataError(f"{spec.data}: the data changed since the study started "
                        f"(fingerprint {corpus.fingerprint}, study has {expected})")
    return sample_training(corpus, spec.sample, spec.seed)


# ---------------------------------------------------------------------------------------
# Ray connection


def has_artists(corpus: Corpus) -> bool:
    """Whether the corpus names its items' artists (then ``artist_vectors`` can be searched)."""
    return artist_ids(corpus.vocabulary) is not None


def _check_reachable(address: str) -> None:
    """Fail fast with one line on an address nobody listens on (ray.init retries for long)."""
    if address in ("auto", "local"):
        return
    parsed = urlparse(address if "://" in address else f"tcp://{address}")
    if not parsed.hostname or not parsed.port:
        raise ConfigError(f"--address {address!r}: expected auto, HOST:PORT or ray://HOST:PORT")
    try:
        socket.create_connection((parsed.hostname, parsed.port), timeout=5).close()
    except OSError as error:
        raise ConfigError(f"cannot reach a Ray cluster at {address} ({error.strerror or error})") from None


def authentication_problem(address: str) -> str:
    """Why this shell cannot authenticate to the Ray cluster at ``address``, and what to set."""
    head_token = "the head node's token (`ray get-auth-token` on the head prints it)"
    if not ray_auth.token_auth_enabled():
        return (f"the Ray cluster at {address} requires token authentication: set RAY_AUTH_MODE=token in this "
                f"shell, with {head_token} in ~/.ray/auth_token or RAY_AUTH_TOKEN")
    if not ray_auth.has_token():
        return (f"cannot connect to Ray at {address}: RAY_AUTH_MODE=token but this machine has no Ray token: "
                f"set RAY_AUTH_TOKEN to {head_token}, or put it in ~/.ray/auth_token")
    return (f"the Ray cluster at {address} refused this machine's token (from RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH "
            f"or ~/.ray/auth_token): set RAY_AUTH_TOKEN to {head_token}")


def _check_credentials(address: str) -> None:
    """One line when the cluster refuses our token, before ``ray.init`` (which retries for long, loudly)."""
    if address in ("auto", "local") or "://" in address:
        return  # Ray finds the cluster itself (auto) or talks to a Ray Client server (ray://)
    if ray_auth.gcs_refuses_credentials(address):
        raise ConfigError(authentication_problem(address))


def connect(address: str | None, dashboard_host: str, dashboard_port: int, dashboard: bool = True) -> str:
    """``ray.init`` a local cluster or connect to ``address``; returns the dashboard URL ("" without one)."""
    import ray
    from ray.exceptions import AuthenticationError

    address = address or os.environ.get("RAY_ADDRESS") or None
    if address:
        _check_reachable(address)
        _check_credentials(address)
    try:
        if address:
            context = ray.init(address=address, log_to_driver=False)
        else:
            # "local": a new cluster even when another one runs on this machine.
            context = ray.init(address="local", include_dashboard=dashboard, dashboard_host=dashboard_host,
                               dashboard_port=dashboard_port, log_to_driver=False)
    except AuthenticationError:
        raise ConfigError(authentication_problem(address or "local")) from None
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise ConfigError(f"cannot connect to Ray{' at ' + address if address else ''}: "
                          f"{str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__}") from None
    stop_on_sigterm()  # in place of the handler ray.init installs
    url = getattr(context, "dashboard_url", None) or ""
    return f"http://{url}" if url and "://" not in url else url


def check_resources(spec: StudySpec) -> None:
    """A trial that no node of the cluster can host would wait forever: refuse it now."""
    import ray

    nodes = [node.get("Resources", {}) for node in ray.nodes() if node.get("Alive")]
    for key, wanted, option in (("CPU", spec.cpus_per_trial, "--cpus-per-trial"),
                                ("GPU", spec.gpus_per_trial, "--gpus-per-trial")):
        if wanted > 0 and not any(node.get(key, 0) >= wanted for node in nodes):
            largest = max((node.get(key, 0) for node in nodes), default=0)
            raise ConfigError(f"{option} {wanted:g}: no node of the cluster has that many {key}s (largest: {largest:g})")


def check_memory_budget(spec: StudySpec, corpus: Corpus) -> None:
    """Refuse a --max-trial-memory that no configuration of the space fits, before any cluster starts:
    the budget alone decides that (the cluster's offer only lowers the cap, later)."""
    from tune.memory import cap_to_memory, trial_memory_limit

    if spec.max_trial_memory is not None:
        cap_to_memory(spec.space(has_artists(corpus)), corpus, trial_memory_limit(spec.max_trial_memory,
                                                                                 spec.cpus_per_trial, []))


def fit_space_to_memory(spec: StudySpec, corpus: Corpus):
    """``(spec, cap)``: the spec with its space capped to the memory a trial can have (tune/memory.py), and
    what was capped (None: the largest trial fits, or nothing limits it)."""
    import ray

    from tune.memory import cap_to_memory, trial_memory_limit

    nodes = [node.get("Resources", {}) for node in ray.nodes() if node.get("Alive")]
    limit = trial_memory_limit(spec.max_trial_memory, spec.cpus_per_trial, nodes)
    if limit is None:
        return spec, None
    overrides, cap = cap_to_memory(spec.space(has_artists(corpus)), corpus, limit)
    return (replace(spec, overrides={**spec.overrides, **overrides}), cap) if cap else (spec, None)


def shutdown() -> None:
    """Leave the cluster (a local one stops)."""
    import ray

    if ray.is_initialized():
        ray.shutdown()


def print_connection(dashboard_url: str, study_is_local: bool = True, stream=None) -> None:
    import ray

    stream = stream or sys.stdout
    resources = ray.cluster_resources()
    nodes = [node for node in ray.nodes() if node.get("Alive")]
    print(f"Ray cluster: {len(nodes)} node(s), {resources.get('CPU', 0):g} CPUs, {resources.get('GPU', 0):g} GPUs",
          file=stream, flush=True)
    if dashboard_url:
        print(f"Ray dashboard: {dashboard_url}", file=stream, flush=True)
    if len(nodes) > 1 and study_is_local:
        print("  note: with several nodes, the storage path must be one shared filesystem mounted at the "
              "same path on every node (or use --storage s3://...)", file=stream, flush=True)
    if dashboard_url and ray_auth.token_auth_enabled():
        print("  token authentication is on: the dashboard asks for the token that "
              "`ray get-auth-token` prints", file=stream, flush=True)


# ---------------------------------------------------------------------------------------
# Tuner


def trial_name(trial) -> str:
    return f"trial_{trial.trial_id}"


def _settings(spec: StudySpec, corpus: Corpus) -> TrialSettings:
    return TrialSettings(spec.max_epochs, spec.seed, spec.cpus_per_trial, spec.gpus_per_trial,
                         spec.trial_validation_sample(len(corpus.vocabulary)))


def _callbacks(study: Study, spec: StudySpec, experiment: str) -> list:
    """Tune callbacks of a study's experiments: ``result.json`` (Ray's logger, kept from dropping lines when a
    trial starts again), the storage watch and the trackers of ``--log-to``."""
    from tune.adapters.ray_loggers import AppendingJsonLogger
    from tune.trackers import tracker_callbacks

    return [AppendingJsonLogger(), StorageWatch(study), *tracker_callbacks(spec.log_to, experiment)]


def reuse_actors() -> bool:
    """Whether trials reuse the worker processes of finished ones: a new worker spends seconds importing
    TensorFlow and compiling the sampler before its first step, often more than a small trial trains. Only
    where a trial can measure its own peak memory in a reused process (``tune.cost.reset_peak_memory``)."""
    return peak_memory_resettable()


def _trainable(spec: StudySpec, corpus: Corpus):
    from ray import tune

    resources = {"cpu": spec.cpus_per_trial, "gpu": spec.gpus_per_trial}
    return tune.with_resources(
        tune.with_parameters(train_trial, corpus=corpus, settings=_settings(spec, corpus)), resources,
    )


def _reporter(spec: StudySpec, space: SearchSpace):
    from ray.tune import CLIReporter

    searched = [name for name in PARAMS if name in space.distributions]
    return CLIReporter(
        metric_columns={TIME_ATTR: "epoch", METRIC: "val NDCG@10", OBJECTIVE: "best", "val_hr_at_10": "HR@10",
                        "loss": "loss", "pairs_per_second": "pairs/s", SECONDS_PER_EPOCH: "s/epoch",
                        PEAK_MEMORY_MIB: "peak MiB"},
        parameter_columns=searched,
        metric=OBJECTIVE, mode="max", sort_by_metric=True, max_report_frequency=20, max_progress_rows=15,
    )


def _environment() -> None:
    os.environ.setdefault("TUNE_GLOBAL_CHECKPOINT_S", EXPERIMENT_SNAPSHOT_SECONDS)
    # Frequent snapshots are deliberate (see above): no warning about them.
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # the classic CLIReporter table


def build_tuner(study: Study, spec: StudySpec, corpus: Corpus):
    """A new Tuner for a study whose directory and ``study.json`` exist."""
    from ray import tune

    from tune import optuna_store
    from tune.scheduler import ResumableASHA
    from tune.searcher import PruningOptunaSearch, make_sampler

    _environment()
    space = spec.space(has_artists(corpus))
    budget = Budget.of(spec)
    searcher = PruningOptunaSearch(
        space.distributions, metric=METRIC, objective=OBJECTIVE, step_attr=TIME_ATTR,
        max_steps=spec.max_epochs, sampler=make_sampler(spec.seed, spec.trials),
        study_name=study.name, storage=optuna_store.storage(study, spec), budget=budget,
        points_to_evaluate=[dict(point) for point in spec.warm_start_points], trial_config=space.trial_config,
    )
    scheduler = ResumableASHA(
        searcher, time_attr=TIME_ATTR, metric=METRIC, mode="max", max_t=spec.max_epochs,
        grace_period=spec.grace_period, reduction_factor=spec.reduction_factor,
    )
    return tune.Tuner(
        _trainable(spec, corpus),
        param_space=dict(space.fixed),
        tune_config=tune.TuneConfig(
            search_alg=searcher, scheduler=scheduler, num_samples=spec.trials,
            trial_name_creator=trial_name, trial_dirname_creator=trial_name, reuse_actors=reuse_actors(),
        ),
        run_config=tune.RunConfig(
            name=study.name, storage_path=study.storage, storage_filesystem=study.ray_filesystem(),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=KEEP_CHECKPOINTS),
            failure_config=tune.FailureConfig(max_failures=spec.max_failures),
            progress_reporter=_reporter(spec, space), verbose=1,
            callbacks=_callbacks(study, spec, study.name),
            stop=BudgetStopper(budget) if budget.active else None,
        ),
    )


def build_repeat_tuner(study: Study, spec: StudySpec, corpus: Corpus, plan):
    """A Tuner that trains the points of a repeat plan (``tune.repeats.RepeatPlan``) as trials of their own
    experiment, ``<study>/repeats``: a fixed list of configs, no searcher, no early stopping."""
    from ray import tune
    from ray.tune import CLIReporter
    from ray.tune.search.basic_variant import BasicVariantGenerator

    from tune.trainable import EPOCHS_KEY, SEED_KEY, SOURCE_KEY

    _environment()
    points = plan.points()
    reporter = CLIReporter(
        metric_columns={TIME_ATTR: "epoch", METRIC: "val NDCG@10", OBJECTIVE: "best"},
        parameter_columns={SOURCE_KEY: "configuration", SEED_KEY: "seed", EPOCHS_KEY: "epochs"},
        metric=OBJECTIVE, mode="max", sort_by_metric=True, max_report_frequency=20, max_progress_rows=15,
    )
    return tune.Tuner(
        _trainable(spec, corpus),
        # Tune sets a point's values only at keys of the param space: each key, without a value of its own.
        param_space=dict.fromkeys(key for point in points for key in point),
        tune_config=tune.TuneConfig(
            search_alg=BasicVariantGenerator(points_to_evaluate=points), num_samples=len(points),
            trial_name_creator=trial_name, trial_dirname_creator=trial_name, reuse_actors=reuse_actors(),
        ),
        run_config=tune.RunConfig(
            name=study.repeats().name, storage_path=study.repeats().storage,
            storage_filesystem=study.repeats().ray_filesystem(),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=KEEP_CHECKPOINTS),
            failure_config=tune.FailureConfig(max_failures=spec.max_failures),
            progress_reporter=reporter, verbose=1,
            callbacks=_callbacks(study, spec, f"{study.name}-repeats"),
        ),
    )


def restore_repeat_tuner(study: Study, spec: StudySpec, corpus: Corpus):
    """The Tuner of interrupted repeats: finished repeats kept, the others continue from their checkpoints."""
    from ray import tune

    from tune.reader import read_analysis

    _environment()
    try:
        read_analysis(study.repeats())
    except (ValueError, EOFError, OSError) as error:
        raise StorageError(f"{study.repeats().path}: Ray's saved state of the repeats is damaged "
                           f"({type(error).__name__}); `track2vec-tune repeat --name {study.name} --force` "
                           "runs them again") from None
    return tune.Tuner.restore(study.repeats().path, trainable=_trainable(spec, corpus),
                              storage_filesystem=study.repeats().ray_filesystem(),
                              resume_unfinished=True, resume_errored=True)


class StorageWatch(Callback):
    """A Tune callback: once a trial fails and the study directory cannot take files (disk full,
    read-only), stop the study as Ctrl-C does instead of letting every trial fail in turn."""

    def __init__(self, study: Study) -> None:
        self.study = study
        self.tripped = False

    def _check(self) -> None:
        if self.tripped or self.study.storage_problem() is None:
            return
        self.tripped = True
        if signal.getsignal(signal.SIGUSR1) not in (signal.SIG_DFL, signal.SIG_IGN, None):  # Tune's handler
            os.kill(os.getpid(), signal.SIGUSR1)

    def on_trial_recover(self, iteration, trials, trial, **info) -> None:
        self._check()

    def on_trial_error(self, iteration, trials, trial, **info) -> None:
        self._check()


def check_restorable(study: Study) -> None:
    """Refuse, in one line, a study whose saved Ray state is unreadable."""
    from tune.reader import read_analysis

    try:
        read_analysis(study)
    except (ValueError, EOFError, OSError) as error:  # damaged after the fact, or written before tune.whole_files
        raise StorageError(f"{study.path}: Ray's saved state of the study is damaged ({type(error).__name__}), so it "
                           f"cannot be resumed; `track2vec-tune status` and `export --name {study.name}` still "
                           "read the trials from their directories") from None


def restore_tuner(study: Study, spec: StudySpec, corpus: Corpus):
    """The Tuner of an interrupted study: finished trials kept, the others continue."""
    from ray import tune

    _environment()
    check_restorable(study)
    return tune.Tuner.restore(
        study.path, trainable=_trainable(spec, corpus), param_space=dict(spec.space(has_artists(corpus)).fixed),
        storage_filesystem=study.ray_filesystem(),
        # restart_errored crashes with OptunaSearch in Ray 2.60; resume_errored continues
        # errored trials from their last checkpoint instead.
        resume_unfinished=True, resume_errored=True,
    )


def fit(tuner, study: Study, spec: StudySpec) -> Outcome:
    """Run the study's Tuner; Ctrl-C or SIGTERM stop it gracefully (Ray saves its state first).

    A storage that fails (disk full, read-only) ends it with a StorageError.
    """
    from tune.reader import read_rows

    seconds = _fit(tuner, study)
    # Read the saved snapshot: after an interruption Ray's in-memory trials are already cleaned up.
    rows = read_rows(study, spec)
    unfinished = [row for row in rows if not row.finished_in_ray]
    return Outcome(interrupted=bool(unfinished) or len(rows) < spec.trials, seconds=seconds)


def fit_repeats(tuner, study: Study, trials: int) -> Outcome:
    """Run the repeats' Tuner (``trials`` of them) as ``fit`` runs the study's."""
    from tune.reader import read_repeat_rows

    seconds = _fit(tuner, study)
    rows = read_repeat_rows(study)
    unfinished = [row for row in rows if not row.finished_in_ray]
    return Outcome(interrupted=bool(unfinished) or len(rows) < trials, seconds=seconds)


def _fit(tuner, study: Study) -> float:
    """``tuner.fit()`` with SIGTERM as Ctrl-C and the storage checked; returns the seconds it took."""
    main_thread = threading.current_thread() is threading.main_thread()
    if main_thread:
        previous = signal.getsignal(signal.SIGTERM)
        # Tune handles SIGINT and SIGUSR1 by snapshotting its state and stopping: treat SIGTERM alike.
        signal.signal(signal.SIGTERM, lambda *_: os.kill(os.getpid(), signal.SIGUSR1))
    started = time.perf_counter()
    try:
        tuner.fit()
    except Exception:
        if study.storage_problem() is None:
            raise
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
    seconds = time.perf_counter() - started
    problem = study.storage_problem()
    if problem is not None:
        raise StorageError(
            f"the study's storage failed: {study.path}: {problem}; the study stopped after {seconds:.0f} s. "
            f"Trials finished so far are kept: `track2vec-tune status --name {study.name} --storage {study.storage}` "
            "lists them and `track2vec-tune export` writes the winner once the storage takes files again")
    return seconds
