"""Row 6: row 3's training on a GPU, in a subprocess that lets TensorFlow see GPUs (the main process hides them)."""

from __future__ import annotations

from bench.common import CUDA_VISIBLE_AT_START, DEFAULT, ECOMMERCE, RowReport, Settings, median, run_child, si

NO_GPU = "no GPU machine is lent to this session (tf.config.list_physical_devices('GPU') found none)"


def child(arguments: dict) -> dict:
    """List the GPUs; with one, train row 3's default configuration on it and return its epochs."""
    from track2vec.runtime import configure_tensorflow

    configure_tensorflow(use_gpu=True)
    import tensorflow as tf

    gpus = [device.name for device in tf.config.list_physical_devices("GPU")]
    if not gpus:
        return {"gpus": []}
    from bench.common import load_corpus
    from bench.row_training import train_ours

    run = train_ours(load_corpus(arguments["data"]), DEFAULT, arguments["epochs"])
    return {"gpus": gpus, "name": run.name, "setup": run.setup_seconds,
            "epochs": [[e.train_seconds, e.pairs_per_second, e.ndcg] for e in run.epochs]}


def run(settings: Settings) -> RowReport:
    report = RowReport(6, "GPU: row 3's training on a GPU")
    result = run_child("gpu", {"data": ECOMMERCE, "epochs": settings.gensim_epochs}, timeout=3600,
                       env={"CUDA_VISIBLE_DEVICES": CUDA_VISIBLE_AT_START})
    if not result["gpus"]:
        report.skipped = NO_GPU
        return report
    epochs = result["epochs"]
    report.add(f"training pairs/s on {result['gpus'][0]}, e-commerce, {result['name']}",
               si(median([e[1] for e in epochs]), "pairs/s"), note=f"NDCG@10 after {len(epochs)} epochs {epochs[-1][2]:.4f}")
    report.detail(f"GPUs: {', '.join(result['gpus'])}; setup {result['setup']:.1f} s; per epoch (s, pairs/s, NDCG@10): "
                  + "; ".join(f"{s:.1f}, {p:,.0f}, {n:.4f}" for s, p, n in epochs))
    return report
