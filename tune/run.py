"""What each ``track2vec-tune`` command does, step by step: run, resume, repeat, export, status, report.

``tune/cli.py`` parses the command line into a ``Study``, a ``StudySpec`` and the cluster
options and calls one function here, as the Python API (``tune/api.py``) does; Ray itself is
driven by ``tune/driver.py``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from track2vec.errors import ConfigError, ExportExistsError
from track2vec.export import INFO_FILE

from tune import PROG
from tune.spec import NEW_STUDY_OPTUNA_BACKEND, StudySpec, option
from tune.study import EXPORT_DIR, STUDY_FILE, Study

TABLE_ROWS = 12  # rows of the evaluation table printed in the terminal
INTERRUPTED = 130

# Ray workers of a local cluster inherit the driver's environment: TensorFlow starts in them
# without its C++ info logs, wherever it is first imported (the command line and the Python API alike).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@dataclass(frozen=True)
class ClusterOptions:
    """Where to run: an existing cluster (``address``), or a local one and its dashboard."""

    address: str | None = None  # auto, HOST:PORT or ray://HOST:PORT; None: $RAY_ADDRESS or a local cluster
    dashboard_host: str = "127.0.0.1"
    dashboard_port: int = 8265
    dashboard: bool = True


def say(message: str = "") -> None:
    print(message, flush=True)


def new_spec(study: Study, data: str, command: tuple[str, ...] = (), **settings: Any) -> StudySpec:
    """A new study's settings: ``data`` (a path is made absolute) and any other ``StudySpec`` field
    (StudySpec checks them; the config and the data's fingerprint come in ``start``)."""
    settings.setdefault("optuna_backend", NEW_STUDY_OPTUNA_BACKEND)
    return StudySpec(name=study.name, storage=study.storage, created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                     data=data if data.startswith("builtin") else str(Path(data).absolute()),
                     command=tuple(command), **settings)


def start(study: Study, spec: StudySpec, config: Path | None, cluster: ClusterOptions,
          resume_existing: bool = False) -> int:
    """``run``: a new study (or, with ``resume_existing``, continue the one of that name)."""
    from tune import driver
    from tune.search_space import load_overrides
    from tune.trackers import check_trackers

    if study.exists():
        if resume_existing:
            return resume(study, cluster, given=spec)
        study.create()  # raises the "already exists" error
    study.check_creatable()
    check_trackers(spec.log_to)
    if spec.gensim:
        from track2vec.gensim_baseline import require_gensim

        require_gensim()
    if config:
        overrides, config_text = load_overrides(config)
        spec = replace(spec, config_file=str(config.absolute()), config_text=config_text, overrides=overrides)
    corpus = driver.load_corpus(spec)
    spec, notes = fit_space_to_corpus(spec, corpus)
    spec = _with_warm_start_points(spec, corpus)
    spec = replace(spec, data_fingerprint=corpus.fingerprint, corpus_stats=corpus.stats)
    driver.check_memory_budget(spec, corpus)
    dashboard_url = driver.connect(cluster.address, cluster.dashboard_host, cluster.dashboard_port, cluster.dashboard)
    try:
        driver.check_resources(spec)
        spec, memory_cap = driver.fit_space_to_memory(spec, corpus)
        if memory_cap:
            spec = _with_warm_start_points(spec, corpus)  # keep only the values the capped space holds
            notes.append(memory_cap.describe())
        study.create()
        study.save_spec(spec)
        _print_header(study, spec, corpus, dashboard_url)
        for note in notes:
            say(note)
        outcome = driver.fit(driver.build_tuner(study, spec, corpus), study, spec)
        outcome = _repeats_after_search(study, spec, corpus, outcome)
        return _finish(study, spec, corpus, outcome, force_export=False)
    finally:
        driver.shutdown()


def fit_space_to_corpus(spec: StudySpec, corpus) -> tuple[StudySpec, list[str]]:
    """``(spec, notes)``: the spec with the overrides of the rules that adapt the default space to a corpus
    (``tune/large_corpus.py``; where its recipe does not apply, ``tune/playlist_ends.py``; where that does not
    fire, ``tune/dense_counts.py``), and the line each rule that fired says as the study starts."""
    from tune import driver
    from tune.dense_counts import dense_counts_rule
    from tune.large_corpus import large_corpus_recipe
    from tune.playlist_ends import playlist_ends_rule

    recipe = large_corpus_recipe(spec.overrides, len(corpus.tokens))
    if recipe:
        return replace(spec, overrides={**spec.overrides, **recipe.fixed}), [recipe.describe()]
    ends = playlist_ends_rule(spec.overrides, corpus)
    if ends:
        return replace(spec, overrides={**spec.overrides, **ends.overrides}), [ends.describe()]
    dense = dense_counts_rule(spec.overrides, len(corpus.vocabulary), len(corpus.tokens), driver.has_artists(corpus))
    if dense:
        return replace(spec, overrides={**spec.overrides, **dense.overrides}), [dense.describe()]
    return spec, []


def _with_warm_start_points(spec: StudySpec, corpus) -> StudySpec:
    """The spec with the configurations ``--warm-start-from`` carries over, restricted to the values its
    space holds (unchanged without ``--warm-start-from``)."""
    if spec.warm_start_from is None:
        return spec
    from tune import driver
    from tune.warm_start import warm_start_points

    source, points = warm_start_points(spec.warm_start_from, spec.warm_start_top,
                                       spec.space(driver.has_artists(corpus)))
    return replace(spec, warm_start_from=source, warm_start_points=tuple(points))


def resume(study: Study, cluster: ClusterOptions, given: StudySpec | None = None) -> int:
    """``resume``: finished trials are kept, unfinished ones continue, new ones fill the study.

    ``given``: the settings of a ``run --resume``, which must describe the same study.
    """
    from tune import driver
    from tune.trackers import check_trackers

    spec = study.load_spec()
    for name in spec.differences(given) if given is not None else ():
        started, now = (_shown(getattr(settings, name)) for settings in (spec, given))
        raise ConfigError(f"study {study.name!r} was started with {option(name)} {started}, "
                          f"not {now}; use `{PROG} resume --name {study.name}`")
    if _finished_and_exported(study, spec):
        say(f"{PROG}: study {study.name!r} has finished its {spec.trials} trials and its export is in "
            f"{study.export_path}: nothing to resume (`{PROG} export --name {study.name} --storage {study.storage} "
            "--force` scores and exports it again)")
        return 0
    restorable = study.has_file("tuner.pkl") and study.has_experiment_state()
    if restorable:
        driver.check_restorable(study)  # before starting Ray: a damaged state is a one-line error
    check_trackers(spec.log_to)
    corpus = driver.load_corpus(spec)
    dashboard_url = driver.connect(cluster.address, cluster.dashboard_host, cluster.dashboard_port, cluster.dashboard)
    try:
        driver.check_resources(spec)
        _print_header(study, spec, corpus, dashboard_url)
        if restorable:
            tuner = driver.restore_tuner(study, spec, corpus)
        else:  # interrupted before Ray saved anything: start the trials afresh
            tuner = driver.build_tuner(study, spec, corpus)
        outcome = driver.fit(tuner, study, spec)
        outcome = _repeats_after_search(study, spec, corpus, outcome)
        return _finish(study, spec, corpus, outcome, force_export=True)
    finally:
        driver.shutdown()


def _finished_and_exported(study: Study, spec: StudySpec) -> bool:
    """Whether every trial ended without error, no repeats are planned, and the export is written: then
    ``resume`` has nothing to train and would only write the same export again."""
    from tune.reader import COMPLETED, STOPPED, read_rows

    if spec.repeats or not study.has_file(f"{EXPORT_DIR}/{INFO_FILE}"):
        return False
    rows = read_rows(study, spec)
    return len(rows) == spec.trials and all(row.status in (COMPLETED, STOPPED) for row in rows)


def repeat(study: Study, repeats: int, top: int, cluster: ClusterOptions, force: bool = False) -> int:
    """``repeat``: retrain the top configurations of a finished study with new seeds, then export again.

    Repeats of the same plan that were interrupted continue; other repeats are refused unless
    ``force``, which runs them afresh. The study's settings record the repeats, so ``resume``
    continues them too.
    """
    from tune import driver
    from tune.reader import read_rows
    from tune.repeats import load_plan, make_plan
    from tune.trackers import check_trackers

    spec = study.load_spec()
    rows = read_rows(study, spec)
    done = [row for row in rows if row.finished_in_ray]
    if len(done) < len(rows) or len(rows) < spec.trials:
        raise ConfigError(f"study {study.name!r} has not finished ({len(done)} of {spec.trials} trials done); "
                          f"finish it first: `{PROG} resume --name {study.name} --storage {study.storage}`")
    plan = make_plan(rows, spec.seed, repeats, top)
    _check_other_repeats(study, load_plan(study), plan, force)
    check_trackers(spec.log_to)
    spec = replace(spec, repeats=repeats, repeat_top=top)
    corpus = driver.load_corpus(spec)
    dashboard_url = driver.connect(cluster.address, cluster.dashboard_host, cluster.dashboard_port, cluster.dashboard)
    try:
        driver.check_resources(spec)
        study.save_spec(spec)
        _print_header(study, spec, corpus, dashboard_url)
        outcome = _run_repeats(study, spec, corpus, plan, force)
        return _finish(study, spec, corpus, outcome, force_export=True)
    finally:
        driver.shutdown()


def _check_other_repeats(study: Study, existing, plan, force: bool) -> None:
    if existing is not None and existing != plan and not force:
        raise ConfigError(f"study {study.name!r} already has other repeats ({existing.repeats} seed(s) of the top "
                          f"{existing.top}) in {study.repeats().path}; pass --force to replace them")


def _repeats_after_search(study: Study, spec: StudySpec, corpus, outcome):
    """After a finished search with ``--repeats``: the repeats (continued where they were interrupted)."""
    from tune.reader import read_rows
    from tune.repeats import make_plan

    if outcome.interrupted or spec.repeats < 1:
        return outcome
    plan = make_plan(read_rows(study, spec), spec.seed, spec.repeats, spec.repeat_top)
    repeated = _run_repeats(study, spec, corpus, plan, force=False)
    return replace(repeated, seconds=outcome.seconds + repeated.seconds)


def _run_repeats(study: Study, spec: StudySpec, corpus, plan, force: bool):
    """Train ``plan``'s repeats: continue them if they are this plan's, else start them (``force``
    replaces other repeats)."""
    from tune import driver
    from tune.repeats import load_plan, save_plan

    existing = load_plan(study)
    _check_other_repeats(study, existing, plan, force)
    location = study.repeats()
    if existing is not None and (existing != plan or force) and location.exists():
        fs, path = location.filesystem()
        fs.delete_dir(path)
        existing = None
    say()
    say(f"{PROG}: repeats: the top {len(plan.configurations)} configuration(s) "
        f"({', '.join(c.trial_id for c in plan.configurations)}), each for its best epoch count, with seeds "
        f"{', '.join(map(str, plan.seeds))}: {len(plan.points())} trials in {location.path}")
    if existing is not None and location.has_experiment_state():
        tuner = driver.restore_repeat_tuner(study, spec, corpus)
    else:
        save_plan(study, plan)
        tuner = driver.build_repeat_tuner(study, spec, corpus, plan)
    return driver.fit_repeats(tuner, study, len(plan.points()))


def export(study: Study, force: bool, gensim: bool = False) -> int:
    """``export``: the winner and the evaluation table of a finished, interrupted or running study
    (with ``gensim``, gensim's skip-gram scored beside the counts even where the study's run did not ask)."""
    from tune import driver
    from tune.evaluation import evaluate_study
    from tune.export import export_study
    from tune.table import summary_lines

    spec = study.load_spec()
    if gensim:
        from track2vec.gensim_baseline import require_gensim

        require_gensim()
        spec = replace(spec, gensim=True)
    if study.has_file(f"{EXPORT_DIR}/{INFO_FILE}") and not force:
        raise ExportExistsError(f"{study.export_path} already exists; pass --force to replace it")
    corpus = driver.load_corpus(spec)
    evaluation = evaluate_study(study, spec, corpus)
    path = export_study(evaluation, corpus, force=force)
    for line in summary_lines(evaluation):
        say(line)
    say(f"exported the winner to {path}; evaluation table in {path}/trials.csv and trials.md")
    return 0


def list_studies(storage: str) -> int:
    """``status`` without a name: the studies of the storage."""
    root = Path(storage)
    names = sorted(p.name for p in root.iterdir() if (p / STUDY_FILE).is_file()) if root.is_dir() else []
    say(f"studies in {storage}: " + (", ".join(names) if names else "none"))
    return 0


def status(study: Study, as_json: bool) -> int:
    """``status``: trials by status and the best so far, from the storage alone (also while it runs)."""
    from tune.table import dumps, status_lines

    if as_json:
        say(dumps(status_data(study)))
        return 0
    evaluation, optuna_counts, exported = _status_parts(study)
    for line in status_lines(evaluation, optuna_counts, TABLE_ROWS, *exported):
        say(line)
    return 0


def status_data(study: Study) -> dict[str, Any]:
    """What ``status --json`` prints: trials by status, the best so far, the export's scores and intervals."""
    from tune.table import status_report

    evaluation, optuna_counts, exported = _status_parts(study)
    return status_report(evaluation, optuna_counts, *exported)


def _status_parts(study: Study):
    """(the trials read from storage, Optuna's state counts, the export's scores and intervals)."""
    from tune import optuna_store
    from tune.evaluation import evaluate_study

    spec = study.load_spec()
    return (evaluate_study(study, spec, corpus=None), optuna_store.state_counts(study, spec),
            exported_scores(study))


def report(study: Study) -> int:
    """``report``: write ``<study>/report.html`` of an exported study."""
    from tune.report import write_report

    study.load_spec()  # an unknown name is the usual one-line error
    if not study.is_local:
        raise ConfigError(f"report needs a local study directory, not {study.path}")
    say(f"report: {write_report(study.local_path)}")
    return 0


def exported_info(study: Study) -> dict | None:
    """The study's export's ``model.json``, where it has one that can be read."""
    try:
        info = json.loads(study.read_text(f"{EXPORT_DIR}/{INFO_FILE}"))
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def exported_scores(study: Study):
    """(the comparison series, their intervals) in the study's export, each None where it has none."""
    from tune.comparison import Comparison
    from tune.intervals import StudyIntervals

    info = exported_info(study) or {}
    metrics, intervals = info.get("metrics"), info.get("intervals")
    comparison = Comparison.from_metrics(metrics) if isinstance(metrics, dict) else None
    return comparison, StudyIntervals.from_export(intervals)


def _print_header(study: Study, spec: StudySpec, corpus, dashboard_url: str) -> None:
    from tune import optuna_store
    from tune.driver import has_artists, print_connection

    stats = corpus.stats
    say(f"{PROG}: study {study.name!r} in {study.path}")
    say(f"corpus: {spec.data}: {stats['playlists']:,} playlists, vocabulary {stats['vocabulary_size']:,}, "
        f"{stats['validation_pairs']:,} validation / {stats['test_pairs']:,} test pairs (min_count {spec.min_count})")
    say(f"{spec.trials} trials of at most {spec.max_epochs} epochs; ASHA grace period {spec.grace_period}, "
        f"reduction factor {spec.reduction_factor:g}; {spec.cpus_per_trial:g} CPU / "
        f"{spec.gpus_per_trial:g} GPU per trial; seed {spec.seed}")
    say("search space: " + "; ".join(spec.space(has_artists(corpus)).describe()))
    for line in _study_options(spec, stats):
        say(line)
    print_connection(dashboard_url, study.is_local)
    optuna_location = optuna_store.location(study, spec)
    if optuna_location:
        say(f"Optuna: optuna-dashboard {optuna_location}")
    say(f"TensorBoard: tensorboard --logdir {study.path}")
    say()


def _study_options(spec: StudySpec, stats) -> list[str]:
    """Header lines of the sample, the warm start and the budget, where the study has them."""
    from tune.cost import Budget

    lines = []
    if spec.sample < 1:
        lines.append(f"sample: {spec.sample:g} of the training playlists ({stats.get('sampled_playlists', 0):,} of "
                     f"{stats['playlists']:,}, seed {spec.seed}); validation and test pairs of the whole corpus")
    if spec.warm_start_points:
        lines.append(f"warm start: the top {len(spec.warm_start_points)} configuration(s) of {spec.warm_start_from} first")
    if spec.has_budget:
        lines.append(f"budget: {Budget.of(spec).describe()}; trials over it are stopped and cannot win")
    return lines


def _finish(study: Study, spec: StudySpec, corpus, outcome, force_export: bool) -> int:
    """After ``fit``: the table, the export and the report of a finished study, or how to continue."""
    from tune.evaluation import evaluate_study
    from tune.export import export_study
    from tune.table import summary_lines, to_markdown

    if outcome.interrupted:
        say()
        say(f"{PROG}: study {study.name!r} interrupted after {outcome.seconds:.0f} s; its state is saved.")
        say(f"  continue it with: {PROG} resume --name {study.name} --storage {study.storage}")
        say(f"  table so far:     {PROG} export --name {study.name} --storage {study.storage}")
        return INTERRUPTED
    evaluation = evaluate_study(study, spec, corpus)
    say()
    say(f"{PROG}: study {study.name!r} finished in {outcome.seconds:.0f} s")
    for line in summary_lines(evaluation):
        say(line)
    say()
    say(to_markdown(evaluation, limit=TABLE_ROWS, compact=True))
    if len(evaluation.rows) > TABLE_ROWS:
        say(f"... {len(evaluation.rows) - TABLE_ROWS} more in trials.md")
    say()
    if evaluation.winner is None:
        print(f"{PROG}: no trial finished an epoch; each trial's error is in {study.path}/trial_<id>/error.txt",
              file=sys.stderr)
        return 1
    path = export_study(evaluation, corpus, force=force_export)
    run = evaluation.winner_run or evaluation.winner
    whose = (f"the vectors of trials {', '.join(member.trial_id for member in evaluation.ensemble)} side by side"
             if len(evaluation.ensemble) > 1 else f"the vectors of trial {run.trial_id}, seed {evaluation.winner_seed}")
    say(f"exported the winner to {path} (embeddings.npy, vocabulary.tsv, model.json, embeddings.w2v.txt, "
        f"projector/): {whose}")
    say(f"evaluation table: {path}/trials.csv and {path}/trials.md")
    say(f"study directory (Ray state, trial logs and checkpoints, study.json): {study.path}")
    _report_after_run(study)
    return 0


def _report_after_run(study: Study) -> None:
    """Write the study's HTML report; a failure only warns: the study and its export are done."""
    if not study.is_local:
        say(f"no report for a study on {study.storage}: copy the study directory and run `{PROG} report`")
        return
    from tune.report import write_report

    try:
        say(f"report: {write_report(study.local_path)}")
    except Exception as error:  # the report is a convenience: never fail a finished study for it
        print(f"{PROG}: warning: could not write the report ({type(error).__name__}: {error}); "
              f"retry with `{PROG} report --name {study.name} --storage {study.storage}`", file=sys.stderr)


def _shown(value) -> str:
    """A setting's value in a message: an unset one (None) is its default."""
    return "(default)" if value is None else str(value)
