#!/usr/bin/env python
"""Does the ensemble's validation gain hold on validation pairs it was not chosen on?

The study's export chooses the winner's ensemble (``track2vec.ensemble.select_ensemble``) on the same
validation pairs that then report its score, so that score is optimistic by what the choice fitted to
those pairs' noise. This script splits a finished study's validation pairs (the ones its export selects on)
into two seeded halves, many times: on half A it orders the study's best trials by their NDCG@10 there,
takes the best alone and selects the ensemble exactly as the export does (every scoring the best trial's
configuration chose from, the best kept); on half B it scores both. Printed: half B's NDCG@10 of the best
trial alone and of the ensemble for every split, their mean difference and how often the ensemble wins.
Validation only: the test pairs are never read.

Usage::

    .venv/bin/python scripts/measure_ensemble_holdout.py --storage /root/track2vec-studies --name ecom \\
        [--splits 10] [--candidates 24] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from track2vec.config import TrainConfig  # noqa: E402
from track2vec.corpus import validation_sample  # noqa: E402
from track2vec.ensemble import Selection, best_scoring, select_ensemble  # noqa: E402
from track2vec.errors import Track2VecError  # noqa: E402
from track2vec.evaluation import evaluate_with  # noqa: E402
from track2vec.scoring import AUTO, Scoring, Vectors  # noqa: E402

from tune import driver  # noqa: E402
from tune.evaluation import ENSEMBLE_CANDIDATES  # noqa: E402
from tune.reader import ERRORED, read_rows  # noqa: E402
from tune.study import Study  # noqa: E402
from tune.trainable import load_best_vectors  # noqa: E402


def study_candidates(study: Study, spec, limit: int) -> tuple[list[Vectors], list[str], tuple[float, ...]]:
    """The vectors of the study's ``limit`` best loadable trials (by the study's validation NDCG@10), and the
    scorings and popularity weights the best trial's configuration chose from."""
    rows = [row for row in read_rows(study, spec)
            if row.status != ERRORED and row.best_val_ndcg is not None and row.checkpoint is not None]
    vectors = []
    for row in rows[:limit]:
        with row.checkpoint.as_directory() as directory:
            vectors.append(load_best_vectors(Path(directory)))
    if not vectors:
        raise SystemExit(f"{study.path}: no trial with a checkpoint to read")
    params = rows[0].params
    config = TrainConfig(scoring=params.get("scoring") or AUTO, popularity_weight=params.get("popularity_weight"))
    return vectors, config.scoring_methods(), config.popularity_weights()


def best_alone(vectors: list[Vectors], methods: list[str], counts, pairs, weights) -> list[tuple[float, Scoring]]:
    """Each model's best NDCG@10 on ``pairs`` over the scorings it allows, with that scoring."""
    scored = []
    for model in vectors:
        options = [best_scoring(model, method, counts, pairs, weights)
                   for method in methods if model.can_score(method)]
        scoring, ndcg = max(options, key=lambda option: option[1])
        scored.append((ndcg, scoring))
    return scored


@dataclass(frozen=True)
class Holdout:
    """One split: the best model alone and the ensemble, chosen on half A, scored on half A and half B."""

    single_a: float
    single_b: float
    selection: Selection  # its validation_ndcg is half A's
    ensemble_b: float


def holdout(vectors: list[Vectors], methods: list[str], weights, counts, half_a, half_b) -> Holdout:
    """Choose the best model and its ensemble on ``half_a`` as the export does (models in their order on half A,
    the ensemble selected under each scoring, the best kept, the best model's own scoring first) and score both
    on ``half_b``."""
    alone = best_alone(vectors, methods, counts, half_a, weights)
    ranked = sorted(range(len(vectors)), key=lambda index: -alone[index][0])
    single_a, own = alone[ranked[0]]
    single_b = evaluate_with(vectors[ranked[0]].score_table(own.method, counts), half_b, own.popularity_weight).ndcg
    chosen = None
    for method in [own.method] + [other for other in methods if other != own.method]:
        if not vectors[ranked[0]].can_score(method):
            continue
        offered = [vectors[index] for index in ranked if vectors[index].can_score(method)]
        selection = select_ensemble(offered, method, counts, half_a, weights)
        if chosen is None or selection.validation_ndcg > chosen.validation_ndcg:
            chosen = selection
    ensemble_b = evaluate_with(chosen.vectors.score_table(chosen.scoring.method, counts), half_b,
                               chosen.scoring.popularity_weight).ndcg
    return Holdout(single_a, single_b, chosen, ensemble_b)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storage", required=True, help="the study's storage directory")
    parser.add_argument("--name", required=True, help="the study's name")
    parser.add_argument("--splits", type=int, default=10)
    parser.add_argument("--candidates", type=int, default=ENSEMBLE_CANDIDATES)
    parser.add_argument("--seed", type=int, default=0, help="seeds the halves")
    args = parser.parse_args()
    if args.splits < 1 or args.candidates < 1:
        raise SystemExit("--splits and --candidates must be >= 1")
    study = Study(str(Path(args.storage).resolve()), args.name)
    try:
        spec = study.load_spec()
        corpus = driver.load_corpus(spec)
    except Track2VecError as error:
        raise SystemExit(f"measure_ensemble_holdout: {error}") from None
    pairs = validation_sample(corpus.validation_pairs, spec.trial_validation_sample(len(corpus.vocabulary)), spec.seed)
    vectors, methods, weights = study_candidates(study, spec, args.candidates)
    print(f"study {args.name}: {len(vectors)} candidates, {len(pairs)} validation pairs split in halves "
          f"{args.splits} times (seed {args.seed}); scorings {', '.join(methods)}")
    differences = []
    for split in range(args.splits):
        started = time.perf_counter()
        order = np.random.default_rng([args.seed, split]).permutation(len(pairs))
        half_a, half_b = pairs[order[: len(pairs) // 2]], pairs[order[len(pairs) // 2:]]
        result = holdout(vectors, methods, weights, corpus.counts, half_a, half_b)
        differences.append(result.ensemble_b - result.single_b)
        print(f"split {split + 1}: half A best alone {result.single_a:.4f}, ensemble of "
              f"{len(result.selection.members)} {result.selection.validation_ndcg:.4f} "
              f"({result.selection.scoring.describe()}); half B best alone {result.single_b:.4f}, ensemble "
              f"{result.ensemble_b:.4f} ({result.ensemble_b - result.single_b:+.4f}; "
              f"{time.perf_counter() - started:.0f} s)", flush=True)
    gained = np.asarray(differences)
    spread = f", sd {gained.std(ddof=1):.4f}" if len(gained) > 1 else ""
    print(f"half B, ensemble - best alone: mean {gained.mean():+.4f}{spread}; the ensemble ahead in "
          f"{int((gained > 0).sum())} of {len(gained)} splits, behind in {int((gained < 0).sum())}")


if __name__ == "__main__":
    main()
