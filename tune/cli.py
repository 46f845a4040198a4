"""``track2vec-tune``: distributed hyperparameter search for track2vec (Ray Tune + Optuna + ASHA).

Commands: ``run`` a new study, ``resume`` an interrupted one, ``export`` the winner and
the evaluation table, ``status`` of a study (read from storage, works while it runs),
``report`` (an HTML page of an exported study, by tune/report.py).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

from track2vec.cli_support import OneLineParser, add_version, run_main
from track2vec.corpus import DEFAULT_MIN_COUNT, DEFAULT_TEST_PAIRS, DEFAULT_VALIDATION_PAIRS
from track2vec.errors import ConfigError, ExportExistsError

from tune.spec import (
    DEFAULT_CPUS_PER_TRIAL, DEFAULT_DATA, DEFAULT_GPUS_PER_TRIAL, DEFAULT_GRACE_PERIOD, DEFAULT_MAX_EPOCHS,
    DEFAULT_MAX_FAILURES, DEFAULT_REDUCTION_FACTOR, DEFAULT_SEED, DEFAULT_TRIALS, StudySpec, option,
)

# track2vec.config imports Keras, hence TensorFlow, in the driver too: keep its C++ logs quiet.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

PROG = "track2vec-tune"
TABLE_ROWS = 12

def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_version(parser)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    defaults = argparse.ArgumentDefaultsHelpFormatter

    def location(sub: argparse.ArgumentParser, name_required: bool) -> None:
        sub.add_argument("--storage", default=None,
                         help="directory (absolute, or made absolute) or URI (s3://...) holding the studies; "
                              "default $TRACK2VEC_STORAGE or ~/track2vec-studies")
        sub.add_argument("--name", required=name_required, default=None, help="the study's name")

    def cluster(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--address", default=None,
                         help="existing Ray cluster: auto, HOST:PORT or ray://HOST:PORT (default $RAY_ADDRESS, "
                              "else a local cluster is started)")
        sub.add_argument("--dashboard-host", default="127.0.0.1", help="interface of a local cluster's dashboard")
        sub.add_argument("--dashboard-port", type=int, default=8265, help="port of a local cluster's dashboard")
        sub.add_argument("--no-dashboard", dest="dashboard", action="store_false",
                         help="start a local cluster without the dashboard (headless machines; needs no ray[default])")

    run = commands.add_parser("run", help="start a new study", formatter_class=defaults)
    run.add_argument("--data", default=DEFAULT_DATA,
                     help="a Deezer-style .npy file, a text file (one playlist per line), or builtin[:tiny|small|deezer]")
    run.add_argument("--config", type=Path, default=None, help="TOML file overriding search ranges or fixing values")
    run.add_argument("--trials", type=_positive_int, default=DEFAULT_TRIALS, help="number of trials")
    run.add_argument("--max-epochs", type=_positive_int, default=DEFAULT_MAX_EPOCHS, help="epochs of a full trial")
    run.add_argument("--grace-period", type=_positive_int, default=DEFAULT_GRACE_PERIOD,
                     help="epochs before ASHA may stop a trial")
    run.add_argument("--reduction-factor", type=float, default=DEFAULT_REDUCTION_FACTOR,
                     help="ASHA keeps 1/factor of the trials at each rung")
    run.add_argument("--cpus-per-trial", type=_non_negative_float, default=DEFAULT_CPUS_PER_TRIAL, help="CPUs per trial")
    run.add_argument("--gpus-per-trial", type=_non_negative_float, default=DEFAULT_GPUS_PER_TRIAL,
                     help="GPUs per trial (fractions share a GPU)")
    run.add_argument("--max-failures", type=_non_negative_int, default=DEFAULT_MAX_FAILURES,
                     help="times a trial whose worker process or node dies is restarted from its last checkpoint")
    run.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of the split, the sampler, the models and TPE")
    run.add_argument("--min-count", type=_positive_int, default=DEFAULT_MIN_COUNT,
                     help="keep items seen this often (per study: it changes the validation pairs)")
    run.add_argument("--validation-pairs", type=_positive_int, default=DEFAULT_VALIDATION_PAIRS, help="size of the validation sample")
    run.add_argument("--test-pairs", type=_positive_int, default=DEFAULT_TEST_PAIRS, help="size of the held-out test sample")
    run.add_argument("--optuna-storage", default=None,
                     help="Optuna storage URL (default: SQLite optuna.db in the study directory; "
                          "in memory, saved with Ray's state, for a URI --storage)")
    run.add_argument("--resume", action="store_true", help="if the study exists, resume it instead of refusing")
    location(run, name_required=False)
    cluster(run)

    resume = commands.add_parser("resume", help="continue an interrupted study", formatter_class=defaults)
    location(resume, name_required=True)
    cluster(resume)

    export = commands.add_parser("export", help="export the winner and the evaluation table", formatter_class=defaults)
    location(export, name_required=True)
    export.add_argument("--force", action="store_true", help="replace an existing export")

    report = commands.add_parser("report", help="write <study>/report.html (figures and the table) of an exported study",
                                 formatter_class=defaults)
    location(report, name_required=True)

    status = commands.add_parser("status", help="trials done, running, pruned, errored; best so far",
                                 formatter_class=defaults)
    location(status, name_required=False)
    status.add_argument("--json", action="store_true", help="print JSON")
    return parser


# ---------------------------------------------------------------------------------------


def _say(message: str = "") -> None:
    print(message, flush=True)


def _study(args: argparse.Namespace, name: str | None = None):
    from tune.study import Study, check_name, resolve_storage

    return Study(resolve_storage(args.storage), check_name(name or args.name))


def _spec_from_args(args: argparse.Namespace, study) -> StudySpec:
    """The new study's settings as given (checked by StudySpec); its config and data come later."""
    return StudySpec(
        name=study.name, storage=study.storage, created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        data=args.data if args.data.startswith("builtin") else str(Path(args.data).absolute()),
        trials=args.trials, max_epochs=args.max_epochs, grace_period=args.grace_period,
        reduction_factor=args.reduction_factor, cpus_per_trial=args.cpus_per_trial,
        gpus_per_trial=args.gpus_per_trial, max_failures=args.max_failures, seed=args.seed,
        min_count=args.min_count, validation_pairs=args.validation_pairs, test_pairs=args.test_pairs,
        optuna_storage=args.optuna_storage, command=(PROG, *sys.argv[1:]),
    )


def _check_resources(spec: StudySpec) -> None:
    """A trial that no node can host would wait forever: refuse it now."""
    import ray

    nodes = [node.get("Resources", {}) for node in ray.nodes() if node.get("Alive")]
    for key, wanted, option in (("CPU", spec.cpus_per_trial, "--cpus-per-trial"),
                                ("GPU", spec.gpus_per_trial, "--gpus-per-trial")):
        if wanted > 0 and not any(node.get(key, 0) >= wanted for node in nodes):
            largest = max((node.get(key, 0) for node in nodes), default=0)
            raise ConfigError(f"{option} {wanted:g}: no node of the cluster has that many {key}s (largest: {largest:g})")


def _print_header(study, spec: StudySpec, corpus, dashboard_url: str) -> None:
    from tune.driver import print_connection

    stats = corpus.stats
    _say(f"{PROG}: study {study.name!r} in {study.path}")
    _say(f"corpus: {spec.data}: {stats['playlists']:,} playlists, vocabulary {stats['vocabulary_size']:,}, "
         f"{stats['validation_pairs']:,} validation / {stats['test_pairs']:,} test pairs (min_count {spec.min_count})")
    _say(f"{spec.trials} trials of at most {spec.max_epochs} epochs; ASHA grace period {spec.grace_period}, "
         f"reduction factor {spec.reduction_factor:g}; {spec.cpus_per_trial:g} CPU / "
         f"{spec.gpus_per_trial:g} GPU per trial; seed {spec.seed}")
    _say("search space: " + "; ".join(spec.space().describe()))
    print_connection(dashboard_url, study.is_local)
    url = study.optuna_url(spec.optuna_storage)
    if url:
        _say(f"Optuna: optuna-dashboard {url}")
    _say(f"TensorBoard: tensorboard --logdir {study.path}")
    _say()


def _finish(study, spec: StudySpec, corpus, outcome, force_export: bool) -> int:
    from tune.evaluation import evaluate_study
    from tune.export import export_study
    from tune.table import summary_lines, to_markdown

    if outcome.interrupted:
        _say()
        _say(f"{PROG}: study {study.name!r} interrupted after {outcome.seconds:.0f} s; its state is saved.")
        _say(f"  continue it with: {PROG} resume --name {study.name} --storage {study.storage}")
        _say(f"  table so far:     {PROG} export --name {study.name} --storage {study.storage}")
        return 130
    evaluation = evaluate_study(study, spec, corpus)
    _say()
    _say(f"{PROG}: study {study.name!r} finished in {outcome.seconds:.0f} s")
    for line in summary_lines(evaluation):
        _say(line)
    _say()
    _say(to_markdown(evaluation, limit=TABLE_ROWS, compact=True))
    if len(evaluation.rows) > TABLE_ROWS:
        _say(f"... {len(evaluation.rows) - TABLE_ROWS} more in trials.md")
    _say()
    if evaluation.winner is None:
        print(f"{PROG}: no trial finished an epoch; each trial's error is in {study.path}/trial_<id>/error.txt",
              file=sys.stderr)
        return 1
    path = export_study(evaluation, corpus, force=force_export)
    _say(f"exported the winner to {path} (embeddings.npy, vocabulary.tsv, model.json)")
    _say(f"evaluation table: {path}/trials.csv and {path}/trials.md")
    _say(f"study directory (Ray state, trial logs and checkpoints, study.json): {study.path}")
    _report_after_run(study)
    return 0


def _report_after_run(study) -> None:
    """Write the study's HTML report; a failure only warns: the study and its export are done."""
    if not study.is_local:
        _say(f"no report for a study on {study.storage}: copy the study directory and run `{PROG} report`")
        return
    from tune.report import write_report

    try:
        _say(f"report: {write_report(study.local_path)}")
    except Exception as error:  # the report is a convenience: never fail a finished study for it
        print(f"{PROG}: warning: could not write the report ({type(error).__name__}: {error}); "
              f"retry with `{PROG} report --name {study.name} --storage {study.storage}`", file=sys.stderr)


def command_run(args: argparse.Namespace) -> int:
    from tune.search_space import load_overrides
    from tune.study import default_name

    study = _study(args, args.name or default_name())
    spec = _spec_from_args(args, study)
    if study.exists():
        if args.resume:
            return _resume(study, args, given=spec)
        study.create()  # raises the "already exists" error
    if args.config:
        overrides, config_text = load_overrides(args.config)
        spec = replace(spec, config_file=str(args.config.absolute()), config_text=config_text, overrides=overrides)
    from tune import driver

    corpus = driver.load_corpus(spec)
    spec = replace(spec, data_fingerprint=corpus.fingerprint, corpus_stats=corpus.stats)
    dashboard_url = driver.connect(args.address, args.dashboard_host, args.dashboard_port, args.dashboard)
    try:
        _check_resources(spec)
        study.create()
        study.save_spec(spec)
        _print_header(study, spec, corpus, dashboard_url)
        outcome = driver.fit(driver.build_tuner(study, spec, corpus), study, spec)
        return _finish(study, spec, corpus, outcome, force_export=False)
    finally:
        _shutdown()


def _resume(study, args: argparse.Namespace, given: StudySpec | None = None) -> int:
    from tune import driver

    spec = study.load_spec()
    for name in spec.differences(given) if given is not None else ():  # `run --resume`: the same study
        raise ConfigError(f"study {study.name!r} was started with {option(name)} {getattr(spec, name)}, "
                          f"not {getattr(given, name)}; use `{PROG} resume --name {study.name}`")
    restorable = study.has_file("tuner.pkl") and study.has_experiment_state()
    if restorable:
        driver.check_restorable(study)  # before starting Ray: a damaged state is a one-line error
    corpus = driver.load_corpus(spec)
    dashboard_url = driver.connect(args.address, args.dashboard_host, args.dashboard_port, args.dashboard)
    try:
        _check_resources(spec)
        _print_header(study, spec, corpus, dashboard_url)
        if restorable:
            tuner = driver.restore_tuner(study, spec, corpus)
        else:  # interrupted before Ray saved anything: start the trials afresh
            tuner = driver.build_tuner(study, spec, corpus)
        outcome = driver.fit(tuner, study, spec)
        return _finish(study, spec, corpus, outcome, force_export=True)
    finally:
        _shutdown()


def command_resume(args: argparse.Namespace) -> int:
    return _resume(_study(args), args)


def command_export(args: argparse.Namespace) -> int:
    from tune import driver
    from tune.evaluation import evaluate_study
    from tune.export import export_study
    from tune.table import summary_lines

    study = _study(args)
    spec = study.load_spec()
    if study.has_file("export/model.json") and not args.force:
        raise ExportExistsError(f"{study.export_path} already exists; pass --force to replace it")
    corpus = driver.load_corpus(spec)
    evaluation = evaluate_study(study, spec, corpus)
    path = export_study(evaluation, corpus, force=args.force)
    for line in summary_lines(evaluation):
        _say(line)
    _say(f"exported the winner to {path}; evaluation table in {path}/trials.csv and trials.md")
    return 0


def command_status(args: argparse.Namespace) -> int:
    from tune import optuna_store
    from tune.evaluation import evaluate_study
    from tune.study import STUDY_FILE, resolve_storage
    from tune.table import dumps, status_lines, status_report

    if args.name is None:  # list the studies of the storage
        storage = resolve_storage(args.storage)
        root = Path(storage)
        names = sorted(p.name for p in root.iterdir() if (p / STUDY_FILE).is_file()) if root.is_dir() else []
        _say(f"studies in {storage}: " + (", ".join(names) if names else "none"))
        return 0
    study = _study(args)
    spec = study.load_spec()
    evaluation = evaluate_study(study, spec, corpus=None)
    optuna_counts = optuna_store.state_counts(study, spec.optuna_storage)
    if args.json:
        _say(dumps(status_report(evaluation, optuna_counts, _exported_scores(study))))
        return 0
    for line in status_lines(evaluation, optuna_counts, TABLE_ROWS):
        _say(line)
    return 0


def _exported_scores(study):
    """The comparison series in the study's export, if it has one that can be read."""
    import json

    from tune.comparison import Comparison

    try:
        return Comparison.from_metrics(json.loads(study.read_text("export/model.json")).get("metrics", {}))
    except (OSError, ValueError, AttributeError):
        return None


def command_report(args: argparse.Namespace) -> int:
    from tune.report import write_report  # tune/report.py: the HTML study report

    study = _study(args)
    study.load_spec()  # an unknown name is the usual one-line error
    if not study.is_local:
        raise ConfigError(f"report needs a local study directory, not {study.path}")
    _say(f"report: {write_report(study.local_path)}")
    return 0


def _shutdown() -> None:
    import ray

    if ray.is_initialized():
        ray.shutdown()


COMMANDS = {"run": command_run, "resume": command_resume, "export": command_export, "status": command_status,
            "report": command_report}


def main(argv: list[str] | None = None) -> int:
    return run_main(PROG, build_parser(), argv, lambda args: COMMANDS[args.command](args))


if __name__ == "__main__":
    sys.exit(main())
