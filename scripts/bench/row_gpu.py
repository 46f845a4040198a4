"""Row 6: row 3's training on a GPU: one trial alone, and several fractional-GPU trials at once.

(a) one trial: row 3's configurations trained on the GPU, then (side by side, same
    machine, same backend) the default one on the machine's CPUs;
(b) fractional trials: row 5's study of identical trials through the service, with
    ``--gpus-per-trial 1`` (one trial at a time) and ``--gpus-per-trial 1/n`` (n at
    once on the one card); trials per hour and the peak number of trials that ran at once.

Everything runs in subprocesses that may see GPUs (the main process hides them).
Keras' backend is the environment's: TensorFlow by default; ``KERAS_BACKEND=jax`` runs
the same model and training code on JAX, for GPU machines that have JAX but cannot
install TensorFlow's CUDA build.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from bench.common import DEFAULT, DEVICES_AT_START, ECOMMERCE, LARGE_BATCH_ADAM, RowReport, Settings, median, \
    run_child, si, times
from bench.row_resources import fixed_study_config
from bench.studies import run_study

NO_GPU = "no GPU visible to Keras' backend here; BENCHMARKS-GPU.md holds the latest run on a GPU machine"
GPU_ENV = DEVICES_AT_START
ONE_TRIAL_RUNS = (("e-commerce", ECOMMERCE, DEFAULT), ("e-commerce", ECOMMERCE, LARGE_BATCH_ADAM),
                  ("builtin:deezer", "builtin:deezer", DEFAULT))
FRACTIONAL_DATA = ECOMMERCE
# An e-commerce epoch takes ~0.4 s on an H200: with row 5's 2-3 epochs a trial's start-up (process, JAX,
# compilation) is most of it and trials barely overlap; 6 epochs let the fractional trials share the card.
FRACTIONAL_EPOCHS = 6


def backend() -> str:
    return os.environ.get("KERAS_BACKEND", "tensorflow")


def list_gpus() -> list[str]:
    """The GPUs Keras' backend sees (call after ``configure_backend``)."""
    if backend() == "jax":
        import jax

        return [f"{device.device_kind} ({device.platform}:{device.id})" for device in jax.devices()
                if device.platform == "gpu"]
    import tensorflow as tf

    return [device.name for device in tf.config.list_physical_devices("GPU")]


def child(arguments: dict) -> dict:
    """Train the given runs on the GPU (or, with ``cpu``, on the CPUs); returns their epochs."""
    from track2vec.runtime import configure_backend

    configure_backend(use_gpu=not arguments.get("cpu"))
    devices = ["CPU"] if arguments.get("cpu") else list_gpus()
    if not devices:
        return {"devices": []}
    from bench.common import Variant, load_corpus
    from bench.row_training import train_ours

    runs = []
    for label, spec, variant, epochs in arguments["runs"]:
        run = train_ours(load_corpus(spec), Variant(*variant), epochs)
        runs.append({"label": label, "name": run.name, "setup": run.setup_seconds,
                     "epochs": [[e.train_seconds, e.pairs_per_second, e.ndcg] for e in run.epochs]})
    return {"devices": devices, "runs": runs}


def peak_concurrency(study_path: Path) -> int:
    """The most trials that were training at the same moment (from each trial's last result: end - total time)."""
    spans = []
    for result_file in study_path.glob("*/result.json"):
        rows = [json.loads(line) for line in result_file.read_text().splitlines() if line.strip()]
        if rows:
            last = rows[-1]
            spans.append((float(last["timestamp"]) - float(last["time_total_s"]), float(last["timestamp"])))
    edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])  # an end before a start
    running = peak = 0
    for _, change in edges:
        running += change
        peak = max(peak, running)
    return peak


def one_trial(settings: Settings, report: RowReport) -> list[str] | None:
    epochs = settings.gensim_epochs
    runs = [(label, spec, [variant.optimizer, variant.batch, variant.learning_rate], 2 if "deezer" in spec else epochs)
            for label, spec, variant in ONE_TRIAL_RUNS]
    gpu = run_child("gpu", {"runs": runs}, timeout=3600, env=GPU_ENV)
    if not gpu["devices"]:
        return None
    cpu = run_child("gpu", {"runs": runs[:1], "cpu": True}, timeout=3600, env=GPU_ENV)
    rates = {}
    for where, result in (("GPU", gpu), ("CPU", cpu)):
        for run in result["runs"]:
            epochs_run = run["epochs"]
            rate = median([e[1] for e in epochs_run])
            rates[(where, run["label"], run["name"])] = rate
            report.detail(f"(a) {where}, {run['label']}, {run['name']}: setup {run['setup']:.1f} s; per epoch "
                          "(train s, pairs/s, NDCG@10): " + "; ".join(f"{s:.2f}, {p:,.0f}, {n:.4f}" for s, p, n in epochs_run))
    for run in gpu["runs"]:
        on_cpu = rates.get(("CPU", run["label"], run["name"]))
        rate = rates[("GPU", run["label"], run["name"])]
        report.add(f"one trial, pairs/s, {run['label']}, {run['name']}", si(rate, "pairs/s") + " (GPU)",
                   si(on_cpu, "pairs/s") + " (same machine's CPUs)" if on_cpu else "",
                   times(rate / on_cpu) if on_cpu else "", "", None,
                   f"NDCG@10 after {len(run['epochs'])} epochs {run['epochs'][-1][2]:.4f}; "
                   f"{median([e[0] for e in run['epochs']]):.2f} s/epoch")
    return gpu["devices"]


def fractional_trials(report: RowReport, shares: int = 4) -> None:
    trials, epochs = 2 * shares, FRACTIONAL_EPOCHS
    rates, peaks = {}, {}
    with tempfile.TemporaryDirectory(prefix="track2vec-bench-gpu-") as storage:
        config = Path(storage) / "fixed.toml"
        config.write_text(fixed_study_config(FRACTIONAL_DATA))
        options = ["--data", FRACTIONAL_DATA, "--config", str(config), "--trials", str(trials), "--max-epochs",
                   str(epochs), "--grace-period", str(epochs), "--seed", "0", "--no-dashboard", "--cpus-per-trial", "2"]
        for share in (1.0, 1 / shares):
            study = run_study(Path(storage), f"gpu-{share:g}", [*options, "--gpus-per-trial", f"{share:g}"],
                              timeout=3600, env=GPU_ENV)
            rates[share] = trials / study.fit_seconds * 3600
            peaks[share] = peak_concurrency(study.path)
    fraction = 1 / shares
    report.add(f"trials/hour, e-commerce, {trials} identical trials of {epochs} epochs",
               f"{rates[fraction]:.0f} ({shares} at once, {fraction:g} GPU each)",
               f"{rates[1.0]:.0f} (1 GPU per trial)", times(rates[fraction] / rates[1.0]), "", None,
               f"at most {peaks[fraction]} vs {peaks[1.0]} trials training at once (from Ray's results)")
    report.detail("(b) study config: " + fixed_study_config(FRACTIONAL_DATA).replace("\n", "; ").strip("; ")
                  + "; 2 CPUs per trial; Tuner.fit time")


def run(settings: Settings) -> RowReport:
    report = RowReport(6, f"GPU: row 3's training on one GPU, and fractional-GPU trials (Keras backend: {backend()})")
    devices = one_trial(settings, report)
    if devices is None:
        report.skipped = NO_GPU
        return report
    report.detail(f"GPUs: {', '.join(devices)}; Keras backend {backend()}")
    fractional_trials(report)
    return report
