"""Row 5: parallelism and memory.

(a) trials per hour with 1 vs 2 concurrent trials on this machine: the same study of
    identical trials (every hyperparameter fixed but a speed-neutral sliver of alpha; no
    ASHA stopping) run with ``--cpus-per-trial 2`` and ``1``, alternating;
(b) peak resident memory of one trial worker on ``builtin:deezer``: a fresh Python
    process that does what ``tune.trainable.train_trial`` does (TensorFlow sized to one
    thread, the corpus handed over, ``Trainer.fit``); its peak is the kernel's VmHWM, and
    psutil samples the resident memory of each stage;
(c) the corpus in Ray's object store: ``ray.put`` once (as ``tune.with_parameters`` does),
    then 1 and 2 trial-like actors ``ray.get`` it; the store's usage is read after each.
"""

from __future__ import annotations

import pickle
import re
import tempfile
import time
from pathlib import Path


from bench.common import RowReport, Settings, load_corpus, truncated, median, mib, paired_ratios, run_child, spread, times
from bench.studies import run_study

PARALLEL_DATA = "builtin"
MEMORY_DATA = "builtin:deezer"
MEMORY_TARGET_BYTES = 1.5 * 2**30
SIZE_PARAMS = ("dim", "batch_size", "negatives", "window")  # what a trial's memory grows with


def largest_config() -> dict:
    """The default search space's costliest corner for memory: the upper end of each size parameter."""
    from tune.search_space import PARAMS

    return {name: PARAMS[name].default[1] for name in SIZE_PARAMS if isinstance(PARAMS[name].default, tuple)}


# ---------------------------------------------------------------------------------------
# (a) trials per hour


def fixed_study_config(data: str) -> str:
    """TOML that fixes every hyperparameter at TrainConfig's default on ``data``'s vocabulary; alpha keeps a
    tiny range (Optuna needs one)."""
    from track2vec.config import TrainConfig

    defaults = TrainConfig().resolved(len(load_corpus(data).vocabulary))
    lines = [f'architecture = "{defaults.architecture}"', f'optimizer = "{defaults.optimizer}"',
             f'lr_schedule = "{defaults.lr_schedule}"',
             f"dim = {defaults.dim}", f"window = {defaults.window}", f"negatives = {defaults.negatives}",
             f'direction = "{defaults.direction}"', f"shrink_windows = {str(defaults.shrink_windows).lower()}",
             f"batch_size = {defaults.batch_size}", f"subsample = {defaults.subsample}",
             f"learning_rate = {defaults.learning_rate}",
             f"alpha = {{ min = {defaults.alpha - 0.01}, max = {defaults.alpha + 0.01} }}"]
    return "\n".join(lines) + "\n"


def trials_per_hour(settings: Settings, report: RowReport) -> None:
    trials, epochs = settings.parallel_trials, settings.parallel_epochs
    with tempfile.TemporaryDirectory(prefix="track2vec-bench-parallel-") as storage:
        config = Path(storage) / "fixed.toml"
        config.write_text(fixed_study_config(PARALLEL_DATA))
        options = ["--data", PARALLEL_DATA, "--config", str(config), "--trials", str(trials),
                   "--max-epochs", str(epochs), "--grace-period", str(epochs), "--seed", "0"]
        rates: dict[int, list[float]] = {1: [], 2: []}
        for round_index in range(settings.parallel_rounds):
            for concurrent in (1, 2) if round_index % 2 == 0 else (2, 1):
                study = run_study(Path(storage), f"parallel-{concurrent}-{round_index}",
                                  [*options, "--cpus-per-trial", str(2 // concurrent)], timeout=3600)
                rates[concurrent].append(trials / study.fit_seconds * 3600)
    ratio = median(paired_ratios(rates[2], rates[1]))
    report.add(f"trials/hour, {PARALLEL_DATA}, {trials} identical trials of {epochs} epochs",
               f"{median(rates[2]):.0f} (2 concurrent, 1 CPU each)", f"{median(rates[1]):.0f} (1 trial, 2 CPUs)",
               times(ratio), "", None, "Tuner.fit time; includes each trial's TensorFlow start and checkpoints")
    report.detail(f"(a) trials/hour, 2 concurrent: {spread(rates[2], '{:.0f}')}; 1 at a time: {spread(rates[1], '{:.0f}')}")
    report.detail("    study config: " + fixed_study_config(PARALLEL_DATA).replace("\n", "; ").strip("; "))


# ---------------------------------------------------------------------------------------
# (b) a trial worker's peak memory


class PeakMeter:
    """Samples this process' resident memory in a thread: the peak of each named stage."""

    def __init__(self, interval: float = 0.01) -> None:
        import threading

        import psutil

        self.process = psutil.Process()
        self.interval = interval
        self.stage = "python, numpy, psutil"
        self.peaks: dict[str, int] = {self.stage: self.process.memory_info().rss}
        self.seconds: dict[str, float] = {}  # each stage's wall time, once it has ended
        self.started = time.monotonic()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _sample(self) -> None:
        while not self.stopped.wait(self.interval):
            self._record()

    def _record(self) -> None:
        rss = self.process.memory_info().rss
        self.peaks[self.stage] = max(self.peaks.get(self.stage, 0), rss)

    def enter(self, stage: str) -> None:
        self._record()
        self._end_stage()
        self.stage = stage
        self._record()

    def _end_stage(self) -> None:
        now = time.monotonic()
        self.seconds[self.stage] = self.seconds.get(self.stage, 0.0) + now - self.started
        self.started = now

    def stop(self) -> dict[str, int]:
        self._record()
        self._end_stage()
        self.stopped.set()
        self.thread.join()
        return self.peaks


def first_step_callback(meter: PeakMeter):
    """A Keras callback that starts the stage "later steps" once the first (compiling) call is done.

    Keras reports batches once per call of its compiled function (16 steps, see
    ``track2vec.model.STEPS_PER_EXECUTION``), so the first report's index is not 0.
    """
    import keras

    class FirstStep(keras.callbacks.Callback):
        entered = False

        def on_train_batch_end(self, batch, logs=None):
            if not self.entered:
                self.entered = True
                meter.enter("later steps + end-of-epoch evaluation")

    return FirstStep()


def peak_rss() -> int | None:
    """This process' peak resident memory in bytes: ``VmHWM`` of /proc/self/status (Linux).

    Not ``getrusage``'s ``ru_maxrss``: a child started by fork + exec inherits its
    parent's peak there, so the benchmark's own memory would count.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def child(arguments: dict) -> dict:
    """In a fresh process: train one epoch like a 1-CPU trial does; the peak resident memory of each stage."""
    meter = PeakMeter()
    meter.enter("import TensorFlow and Keras")
    from track2vec.runtime import configure_backend

    configure_backend(threads=1, vocabulary_size=arguments.get("vocabulary_size"))  # as a trial worker does
    from track2vec.config import TrainConfig
    from track2vec.training import Trainer

    meter.enter("unpickle the corpus")
    with open(arguments["corpus"], "rb") as handle:
        corpus = pickle.load(handle)
    meter.enter("build the model (Trainer)")
    trainer = Trainer(corpus, TrainConfig(**arguments["config"], epochs=1, seed=0))
    meter.enter("first call: 16 steps (XLA compile)")
    trainer.fit(epochs=1, callbacks=[first_step_callback(meter)])
    meter.enter("evaluation again, alone")
    trainer.evaluate(corpus.validation_pairs)
    peaks = meter.stop()
    peak = peak_rss() or max(peaks.values())
    return {"stages": peaks, "seconds": meter.seconds, "peak": peak, "pairs": trainer.pairs_in_epoch,
            "vocabulary": len(corpus.counts)}


def worker_memory(settings: Settings, report: RowReport) -> None:
    corpus = load_corpus(MEMORY_DATA)
    configs = (("default config", {}), ("largest in the search space", largest_config()))
    for (label, config), playlists in zip(configs, settings.memory_playlists):  # --quick: default only
        part = truncated(corpus, playlists)
        what = ("1 epoch" if part is corpus else
                f"1 epoch over the first {playlists:,} of {corpus.n_playlists:,} playlists "
                "(full vocabulary: full-size model and optimizer state)")
        with tempfile.TemporaryDirectory(prefix="track2vec-bench-memory-") as directory:
            path = Path(directory) / "corpus.pkl"
            path.write_bytes(pickle.dumps(part, protocol=5))
            result = run_child("memory", {"corpus": str(path), "config": config,
                                          "vocabulary_size": len(part.vocabulary)}, timeout=3600)
        peak = result["peak"]
        report.add(f"peak RSS of a trial worker, {MEMORY_DATA}, {label}", mib(peak), "", "",
                   f"<= {mib(MEMORY_TARGET_BYTES)}", peak <= MEMORY_TARGET_BYTES,
                   f"{what}; vocabulary {result['vocabulary']:,}")
        report.detail(f"(b) {label}{' ' + str(config) if config else ''}: peak resident memory of each stage (psutil, "
                      "sampled every 10 ms); overall peak: the kernel's VmHWM")
        for stage, rss in result["stages"].items():
            report.detail(f"    {stage:40s} {mib(rss)}")
        report.detail(f"    {'overall peak':40s} {mib(peak)} ({result['pairs']:,} pairs trained)")


# ---------------------------------------------------------------------------------------
# (c) the object store


PLASMA = re.compile(r"Plasma memory usage (\d+) MiB, (\d+) objects")


def store_usage(address: str) -> tuple[int, int]:
    """(MiB used, objects) of the object store, from Ray's memory summary."""
    from ray._private.internal_api import memory_summary

    match = PLASMA.search(memory_summary(address=address, stats_only=True))
    return (int(match.group(1)), int(match.group(2))) if match else (-1, -1)


def object_store(settings: Settings, report: RowReport) -> None:
    import ray

    corpus = load_corpus(MEMORY_DATA)

    @ray.remote(num_cpus=1)
    class TrialLike:
        """Holds the corpus the way a trial does: ray.get of the reference tune.with_parameters passes."""

        def __init__(self, refs):
            self.corpus = ray.get(refs[0])
            self.checksum = int(self.corpus.tokens.sum())  # touch every page

        def info(self):
            import psutil

            memory = psutil.Process().memory_full_info()
            return {"zero_copy": not self.corpus.tokens.flags.writeable, "rss": memory.rss, "uss": memory.uss}

    context = ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        address = context.address_info["gcs_address"]
        ref = ray.put(corpus)
        usage = {0: store_usage(address)}
        actors, infos = [], []
        for count in (1, 2):
            actors.append(TrialLike.remote([ref]))
            infos.append(ray.get(actors[-1].info.remote()))
            usage[count] = store_usage(address)
    finally:
        ray.shutdown()
    one, two = usage[1][0], usage[2][0]
    report.add(f"object store used, {MEMORY_DATA} corpus, 1 vs 2 trials holding it",
               f"{two} MiB, {usage[2][1]} object(s) with 2", f"{one} MiB, {usage[1][1]} object(s) with 1",
               f"{two / one:.2f}" if one > 0 else "n/a", "1 copy (ratio 1.00)", one > 0 and two == one and usage[2][1] == 1,
               f"corpus arrays {mib(corpus.nbytes)}; zero-copy reads: "
               + ", ".join(str(info["zero_copy"]) for info in infos))
    report.detail(f"(c) object store (Ray memory summary): after put {usage[0][0]} MiB / {usage[0][1]} object(s); "
                  f"1 holder {one} MiB / {usage[1][1]}; 2 holders {two} MiB / {usage[2][1]}; "
                  "holders' USS (private memory): " + ", ".join(mib(info["uss"]) for info in infos))


def run(settings: Settings) -> RowReport:
    report = RowReport(5, "Parallelism and memory")
    for part in (trials_per_hour, worker_memory, object_store):
        started = time.perf_counter()
        try:
            part(settings, report)
        except Exception as error:  # noqa: BLE001 - one part failing keeps the others
            report.add(f"{part.__name__}", f"failed: {type(error).__name__}: {error}")
        report.detail(f"    ({part.__name__}: {time.perf_counter() - started:.0f} s)")
    return report
