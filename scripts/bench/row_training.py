"""Row 3: training against gensim 4 on the same playlists, the same validation pairs and the same metric.

For each corpus: gensim's skip-gram (``Word2Vec(sg=1, hs=0, ...)``, its default 5 epochs)
alternates with our configurations (optimizer x batch size). Reported:

(a) training pairs per second: ours from the ``pairs_per_second`` log of
    ``ValidationMetrics``; gensim's from the same positive pairs per epoch (both keep
    each token with probability ``sqrt(t/f) + t/f`` and use a fixed window, so the
    expected pair count is the same; the kept-token counts are printed as a check);
(b) time to quality: our training time (model build + epochs, evaluation excluded)
    until the validation NDCG@10 reaches gensim's after its 5 epochs, over gensim's
    time (vocabulary + training);
(c) each one's NDCG@10 after as many epochs as gensim;

Both sides are scored alike: gensim's model, as each epoch of ours, by the best on the validation
pairs of input-input cosine and target-context (gensim's output vectors, ``syn1neg``), each with
every popularity weight (``track2vec.evaluation.evaluate_scorings``).

Configurations other than the default stop early once they have trained as long as the
fastest so far took to reach gensim's quality (they can no longer be the best).

A profile shows where our seconds go: the sampler alone, the input pipeline alone, the
TF steps on pre-generated in-memory arrays (and, as a what-if, one step per call of the
compiled function instead of the library's 16), the full pipeline, the evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bench.common import DEFAULT, LEARNING_RATES, PAPER, RowReport, Settings, Stopwatch, TrainingSet, Variant, \
    alternate, describe_corpus, load_corpus, median, si, spread, text_table, times, truncated
from track2vec.gensim_baseline import choose_scoring, gensim_vectors, training_sentences

K = 10


def train_config(variant: Variant, epochs: int):
    """The TrainConfig of ``variant``: the paper's setting, TrainConfig's defaults for what the variant leaves open."""
    from track2vec.config import TrainConfig

    config = TrainConfig(**PAPER, epochs=epochs, seed=0, k=K)
    if variant == DEFAULT:
        return config
    architecture = "sgns" if variant.optimizer == "sgd" else config.architecture  # "auto": by vocabulary size
    return TrainConfig(**PAPER, architecture=architecture, optimizer=variant.optimizer, batch_size=variant.batch,
                       learning_rate=variant.learning_rate or LEARNING_RATES[variant.optimizer], epochs=epochs,
                       seed=0, k=K)


def config_name(config, default: bool = False) -> str:
    return (f"{config.architecture} {config.optimizer} b{config.batch_size} lr {config.learning_rate:g}"
            + (" (default)" if default else ""))


def distinct_variants(variants: tuple[Variant, ...], vocabulary_size: int) -> list[Variant]:
    """``variants`` without those that resolve to the same configuration on the corpus as an earlier one."""
    seen, kept = set(), []
    for variant in variants:
        key = config_name(train_config(variant, 1).resolved(vocabulary_size))
        if key not in seen:
            seen.add(key)
            kept.append(variant)
    return kept


# ---------------------------------------------------------------------------------------
# Our training


@dataclass
class EpochRecord:
    epoch: int
    train_seconds: float  # ValidationMetrics' train_seconds: the epoch's steps, evaluation excluded
    eval_seconds: float
    pairs: int
    pairs_per_second: float
    ndcg: float
    partial: bool = False  # stopped mid-epoch (its pair count is what was sampled, not what was trained)


@dataclass
class OursRun:
    variant: Variant
    name: str
    setup_seconds: float  # Trainer(...): sampler tables, model build
    epochs: list[EpochRecord] = field(default_factory=list)
    stopped: bool = False  # stopped early: slower than the best so far to reach gensim's quality

    @property
    def elapsed(self) -> float:
        """Training seconds so far: setup + the epochs' train_seconds."""
        return self.setup_seconds + sum(record.train_seconds for record in self.epochs)

    @property
    def final_ndcg(self) -> float:
        return self.epochs[-1].ndcg

    @property
    def pairs_per_second(self) -> float:
        """Median over the complete epochs (over all, if none is complete)."""
        complete = [e.pairs_per_second for e in self.epochs if not e.partial]
        return median(complete or [e.pairs_per_second for e in self.epochs])

    def time_to(self, ndcg: float) -> float | None:
        """Training seconds (setup + epochs, evaluation excluded) until validation NDCG@10 >= ``ndcg``."""
        elapsed = self.setup_seconds
        for record in self.epochs:
            elapsed += record.train_seconds
            if record.ndcg >= ndcg:
                return elapsed
        return None

    def epoch_reached(self, ndcg: float) -> int | None:
        return next((r.epoch for r in self.epochs if r.ndcg >= ndcg), None)


def epoch_recorder(trainer, run: OursRun):
    """A Keras callback that appends an ``EpochRecord`` per epoch (after ValidationMetrics filled the logs)."""
    import time

    import keras

    class Recorder(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            total = time.perf_counter() - self.started
            run.epochs.append(EpochRecord(
                epoch + 1, logs["train_seconds"], total - logs["train_seconds"], trainer.pairs_in_epoch,
                logs["pairs_per_second"], logs[f"val_ndcg_at_{K}"], partial=run.stopped,
            ))

    return Recorder()


def stop_when_beaten(run: OursRun, target: float, best_seconds: float):
    """A Keras callback that stops ``run`` once it has trained ``best_seconds`` without reaching ``target``.

    Such a run can no longer be the fastest to gensim's quality: the rest of its epochs
    would only cost time. It is checked after every step too (an epoch of a slow
    configuration on the Deezer-scale corpus takes minutes); the epoch cut short is
    still evaluated, and recorded as partial. Goes after ``epoch_recorder`` in the list.
    """
    import time

    import keras

    class StopWhenBeaten(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            if run.time_to(target) is None and run.elapsed + time.perf_counter() - self.started >= best_seconds:
                run.stopped = True  # the recorder, called first at the epoch's end, marks the epoch partial
                self.model.stop_training = True

        def on_epoch_end(self, epoch, logs=None):
            if run.time_to(target) is None and run.elapsed >= best_seconds:
                run.stopped = True
                self.model.stop_training = True

    return StopWhenBeaten()


def train_ours(corpus, variant: Variant, epochs: int, target: float | None = None,
               best_seconds: float | None = None) -> OursRun:
    """Train ``variant``; with ``best_seconds``, stop once it cannot beat that time to ``target``."""
    from track2vec.training import Trainer

    config = train_config(variant, epochs)
    with Stopwatch() as setup:
        trainer = Trainer(corpus, config)
    run = OursRun(variant, config_name(trainer.config, variant == DEFAULT), setup.seconds)
    callbacks = [epoch_recorder(trainer, run)]
    if best_seconds is not None:
        callbacks.append(stop_when_beaten(run, target, best_seconds))
    trainer.fit(callbacks=callbacks)
    return run


def warm_up() -> None:
    """One tiny training run, so that TensorFlow's one-off start-up costs fall on no measured configuration."""
    train_ours(load_corpus("builtin:tiny"), DEFAULT, 1)


# ---------------------------------------------------------------------------------------
# gensim


@dataclass
class GensimRun:
    vocab_seconds: float
    train_seconds: float
    effective_words: int  # words trained after subsampling, all epochs
    ndcg: float
    hit_rate: float
    scoring: str  # the scoring chosen on the validation pairs, as ours choose theirs

    @property
    def seconds(self) -> float:
        return self.vocab_seconds + self.train_seconds


def score_gensim(model, corpus):
    """gensim's model scored as ours are (``track2vec.gensim_baseline.choose_scoring``): the best on the
    validation pairs of input-input cosine and its output vectors' (``syn1neg``) scorings."""
    size = len(corpus.counts)
    return choose_scoring(gensim_vectors(model, size), gensim_vectors(model, size, model.syn1neg), corpus, K)


def train_gensim(corpus, sentences: list[list[str]], epochs: int, seed: int) -> GensimRun:
    from gensim.models import Word2Vec

    model = Word2Vec(sg=1, hs=0, negative=PAPER["negatives"], window=PAPER["window"], sample=PAPER["subsample"],
                     ns_exponent=PAPER["alpha"], vector_size=PAPER["dim"], min_count=1, shrink_windows=False,
                     workers=2, epochs=epochs, seed=seed)
    with Stopwatch() as vocab:
        model.build_vocab(sentences)
    with Stopwatch() as train:
        effective, _raw = model.train(sentences, total_examples=model.corpus_count, epochs=model.epochs)
    scored = score_gensim(model, corpus)
    return GensimRun(vocab.seconds, train.seconds, int(effective), scored.metrics.ndcg, scored.metrics.hit_rate,
                     scored.scoring.describe())


def expected_kept_tokens(corpus) -> float:
    """Tokens per epoch kept by subsampling (ours and gensim's use the same probability)."""
    from track2vec.sampling import keep_probability

    return float(keep_probability(corpus.counts, PAPER["subsample"])[corpus.tokens].sum())


# ---------------------------------------------------------------------------------------
# Side by side


def interleaved_schedule(n_configs: int, gensim_rounds: int) -> list[int | None]:
    """The run order: config indices with ``None`` (a gensim run) spread evenly among them."""
    before = {round(i * n_configs / gensim_rounds) for i in range(gensim_rounds)}
    schedule: list[int | None] = []
    for index in range(n_configs):
        schedule += [None] * (index in before) + [index]
    return schedule + [None] * (gensim_rounds - schedule.count(None))


def compare(corpus, variants: list[Variant], settings: Settings) -> tuple[list[GensimRun], list[OursRun]]:
    sentences = training_sentences(corpus)
    gensim_runs, ours_runs = [], []
    for index in interleaved_schedule(len(variants), settings.gensim_rounds):
        if index is None:
            gensim_runs.append(train_gensim(corpus, sentences, settings.gensim_epochs, seed=len(gensim_runs)))
            print(f"   gensim: {gensim_runs[-1].seconds:.1f} s, NDCG@10 {gensim_runs[-1].ndcg:.4f}", flush=True)
        else:
            # The default always trains all epochs; any other stops once it cannot be the fastest.
            target = median([g.ndcg for g in gensim_runs])
            times_to = [r.time_to(target) for r in ours_runs if r.time_to(target) is not None]
            best_seconds = min(times_to) if times_to and variants[index] != DEFAULT else None
            run = train_ours(corpus, variants[index], settings.gensim_epochs, target, best_seconds)
            ours_runs.append(run)
            print(f"   ours {run.name}: {run.elapsed:.1f} s, NDCG@10 {' '.join(f'{e.ndcg:.4f}' for e in run.epochs)}"
                  + (" (stopped: slower than the best)" if run.stopped else ""), flush=True)
    return gensim_runs, ours_runs


def best_run(runs: list[OursRun], target: float) -> OursRun:
    """The fastest to reach ``target``; if none does, the highest final NDCG@10."""
    reached = [run for run in runs if run.time_to(target) is not None]
    if reached:
        return min(reached, key=lambda run: run.time_to(target))
    return max(runs, key=lambda run: run.final_ndcg)


# ---------------------------------------------------------------------------------------
# Profile


WHAT_IF_STEPS_PER_EXECUTION = 1  # the what-if: one step per call of Keras' compiled function (model.py runs 16)


def in_memory_dataset(trainer):
    """One epoch of the trainer's batches, generated beforehand and held as tensors."""
    import tensorflow as tf

    from track2vec.training import batch_labels

    stacks = list(trainer._batches())
    targets = np.concatenate([target for target, _ in stacks])
    contexts = np.concatenate([context for _, context in stacks])
    labels = tf.constant(batch_labels(contexts.shape[1], contexts.shape[2]))
    dataset = tf.data.Dataset.from_tensor_slices((targets, contexts))
    return dataset.map(lambda t, c: ((t, c), labels)).prefetch(tf.data.AUTOTUNE), len(targets)


def with_steps_per_execution(corpus, variant: Variant, steps: int):
    """What-if: ``variant``'s model as model.py builds and compiles it (its own loss and metric, whatever the
    architecture), except that one call of the compiled function runs ``steps`` steps."""
    from unittest import mock

    import track2vec.model
    from track2vec.training import Trainer

    with mock.patch.object(track2vec.model, "STEPS_PER_EXECUTION", steps):
        return Trainer(corpus, train_config(variant, epochs=1)).model


PROFILE_STAGES = {
    "sampler": "sampler alone (SkipGramSampler.epoch, Numba)",
    "pipeline": "input pipeline alone (sampler + batching + tf.data)",
    "steps": "TF steps on in-memory arrays (model.fit)",
    "steps_batched": f"  what-if: the same with steps_per_execution={WHAT_IF_STEPS_PER_EXECUTION}",
    "full": "full pipeline (Trainer.fit, train_seconds)",
    "evaluation": "evaluation once (evaluate on the validation pairs)",
}


def profile(corpus, variant: Variant, rounds: int) -> dict:
    """Seconds per epoch of each stage of our training, the stages alternating (warm models, no compile)."""
    from track2vec.training import Trainer

    trainer = Trainer(corpus, train_config(variant, epochs=1))
    trainer.fit(epochs=1)  # compile; the measured rounds start warm
    dataset, steps = in_memory_dataset(trainer)
    trainer.model.fit(dataset.take(2), epochs=1, verbose=0, shuffle=False)  # trace for this input too
    what_if = with_steps_per_execution(corpus, variant, WHAT_IF_STEPS_PER_EXECUTION)
    what_if.fit(dataset.take(2), epochs=1, verbose=0, shuffle=False)
    pairs = []

    def sampler():
        pairs.append(sum(len(b.targets) for b in trainer.sampler.epoch(trainer.next_epoch)))
        trainer.next_epoch += 1

    def pipeline():
        for _ in trainer.dataset():
            pass

    def full():
        start = trainer.next_epoch
        history = trainer.fit(epochs=start + 1, initial_epoch=start)
        return history.history["train_seconds"][-1]

    samples = alternate({
        "sampler": sampler,
        "pipeline": pipeline,
        "steps": lambda: trainer.model.fit(dataset, epochs=1, verbose=0, shuffle=False),
        "steps_batched": lambda: what_if.fit(dataset, epochs=1, verbose=0, shuffle=False),
        "full": full,
        "evaluation": lambda: trainer.evaluate(corpus.validation_pairs),
    }, rounds)
    seconds = {name: median([s.seconds for s in values]) for name, values in samples.items()}
    seconds["full"] = median([s.value for s in samples["full"]])  # train_seconds: its evaluation excluded
    return {"seconds": seconds, "pairs": median(pairs), "steps": steps}


def profile_lines(name: str, result: dict) -> list[str]:
    pairs, steps, seconds = result["pairs"], result["steps"], result["seconds"]
    table = []
    for key, label in PROFILE_STAGES.items():
        value = seconds[key]
        per_epoch = key != "evaluation"
        table.append([label, f"{value:.2f} s", si(pairs / value, "pairs/s") if per_epoch else "",
                      f"{value / steps * 1e3:.2f} ms" if per_epoch else ""])
    lines = [f"profile {name}: {pairs:,.0f} positive pairs in {steps:,} steps per epoch (medians)"]
    lines += ["  " + line for line in text_table(table, ["stage", "s/epoch", "rate", "per step"]).splitlines()]
    full = seconds["full"]
    lines.append(f"  TF steps alone take {seconds['steps'] / full:.0%} of the full epoch, the input pipeline alone "
                 f"{seconds['pipeline'] / full:.0%} (it runs in tf.data's prefetch thread, beside the steps); "
                 f"evaluation adds {seconds['evaluation'] / full:.0%} per epoch")
    return lines


# ---------------------------------------------------------------------------------------


@dataclass
class Comparison:
    """One corpus' runs and what they are measured against."""

    name: str
    epochs: int
    gensim: list[GensimRun]
    ours: list[OursRun]

    @property
    def target(self) -> float:
        """gensim's validation NDCG@10 after its epochs (median of its runs)."""
        return median([g.ndcg for g in self.gensim])

    @property
    def gensim_seconds(self) -> float:
        return median([g.seconds for g in self.gensim])

    @property
    def pairs_per_epoch(self) -> float:
        return median([e.pairs for run in self.ours for e in run.epochs])

    @property
    def gensim_pairs_per_second(self) -> float:
        return median([self.pairs_per_epoch * self.epochs / g.train_seconds for g in self.gensim])

    def shown(self) -> list[tuple[str, OursRun]]:
        """("best", run), and ("default", run) when the default is not the best."""
        best = best_run(self.ours, self.target)
        default = next((r for r in self.ours if r.variant == DEFAULT), None)
        return [("best", best)] + ([("default", default)] if default is not None and default is not best else [])


def add_measures(report: RowReport, comparison: Comparison) -> None:
    """The table lines (a), (b), (c) for the best and the default configuration."""
    c = comparison
    for label, run in c.shown():
        report.add(f"(a) training pairs/s, {c.name}, ours {label}", si(run.pairs_per_second, "pairs/s"),
                   si(c.gensim_pairs_per_second, "pairs/s"), times(run.pairs_per_second / c.gensim_pairs_per_second),
                   "", None, run.name)
    for label, run in c.shown():
        reached = run.time_to(c.target)
        ratio = reached / c.gensim_seconds if reached is not None else None
        report.add(f"(b) time to gensim's NDCG@10 ({c.target:.4f}), {c.name}, ours {label}",
                   f"{reached:.1f} s (epoch {run.epoch_reached(c.target)})" if reached else
                   f"not reached in {len(run.epochs)} epochs", f"{c.gensim_seconds:.1f} s",
                   f"{ratio:.2f}" if ratio is not None else "n/a", "<= 1.0", ratio is not None and ratio <= 1.0,
                   run.name)
    for label, run in c.shown():
        report.add(f"(c) NDCG@10 after {c.epochs} epochs, {c.name}, ours {label}",
                   f"{run.final_ndcg:.4f}" + (f" (stopped at epoch {len(run.epochs)})" if run.stopped else ""),
                   f"{c.target:.4f}", f"{run.final_ndcg / c.target:.3f}", ">= gensim's", run.final_ndcg >= c.target,
                   run.name)


def comparison_lines(comparison: Comparison, kept_tokens: float) -> list[str]:
    """gensim's runs, the pair-count check, and every configuration of ours."""
    c = comparison
    lines = [
        f"gensim ({len(c.gensim)} runs, {c.epochs} epochs, workers=2): {spread([g.seconds for g in c.gensim], '{:.3g}')} s, "
        f"NDCG@10 {spread([g.ndcg for g in c.gensim], '{:.4f}')} "
        f"(scored as ours: {', '.join(sorted({g.scoring for g in c.gensim}))}, chosen on validation), "
        f"{si(median([g.effective_words / g.train_seconds for g in c.gensim]), 'words/s')} trained",
        f"pair-count check: gensim trained {median([g.effective_words for g in c.gensim]) / c.epochs:,.0f} words per "
        f"epoch after subsampling, ours keeps {kept_tokens:,.0f} in expectation; ours: {c.pairs_per_epoch:,.0f} "
        "positive pairs per epoch",
    ]
    table = []
    for run in c.ours:
        reached = run.time_to(c.target)
        table.append([run.name, si(run.pairs_per_second, "pairs/s"), f"{run.setup_seconds:.1f}",
                      f"{median([e.train_seconds for e in run.epochs]):.1f}",
                      f"{median([e.eval_seconds for e in run.epochs]):.2f}", " ".join(f"{e.ndcg:.4f}" + "*" * e.partial for e in run.epochs),
                      f"{reached:.1f} s ({reached / c.gensim_seconds:.2f}x gensim)" if reached else
                      "stopped: slower than the best" if run.stopped else "not reached"])
    header = ["ours", "pairs/s", "setup s", "s/epoch", "eval s", "val NDCG@10 per epoch", "time to gensim's"]
    lines += text_table(table, header).splitlines()
    if any(e.partial for run in c.ours for e in run.epochs):
        lines.append("* an epoch cut short: that configuration had trained as long as the best took to reach gensim's")
    return lines


def report_set(report: RowReport, training_set: TrainingSet, settings: Settings) -> None:
    corpus = load_corpus(training_set.spec, training_set.playlists)
    report.detail(f"{training_set.name}: {describe_corpus(corpus)}")
    gensim_runs, ours_runs = compare(corpus, distinct_variants(training_set.variants, len(corpus.vocabulary)), settings)
    comparison = Comparison(training_set.name, settings.gensim_epochs, gensim_runs, ours_runs)
    add_measures(report, comparison)
    report.details += ["  " + line for line in comparison_lines(comparison, expected_kept_tokens(corpus))]
    profiled = truncated(corpus, training_set.profile_playlists)
    where = training_set.name if profiled is corpus else \
        f"{training_set.name} (first {training_set.profile_playlists:,} playlists, full vocabulary)"
    for label, run in reversed(comparison.shown()):  # the default's profile, then the best's
        result = profile(profiled, run.variant, settings.profile_rounds)
        report.details += ["  " + line for line in profile_lines(f"{where}, {run.name}", result)]
    report.detail()


def run(settings: Settings) -> RowReport:
    report = RowReport(3, "Training vs gensim 4 (same playlists, validation pairs and metric)")
    report.detail(f"setting (paper): window {PAPER['window']}, subsample {PAPER['subsample']:g}, exponent {PAPER['alpha']}, "
                  f"dim {PAPER['dim']}, {PAPER['negatives']} negatives; {settings.gensim_epochs} epochs each; "
                  "gensim runs alternate with ours")
    report.detail("(a) gensim's pairs/s: our positive pairs per epoch x epochs / gensim's train seconds (same expected "
                  "count: see the pair-count check); (b) ours: model build + the epochs' train_seconds (evaluation "
                  "excluded), gensim: build_vocab + train; the best reaches gensim's NDCG@10 first")
    warm_up()
    for training_set in settings.training_sets:
        report_set(report, training_set, settings)
    return report
