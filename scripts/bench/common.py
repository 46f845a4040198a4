"""Shared helpers: side-by-side timing, settings of the quick and full runs, reports, machine facts."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
# Before configure_backend hides the GPUs of the main process: the GPU row's subprocesses get these back.
DEVICES_AT_START = {name: os.environ.get(name) for name in ("CUDA_VISIBLE_DEVICES", "JAX_PLATFORMS")}
# The shared e-commerce set beside the checkout; elsewhere (a GPU machine), point the variable at a copy.
ECOMMERCE = os.environ.get("TRACK2VEC_BENCH_ECOMMERCE", str(REPO.parent / "shared" / "data" / "ecommerce_sessions.npy"))
# The shared Kosarak click-stream (one session a line), row 4's corpus.
KOSARAK = os.environ.get("TRACK2VEC_BENCH_KOSARAK", str(REPO.parent / "shared" / "data" / "kosarak_sessions.txt"))

# The shared #nowplaying listening sessions (one session of integer ids a line), row 7's music corpus.
NOWPLAYING = os.environ.get("TRACK2VEC_BENCH_NOWPLAYING",
                            str(REPO.parent / "shared" / "data" / "nowplaying_sessions.txt"))

# The paper's setting (Caselles-Dupré et al. 2018 on the e-commerce set), used by rows 1 and 3.
PAPER = dict(window=3, subsample=1e-3, alpha=1.0, dim=50, negatives=5)
# A sensible learning rate per optimizer: Adam's usual 0.01; sgd's is word2vec's per-pair rate.
LEARNING_RATES = {"adam": 0.01, "lazy-adam": 0.01, "sgd": 0.025}


@dataclass(frozen=True)
class Variant:
    """A training configuration of row 3: ``Variant()`` is TrainConfig's default, others name optimizer and batch.

    A named variant takes ``learning_rate`` or else ``LEARNING_RATES[optimizer]``, and
    TrainConfig's default architecture, except ``sgd``, which trains ``sgns``: word2vec's
    per-pair rate is the rate of word2vec's own (dot-product) model.
    """

    optimizer: str | None = None
    batch: int | None = None
    learning_rate: float | None = None


DEFAULT = Variant()
# Large batches with a learning rate to match: a sweep on builtin:deezer's first 20,000 playlists
# (2-3 epochs each) found sgd 0.03 (of 0.02, 0.025, 0.03, 0.05, 0.1) and, at batch 32,768, adam 0.02
# (of 0.02, 0.04) the quickest to gensim's quality.
LARGE_BATCH_ADAM = Variant("adam", 32768, 0.02)
TUNED_SGD = Variant("sgd", 8192, 0.03)
# sgd first: it reaches gensim's quality soonest, and later configurations stop once they cannot beat it.
GRID = (TUNED_SGD, *(Variant("sgd", batch) for batch in (8192, 4096)), LARGE_BATCH_ADAM,
        *(Variant(opt, batch) for opt in ("lazy-adam", "adam") for batch in (8192, 4096)))


@dataclass(frozen=True)
class TrainingSet:
    """A corpus of row 3 and the configurations tried on it."""

    name: str
    spec: str
    playlists: int | None  # keep only the first N playlists (None: all)
    variants: tuple[Variant, ...]
    profile_playlists: int | None = None  # profile on the first N playlists only (full vocabulary); None: all


@dataclass(frozen=True)
class Settings:
    quick: bool
    rounds: int  # repetitions of each side-by-side comparison (medians are reported)
    # row 1: pair generation
    pair_corpora: tuple[tuple[str, str], ...]  # (name, data spec)
    notebook_playlists: int  # playlists the notebook's generator processes per round
    # row 2: retrieval
    retrieval_items: int
    retrieval_dim: int
    retrieval_queries: int
    kdtree_queries_per_round: int  # the KD-tree answers this many queries per round (extrapolated if < all)
    # row 3: training vs gensim
    training_sets: tuple[TrainingSet, ...]
    gensim_epochs: int
    gensim_rounds: int
    profile_rounds: int
    # row 4: tuning efficiency
    tune_trials: int
    tune_epochs: int
    tune_seeds: tuple[int, ...]  # one grid and one study per seed (the seed also draws the split)
    # row 5: parallelism and memory
    parallel_trials: int
    parallel_epochs: int
    parallel_rounds: int
    memory_playlists: tuple[int | None, ...]  # builtin:deezer playlists the memory probe trains on
    # (default config[, largest config]): the largest is probed only when given; None: all
    # row 7: the Optuna storage
    optuna_trials: int  # trials of each simulated study
    # row 8: quality against the counted baselines
    quality_corpora: tuple = ()  # bench.row_quality.QualityCorpus
    quality_trials: int = 24
    quality_seeds: tuple[int, ...] = (0,)  # one study per corpus and seed (the seed also draws the split)
    # row 9: transfer from a study on a sample (bench.row_transfer.TransferPlan)
    transfer: Any = None
    # row 10: the Million-Playlist-size corpus
    mpd_playlists: tuple[int, ...] = (100_000,)  # builtin:mpd:N sizes built (1,000,000: builtin:mpd)
    mpd_slices: int = 10  # Million Playlist Dataset slices written and read

    def describe(self) -> str:
        return "quick (--quick)" if self.quick else "full"


def quick_settings() -> Settings:
    """Smaller sizes and fewer repetitions than the full run (the README gives how long it takes)."""
    return Settings(
        quick=True, rounds=3,
        pair_corpora=(("e-commerce", ECOMMERCE), ("builtin (small)", "builtin")),
        notebook_playlists=600,
        retrieval_items=100_000, retrieval_dim=50, retrieval_queries=10_000, kdtree_queries_per_round=100,
        training_sets=(
            TrainingSet("e-commerce", ECOMMERCE, None, (DEFAULT, LARGE_BATCH_ADAM, TUNED_SGD)),
            TrainingSet("builtin:deezer, first 20,000 playlists", "builtin:deezer", 20_000,
                        (DEFAULT, LARGE_BATCH_ADAM, TUNED_SGD)),
        ),
        gensim_epochs=5, gensim_rounds=2, profile_rounds=1,
        tune_trials=6, tune_epochs=3, tune_seeds=(0,),
        parallel_trials=4, parallel_epochs=2, parallel_rounds=1,
        memory_playlists=(4096,),  # one sampler chunk: full-size model and optimizer state, full-size steps
        quality_corpora=_quality_corpora(quick=True), quality_trials=8,
        optuna_trials=32, transfer=_transfer_plan(quick=True),
        mpd_playlists=(100_000,), mpd_slices=10,
    )


def full_settings() -> Settings:
    """Every configuration, the whole Deezer-scale corpus, more repetitions (about an hour or more)."""
    return Settings(
        quick=False, rounds=5,
        pair_corpora=(("e-commerce", ECOMMERCE), ("builtin (small)", "builtin"), ("builtin:deezer", "builtin:deezer")),
        notebook_playlists=2_000,
        retrieval_items=100_000, retrieval_dim=50, retrieval_queries=10_000, kdtree_queries_per_round=2_000,
        training_sets=(
            TrainingSet("e-commerce", ECOMMERCE, None, (DEFAULT, *GRID)),
            TrainingSet("builtin:deezer", "builtin:deezer", None, (DEFAULT, *GRID), profile_playlists=20_000),
        ),
        gensim_epochs=5, gensim_rounds=3, profile_rounds=2,
        tune_trials=16, tune_epochs=6, tune_seeds=(0, 1, 2),
        parallel_trials=8, parallel_epochs=3, parallel_rounds=2,
        memory_playlists=(None, 20_000),
        quality_corpora=_quality_corpora(quick=False), quality_trials=24,
        optuna_trials=64, transfer=_transfer_plan(quick=False),
        mpd_playlists=(100_000, 300_000, 1_000_000), mpd_slices=20,
    )


def _transfer_plan(quick: bool):
    """Row 9's studies: the small built-in corpus and one seed in a quick run; in a full one more trials, three
    seeds of it and one of Kosarak, a larger real corpus whose epochs on all the data cost more.
    The study on all the data gets the warm-started study's trials plus the sample study's scaled by the
    fraction, so both sides train about as many playlist-epochs (the row measures it)."""
    from bench.row_transfer import TransferPlan

    if quick:
        return TransferPlan(fraction=0.1, sample_trials=6, warm_trials=3, warm_top=2, max_epochs=3,
                            runs=(("builtin", 0),))
    return TransferPlan(fraction=0.1, sample_trials=20, warm_trials=6, warm_top=3, max_epochs=6,
                        runs=(("builtin", 0), ("builtin", 1), ("builtin", 2), (KOSARAK, 0)))


def _quality_corpora(quick: bool) -> tuple:
    """Row 8's corpora: the built-in one only in a quick run (a short study), issue 12's four in a full run."""
    from bench.row_quality import QualityCorpus

    builtin = QualityCorpus("builtin small", "builtin")
    if quick:
        return (builtin,)
    return (QualityCorpus("e-commerce", ECOMMERCE), QualityCorpus("Kosarak", KOSARAK), builtin,
            QualityCorpus("#nowplaying", NOWPLAYING, music=True))


def derived_quality_corpora() -> tuple:
    """Row 8's corpora derived from the shared files, run only when ``--quality-corpora`` names them."""
    from bench.row_quality import QualityCorpus, first_sessions, shuffled_sessions

    return (QualityCorpus("Kosarak shuffled", KOSARAK, derive=shuffled_sessions),
            QualityCorpus("#nowplaying 10k", NOWPLAYING, music=True, derive=first_sessions(10_000)))


# ---------------------------------------------------------------------------------------
# Side-by-side timing


@dataclass(frozen=True)
class Sample:
    seconds: float
    value: Any  # what the measured call returned


def alternate(candidates: dict[str, Callable[[], Any]], rounds: int) -> dict[str, list[Sample]]:
    """Run every candidate once per round, in alternating order (A B, B A, A B, ...).

    Alternating cancels a slow drift of the machine's load; adjacent calls of one
    round see nearly the same load, so per-round ratios (``paired_ratios``) are
    the fairest comparison on a shared machine.
    """
    names = list(candidates)
    samples: dict[str, list[Sample]] = {name: [] for name in names}
    for round_index in range(rounds):
        for name in names if round_index % 2 == 0 else reversed(names):
            started = time.perf_counter()
            value = candidates[name]()
            samples[name].append(Sample(time.perf_counter() - started, value))
    return samples


def median(values: Sequence[float]) -> float:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else float("nan")


def paired_ratios(numerators: Sequence[float], denominators: Sequence[float]) -> list[float]:
    """Per-round ratios ``numerators[i] / denominators[i]`` (rounds measured side by side)."""
    return [a / b if b else float("inf") for a, b in zip(numerators, denominators)]


def spread(values: Sequence[float], fmt: str = "{:.3g}") -> str:
    """``median [min-max], n=N`` of ``values``."""
    values = list(values)
    if not values:
        return "n/a"
    return f"{fmt.format(median(values))} [{fmt.format(min(values))}-{fmt.format(max(values))}], n={len(values)}"


class Stopwatch:
    """``with Stopwatch() as watch: ...``; then ``watch.seconds``."""

    def __enter__(self) -> "Stopwatch":
        self.started = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.started


# ---------------------------------------------------------------------------------------
# Formatting


def si(value: float, unit: str = "", digits: int = 3) -> str:
    """``12.3 M pairs/s`` style numbers."""
    if value is None or value != value:
        return "n/a"
    for factor, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.{digits}g} {prefix}{unit}".rstrip()
    return f"{value:.{digits}g} {unit}".rstrip()


def seconds(value: float | None) -> str:
    if value is None or value != value:
        return "n/a"
    return f"{value:.3g} s" if value < 100 else f"{value:,.0f} s"


def times(value: float | None) -> str:
    """A speed-up factor: ``153x``."""
    if value is None or value != value:
        return "n/a"
    return f"{value:,.0f}x" if value >= 100 else f"{value:.3g}x"


def mib(n_bytes: float | None) -> str:
    return "n/a" if n_bytes is None else f"{n_bytes / 2**20:,.0f} MiB"


# ---------------------------------------------------------------------------------------
# Reports


@dataclass
class Measure:
    """One line of the table: ours against the baseline, the ratio and its target."""

    what: str
    ours: str
    baseline: str = ""
    ratio: str = ""
    target: str = ""
    met: bool | None = None  # None: no target, or not measurable
    note: str = ""

    def cells(self) -> list[str]:
        met = {True: "yes", False: "NO", None: ""}[self.met]
        return [self.what, self.ours, self.baseline, self.ratio, self.target, met, self.note]


HEADER = ["Measure", "Ours", "Baseline", "Ratio", "Target", "Met", "Note"]


@dataclass
class RowReport:
    number: int
    title: str
    measures: list[Measure] = field(default_factory=list)
    details: list[str] = field(default_factory=list)  # profile breakdowns, curves: printed as they are
    skipped: str | None = None
    seconds: float = 0.0

    def add(self, *args, **kwargs) -> Measure:
        measure = Measure(*args, **kwargs)
        self.measures.append(measure)
        return measure

    def detail(self, line: str = "") -> None:
        self.details.append(line)


def text_table(rows: list[list[str]], header: list[str]) -> str:
    """A plain fixed-width table (for the terminal); empty trailing columns are dropped."""
    used = [i for i in range(len(header)) if any(row[i] for row in rows)]
    widths = {i: max(len(header[i]), *(len(row[i]) for row in rows)) for i in used}
    lines = ["  ".join(header[i].ljust(widths[i]) for i in used).rstrip()]
    lines.append("  ".join("-" * widths[i] for i in used))
    lines += ["  ".join(row[i].ljust(widths[i]) for i in used).rstrip() for row in rows]
    return "\n".join(lines)


def markdown_table(rows: list[list[str]], header: list[str]) -> str:
    escape = lambda cell: cell.replace("|", "\\|")  # noqa: E731
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(escape(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def render_text(report: RowReport) -> str:
    lines = [f"== {report.number}. {report.title} ({report.seconds:.0f} s) =="]
    if report.skipped:
        lines.append(f"skipped: {report.skipped}")
    if report.measures:
        lines.append(text_table([m.cells() for m in report.measures], HEADER))
    if report.details:
        lines += ["", *report.details]
    return "\n".join(lines)


def render_markdown(reports: list[RowReport], settings: Settings, command: str, machine: dict[str, str],
                    versions: dict[str, str], started: str, total_seconds: float) -> str:
    """BENCHMARKS.md: machine, versions, the command to rerun, one table, then each row's details."""
    rows = []
    for report in reports:
        if report.skipped:
            rows.append([f"{report.number}. {report.title}", f"skipped: {report.skipped}", "", "", "", "", ""])
        for measure in report.measures:
            rows.append([f"{report.number}. {measure.what}", *measure.cells()[1:]])
    out = [
        "# Benchmarks",
        "",
        "Generated by `scripts/benchmark.py`; every ratio is measured side by side in one process run "
        "(the compared things alternate, each is repeated, medians are reported).",
        "",
        f"- date: {started} (took {total_seconds / 60:.1f} min)",
        f"- mode: {settings.describe()}",
        f"- command: `{command}`",
        "- machine: " + ", ".join(f"{key} {value}" for key, value in machine.items()),
        "- versions: " + ", ".join(f"{key} {value}" for key, value in versions.items()),
        "",
        "## Results",
        "",
        markdown_table(rows, HEADER),
        "",
    ]
    for report in reports:
        if not report.details:
            continue
        out += [f"## {report.number}. {report.title}", "", "```", *report.details, "```", ""]
    return "\n".join(out)


# ---------------------------------------------------------------------------------------
# Machine and versions


def machine_info() -> dict[str, str]:
    """CPU model, cores and RAM of this machine, and the load when the run started."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "unknown"
    try:
        import psutil

        ram = f"{psutil.virtual_memory().total / 2**30:.1f} GiB"
    except ImportError:
        pass
    info = {"CPU": model, "cores": str(os.cpu_count()), "RAM": ram, "OS": platform.platform(terse=True)}
    try:
        info["load average at start"] = " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        pass
    return info


VERSIONED = ("numpy", "tensorflow", "jax", "keras", "ray", "optuna", "gensim", "scikit-learn", "psutil")


def versions() -> dict[str, str]:
    """Python and the versions of the packages the rows use (read from metadata: nothing is imported)."""
    found = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


# ---------------------------------------------------------------------------------------
# Corpora


_CORPORA: dict[tuple[str, int | None], Any] = {}


def load_corpus(spec: str, playlists: int | None = None, seed: int = 0):
    """``build_corpus(load_playlists(spec))`` with library defaults, cached; ``playlists`` keeps the first N."""
    key = (spec, playlists, seed)
    if key not in _CORPORA:
        from track2vec.corpus import build_corpus
        from track2vec.data.loaders import load_playlists

        loaded = load_playlists(spec, seed)
        if playlists is not None:
            loaded = loaded.head(playlists)
        _CORPORA[key] = build_corpus(loaded, seed=seed)
    return _CORPORA[key]


def truncated(corpus, playlists: int | None):
    """The corpus with only its first ``playlists`` training playlists (vocabulary and held-out pairs unchanged)."""
    if playlists is None or playlists >= corpus.n_playlists:
        return corpus
    end = int(corpus.offsets[playlists])
    return dataclasses.replace(corpus, tokens=corpus.tokens[:end], offsets=corpus.offsets[: playlists + 1])


def playlist_lists(corpus) -> list[list[int]]:
    """The training playlists as Python lists of ids (the notebook's ``corpus_num``)."""
    tokens = corpus.tokens.tolist()
    bounds = corpus.offsets.tolist()
    return [tokens[start:end] for start, end in zip(bounds[:-1], bounds[1:])]


def describe_corpus(corpus) -> str:
    stats = corpus.stats
    return (f"{stats['playlists']:,} playlists, {stats['training_tokens']:,} training tokens, "
            f"vocabulary {stats['vocabulary_size']:,}, {stats['validation_pairs']:,} validation pairs")


# ---------------------------------------------------------------------------------------
# Subprocesses


CHILD_MARK = "BENCH-RESULT "
SCRIPT = REPO / "scripts" / "benchmark.py"


def child_environment(changes: dict[str, str | None] | None) -> dict[str, str]:
    """This process' environment with ``changes``: a ``None`` value removes the variable."""
    environment = dict(os.environ)
    for key, value in (changes or {}).items():
        if value is None:
            environment.pop(key, None)
        else:
            environment[key] = value
    return environment


def run_child(name: str, arguments: dict, timeout: float, env: dict[str, str | None] | None = None) -> dict:
    """Run ``benchmark.py --child name`` in a fresh Python process and return the JSON it prints.

    ``env`` changes the child's environment: a ``None`` value removes the variable.
    """
    import json
    import subprocess
    import sys

    completed = subprocess.run(
        [sys.executable, str(SCRIPT), "--child", name, "--child-args", json.dumps(arguments)],
        capture_output=True, text=True, timeout=timeout, cwd=REPO, env=child_environment(env),
    )
    for line in completed.stdout.splitlines():
        if line.startswith(CHILD_MARK):
            return json.loads(line[len(CHILD_MARK):])
    tail = (completed.stderr or completed.stdout).strip().splitlines()[-5:]
    raise RuntimeError(f"child {name!r} exited with {completed.returncode}: " + " | ".join(tail))


def count_probe_parser(description: str):
    """The parser of ``--data`` and ``--seeds`` (comma-separated split seeds) of the scripts that ask the counts on
    validation (``measure_recency_counts.py``, ``measure_count_signals.py``), for a script to add its own options
    to."""
    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", required=True)
    parser.add_argument("--seeds", default="0", help="comma-separated split seeds")
    return parser


def count_probe_arguments(description: str):
    """The parsed ``--data`` and ``--seeds`` of :func:`count_probe_parser`."""
    return count_probe_parser(description).parse_args()


def corpora_with_counts(data: str, seeds: str):
    """``(seed, corpus, fitted)`` for each of ``seeds``: the corpus split with that seed and its SR and AR
    fitted as every study fits them (steps and weighting chosen on its validation pairs)."""
    from track2vec.baselines import fit_count_baselines
    from track2vec.corpus import build_corpus
    from track2vec.data.loaders import load_playlists

    playlists = load_playlists(data)
    for seed in (int(text) for text in seeds.split(",")):
        corpus = build_corpus(playlists, seed=seed)
        yield seed, corpus, fit_count_baselines(corpus.tokens, corpus.offsets, len(corpus.vocabulary),
                                                corpus.validation_pairs)
