"""``track2vec-tune``'s command line; ``DESCRIPTION`` below is what ``--help`` tells a user about its commands.

This module only parses the command line and hands each command to ``tune/run.py``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

from track2vec.cli_support import DefaultsHelpFormatter, OneLineParser, add_version, run_main
from track2vec.corpus import DATA_HELP, DEFAULT_DATA, DEFAULT_MIN_COUNT, DEFAULT_TEST_PAIRS, DEFAULT_VALIDATION_PAIRS

from tune import PROG, run
from tune.run import ClusterOptions
from tune.spec import (
    DEFAULT_CPUS_PER_TRIAL, DEFAULT_GPUS_PER_TRIAL, DEFAULT_GRACE_PERIOD, DEFAULT_MAX_EPOCHS,
    DEFAULT_MAX_FAILURES, DEFAULT_REDUCTION_FACTOR, DEFAULT_REPEAT_TOP, DEFAULT_REPEATS, DEFAULT_SAMPLE, DEFAULT_SEED,
    DEFAULT_TRIALS, DEFAULT_VALIDATION_SAMPLE, DEFAULT_WARM_START_TOP, REPEAT_COMMAND_SEEDS, TRACKERS,
    VALIDATION_SAMPLE_FLOOR, StudySpec,
)
from tune.study import Study, check_name, default_name, resolve_storage

LOCAL_CLUSTER = ClusterOptions()  # the defaults of the cluster options
DESCRIPTION = """Distributed hyperparameter search for track2vec (Ray Tune + Optuna + ASHA).

commands: run a new study, resume an interrupted one, repeat the top configurations of a finished
study with new seeds, export the winner and the evaluation table, status of a study (works while it
runs), report (an HTML page of an exported study). `track2vec-tune COMMAND --help` lists each one's options."""

GENSIM_HELP = ("also score gensim's skip-gram with its default settings beside the counted baselines: trained on the "
               "same playlists, scored on the same pairs (needs gensim: pip install gensim)")


def _at_least(kind: type, lowest: int) -> Callable[[str], int | float]:
    """An argparse type: a whole number (``kind`` int) or a number, ``lowest`` or more."""
    what = "a whole number" if kind is int else "a number"
    bound = f"at least {lowest}" if lowest else ">= 0"

    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not value >= lowest:  # NaN fails too
            raise argparse.ArgumentTypeError(f"must be {bound}, got {text}")
        return value

    return parse


_positive_int = _at_least(int, 1)
_non_negative_int = _at_least(int, 0)
_non_negative_float = _at_least(float, 0)


def _number(text: str) -> float:
    """A number; its range is StudySpec's to check (one message for the option and the API)."""
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


class _AddTracker(argparse.Action):
    """``--log-to NAME``, repeatable: a tuple of the trackers named."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, (*getattr(namespace, self.dest), values))


def _repeat_options(sub: argparse.ArgumentParser, repeats_default: int) -> None:
    sub.add_argument("--repeats", type=_non_negative_int if repeats_default == 0 else _positive_int,
                     default=repeats_default,
                     help="after the search, train each of the --top configurations again with this many new seeds "
                          "and pick the winner by the mean validation NDCG@10 (0: no repeats)")
    sub.add_argument("--top", dest="repeat_top", type=_positive_int, default=DEFAULT_REPEAT_TOP,
                     help="configurations repeated, by best validation NDCG@10")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog=PROG, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_version(parser)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    defaults = DefaultsHelpFormatter

    def location(sub: argparse.ArgumentParser, name_required: bool) -> None:
        sub.add_argument("--storage", default=None,
                         help="directory (absolute, or made absolute) or URI (s3://...) holding the studies; "
                              "default $TRACK2VEC_STORAGE or ~/track2vec-studies")
        sub.add_argument("--name", required=name_required, default=None,
                         help="the study's name" + ("" if name_required else
                                                    " (default: study-<date>-<time>, printed when the study starts)"))

    def cluster(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--address", default=None,
                         help="existing Ray cluster: auto, HOST:PORT or ray://HOST:PORT (default $RAY_ADDRESS, "
                              "else a local cluster is started)")
        sub.add_argument("--dashboard-host", default=LOCAL_CLUSTER.dashboard_host,
                         help="interface of a local cluster's dashboard")
        sub.add_argument("--dashboard-port", type=int, default=LOCAL_CLUSTER.dashboard_port,
                         help="port of a local cluster's dashboard")
        sub.add_argument("--no-dashboard", dest="dashboard", action="store_false",
                         help="start a local cluster without the dashboard (headless machines; needs no ray[default])")

    run_parser = commands.add_parser("run", help="start a new study", formatter_class=defaults)
    run_parser.add_argument("--data", default=DEFAULT_DATA, help=DATA_HELP)
    run_parser.add_argument("--config", type=Path, default=None, help="TOML file overriding search ranges or fixing values")
    run_parser.add_argument("--trials", type=_positive_int, default=DEFAULT_TRIALS, help="number of trials")
    run_parser.add_argument("--max-epochs", type=_positive_int, default=DEFAULT_MAX_EPOCHS, help="epochs of a full trial")
    run_parser.add_argument("--grace-period", type=_positive_int, default=DEFAULT_GRACE_PERIOD,
                     help="epochs before ASHA may stop a trial")
    run_parser.add_argument("--reduction-factor", type=float, default=DEFAULT_REDUCTION_FACTOR,
                     help="ASHA keeps 1/factor of the trials at each rung")
    run_parser.add_argument("--cpus-per-trial", type=_non_negative_float, default=DEFAULT_CPUS_PER_TRIAL, help="CPUs per trial")
    run_parser.add_argument("--gpus-per-trial", type=_non_negative_float, default=DEFAULT_GPUS_PER_TRIAL,
                     help="GPUs per trial (fractions share a GPU)")
    run_parser.add_argument("--max-failures", type=_non_negative_int, default=DEFAULT_MAX_FAILURES,
                     help="times a trial whose worker process or node dies is restarted from its last checkpoint")
    run_parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of the split, the sampler, the models and TPE")
    run_parser.add_argument("--min-count", type=_positive_int, default=DEFAULT_MIN_COUNT,
                     help="keep items seen this often (per study: it changes the validation pairs)")
    run_parser.add_argument("--validation-pairs", type=_positive_int, default=DEFAULT_VALIDATION_PAIRS, help="size of the validation sample")
    run_parser.add_argument("--validation-sample", type=_non_negative_int, default=DEFAULT_VALIDATION_SAMPLE,
                     help="score each epoch of a trial on a fixed seeded sample of this many validation pairs when "
                          "there are more (0: all; default: as many as a fixed scoring cost allows at the corpus' "
                          "vocabulary, all of them on small and mid-sized ones, never fewer than "
                          f"{VALIDATION_SAMPLE_FLOOR:,}); the winner is always scored on all of them")
    run_parser.add_argument("--test-pairs", type=_positive_int, default=DEFAULT_TEST_PAIRS, help="size of the held-out test sample")
    run_parser.add_argument("--optuna-storage", default=None,
                     help="Optuna storage URL (default: Optuna's journal file optuna.journal in the study directory; "
                          "in memory, saved with Ray's state, for a URI --storage)")
    _repeat_options(run_parser, DEFAULT_REPEATS)
    run_parser.add_argument("--log-to", dest="log_to", action=_AddTracker, choices=TRACKERS, default=(),
                     help="also send every trial's results to this experiment tracker (repeatable; an optional "
                          "extra: pip install 'track2vec-tune[mlflow]')")
    run_parser.add_argument("--sample", type=_number, default=DEFAULT_SAMPLE, metavar="FRACTION",
                     help="train on this seeded fraction of the training playlists, in (0, 1] (the validation and "
                          "test pairs stay those of the whole corpus, so scores are comparable)")
    run_parser.add_argument("--warm-start-from", dest="warm_start_from", default=None, metavar="STUDY_DIR",
                     help="an earlier study's directory: its --warm-start-top best configurations run first, "
                          "then TPE continues")
    run_parser.add_argument("--warm-start-top", type=_positive_int, default=DEFAULT_WARM_START_TOP, metavar="K",
                     help="configurations taken from --warm-start-from, by best validation NDCG@10")
    run_parser.add_argument("--max-epoch-seconds", type=_number, default=None, metavar="SECONDS",
                     help="budget: a trial whose training seconds per epoch exceed this is stopped and cannot win")
    run_parser.add_argument("--max-trial-memory", type=_number, default=None, metavar="MIB",
                     help="budget: a trial whose peak resident memory (MiB) exceeds this is stopped and cannot win")
    run_parser.add_argument("--gensim", action="store_true", help=GENSIM_HELP)
    run_parser.add_argument("--resume", action="store_true", help="if the study exists, resume it instead of refusing")
    location(run_parser, name_required=False)
    cluster(run_parser)

    resume_parser = commands.add_parser("resume", help="continue an interrupted study", formatter_class=defaults)
    location(resume_parser, name_required=True)
    cluster(resume_parser)

    repeat_parser = commands.add_parser("repeat", formatter_class=defaults,
                                        help="retrain the top configurations of a finished study with new seeds; "
                                             "the winner is then the best mean")
    location(repeat_parser, name_required=True)
    _repeat_options(repeat_parser, REPEAT_COMMAND_SEEDS)
    repeat_parser.add_argument("--force", action="store_true", help="replace the study's existing repeats")
    cluster(repeat_parser)

    export_parser = commands.add_parser("export", help="export the winner and the evaluation table", formatter_class=defaults)
    location(export_parser, name_required=True)
    export_parser.add_argument("--force", action="store_true", help="replace an existing export")
    export_parser.add_argument("--gensim", action="store_true", help=GENSIM_HELP)

    report_parser = commands.add_parser("report", help="write <study>/report.html (figures and the table) of an exported study",
                                 formatter_class=defaults)
    location(report_parser, name_required=True)

    status_parser = commands.add_parser("status", help="trials done, running, pruned, errored; best so far",
                                 formatter_class=defaults)
    location(status_parser, name_required=False)
    status_parser.add_argument("--json", action="store_true", help="print JSON")
    return parser


# ---------------------------------------------------------------------------------------
# From the parsed command line to the objects of a study


def _study(args: argparse.Namespace, name: str | None = None) -> Study:
    return Study(resolve_storage(args.storage), check_name(name or args.name))


def _cluster(args: argparse.Namespace) -> ClusterOptions:
    return ClusterOptions(args.address, args.dashboard_host, args.dashboard_port, args.dashboard)


def _spec(args: argparse.Namespace, study: Study) -> StudySpec:
    """The new study's settings as given (StudySpec checks them); its config and data come in run.start."""
    return run.new_spec(
        study, args.data, command=(PROG, *sys.argv[1:]),
        trials=args.trials, max_epochs=args.max_epochs, grace_period=args.grace_period,
        reduction_factor=args.reduction_factor, cpus_per_trial=args.cpus_per_trial,
        gpus_per_trial=args.gpus_per_trial, max_failures=args.max_failures, seed=args.seed,
        min_count=args.min_count, validation_pairs=args.validation_pairs,
        validation_sample=args.validation_sample, test_pairs=args.test_pairs,
        optuna_storage=args.optuna_storage, repeats=args.repeats, repeat_top=args.repeat_top, log_to=args.log_to,
        sample=args.sample, warm_start_from=args.warm_start_from, warm_start_top=args.warm_start_top,
        max_epoch_seconds=args.max_epoch_seconds, max_trial_memory=args.max_trial_memory, gensim=args.gensim,
    )


def command_run(args: argparse.Namespace) -> int:
    study = _study(args, args.name or default_name())
    return run.start(study, _spec(args, study), args.config, _cluster(args), resume_existing=args.resume)


def command_resume(args: argparse.Namespace) -> int:
    return run.resume(_study(args), _cluster(args))


def command_repeat(args: argparse.Namespace) -> int:
    return run.repeat(_study(args), args.repeats, args.repeat_top, _cluster(args), force=args.force)


def command_export(args: argparse.Namespace) -> int:
    return run.export(_study(args), force=args.force, gensim=args.gensim)


def command_status(args: argparse.Namespace) -> int:
    if args.name is None:
        return run.list_studies(resolve_storage(args.storage))
    return run.status(_study(args), as_json=args.json)


def command_report(args: argparse.Namespace) -> int:
    return run.report(_study(args))


COMMANDS = {"run": command_run, "resume": command_resume, "repeat": command_repeat, "export": command_export,
            "status": command_status, "report": command_report}


def main(argv: list[str] | None = None) -> int:
    return run_main(PROG, build_parser(), argv, lambda args: COMMANDS[args.command](args))


if __name__ == "__main__":
    sys.exit(main())
