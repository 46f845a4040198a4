#!/usr/bin/env python
"""Where the counted baselines (SR, AR) beat one trained configuration, pair by pair (issue 12).

Trains one configuration on a corpus, keeps its best epoch by validation NDCG@10 (each epoch
scored as a trial scores it: the best scoring the configuration allows), and fits SR and AR as
every study does (their steps and weighting chosen on validation). Then it splits the
validation pairs and prints the NDCG@10 of all three on each part:

* by how often the query item occurs in the training playlists (quartiles);
* by how often the answer occurs (quartiles);
* by whether any training playlist has the answer within AR's chosen distance of the query
  ("reachable": the pairs that counts can score at all), or not;
* by the pair's own playlist, whose training part (every item but the last) the counts and the
  model both learnt from: the answer within AR's distance of the query there already, the answer
  there but not beside the query, or the answer new to the playlist. Counts memorise a pair seen
  once; an embedding may smooth it away.

Validation pairs only: nothing here looks at the test pairs.

Usage::

    .venv/bin/python scripts/measure_where_counts_win.py --data ../shared/data/ecommerce_sessions.npy \\
        --set architecture=softmax dim=97 window=2 shrink_windows=true negatives=8 batch_size=743 \\
        learning_rate=0.0022 alpha=-0.49 subsample=2e-4 --epochs 9
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from track2vec.baselines import RuleSettings, fit_count_baselines, ranks_by_rules, rules, transition_counts  # noqa: E402
from track2vec.config import TrainConfig  # noqa: E402
from track2vec.corpus import build_corpus  # noqa: E402
from track2vec.data.loaders import load_playlists  # noqa: E402
from track2vec.evaluation import pair_gains, rank_targets  # noqa: E402

K = 10


def parse_settings(items: list[str]) -> dict:
    """``name=value`` strings as TrainConfig fields, each value converted to that field's type (``none`` for a
    field that may be None)."""
    types = {field.name: field.type for field in dataclasses.fields(TrainConfig)}
    values = {}
    for item in items:
        name, _, text = item.partition("=")
        if name not in types:
            raise SystemExit(f"measure_where_counts_win: unknown setting {name!r}")
        kind, optional = types[name].removesuffix(" | None"), types[name].endswith(" | None")
        if optional and text.lower() == "none":
            values[name] = None
        elif kind == "bool":
            values[name] = text.lower() in ("1", "true", "yes")
        elif kind in ("int", "float"):
            try:
                values[name] = int(text) if kind == "int" else float(text)
            except ValueError:
                wanted = "a whole number" if kind == "int" else "a number"
                raise SystemExit(f"measure_where_counts_win: {name} must be {wanted}, got {text!r}") from None
        else:
            values[name] = text
    return values


def quartile_parts(values: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """(label, mask) for each quartile of ``values``; every index in exactly one part, ties kept together."""
    edges = np.quantile(values, [0.25, 0.5, 0.75])
    part = np.searchsorted(edges, values, side="left")
    bounds = [values.min(), *edges, values.max()]
    return [(f"{bounds[i]:.0f}-{bounds[i + 1]:.0f}", part == i) for i in range(4) if (part == i).any()]


def gains_by_part(gains: dict[str, np.ndarray], parts: list[tuple[str, np.ndarray]]) -> list[tuple[str, int, dict]]:
    """For each part: its label, its number of pairs and each method's mean gain (NDCG@k) on it."""
    return [(label, int(mask.sum()), {name: float(values[mask].mean()) for name, values in gains.items()})
            for label, mask in parts]


def own_history_parts(tokens: np.ndarray, offsets: np.ndarray, pairs: np.ndarray, playlists: np.ndarray,
                      steps: int) -> list[tuple[str, np.ndarray]]:
    """(label, mask) by what pair i's own playlist (``playlists[i]``, its training part ``tokens[offsets[p]:
    offsets[p + 1]]``) already holds: the answer within ``steps`` positions of the query, the answer elsewhere,
    or not the answer."""
    beside = np.zeros(len(pairs), dtype=bool)
    earlier = np.zeros(len(pairs), dtype=bool)
    for i, ((query, answer), playlist) in enumerate(zip(pairs, playlists)):
        items = tokens[offsets[playlist]:offsets[playlist + 1]]
        earlier[i] = bool((items == answer).any())
        beside[i] = any((items[max(0, at - steps):at + steps + 1] == answer).any()
                        for at in np.flatnonzero(items == query))
    return [(f"pair within {steps}", beside), ("answer elsewhere", earlier & ~beside), ("answer new", ~earlier)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--set", nargs="*", default=[], metavar="NAME=VALUE", help="TrainConfig fields")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    corpus = build_corpus(load_playlists(args.data, seed=args.seed))
    pairs, size = corpus.validation_pairs, len(corpus.vocabulary)
    baselines = fit_count_baselines(corpus.tokens, corpus.offsets, size, pairs, k=K)
    counts_by_distance = transition_counts(corpus.tokens, corpus.offsets, size, max(b.settings["steps"] for b in
                                                                                      baselines.values() if b.settings))
    ranks = {}
    for kind in ("sr", "ar"):
        settings = RuleSettings(kind, baselines[kind].settings["steps"], baselines[kind].settings["weighting"])
        ranks[kind] = ranks_by_rules(rules(counts_by_distance, settings), pairs)

    from track2vec.training import Trainer  # Keras' import, after the counts

    config = TrainConfig(**{**parse_settings(args.set), "epochs": args.epochs, "seed": args.seed})
    trainer, best = Trainer(corpus, config), None
    for epoch in range(config.epochs):
        trainer.fit(epochs=epoch + 1, initial_epoch=epoch)
        scored = trainer.choose_scoring()
        print(f"epoch {epoch + 1}: validation NDCG@{K} {scored.metrics.ndcg:.4f} ({scored.scoring.describe()})", flush=True)
        if best is None or scored.metrics.ndcg > best[0]:
            table = trainer.score_table(scored.scoring.method)
            best = (scored.metrics.ndcg, rank_targets(table, pairs, (scored.scoring.popularity_weight,))[:, 0])
    ranks["embedding"] = best[1]

    gains = {name: pair_gains(r, K)[0] for name, r in ranks.items()}
    ar = baselines["ar"].settings
    reach = np.asarray(rules(counts_by_distance, RuleSettings("ar", ar["steps"], "same"))[pairs[:, 0], pairs[:, 1]]).ravel() > 0
    print(f"\n{args.data}: {len(pairs)} validation pairs, {size} items; SR {baselines['sr'].settings}, AR {ar}; "
          f"configuration {config.as_dict()}")
    sections = {"query count": quartile_parts(corpus.counts[pairs[:, 0]]),
                "answer count": quartile_parts(corpus.counts[pairs[:, 1]]),
                f"co-occur within {ar['steps']}": [("yes", reach), ("no", ~reach)],
                "own playlist": own_history_parts(corpus.tokens, corpus.offsets, pairs, corpus.validation_playlists,
                                                  ar["steps"]),
                "all": [("all", np.ones(len(pairs), dtype=bool))]}
    print(f"{'part':<28} {'pairs':>6} " + " ".join(f"{name:>10}" for name in gains) + "  embedding / best count")
    for section, parts in sections.items():
        for label, n, means in gains_by_part(gains, parts):
            counted = max(means["sr"], means["ar"])
            ratio = f"{means['embedding'] / counted:.2f}x" if counted else "-"
            print(f"{section + ' ' + label:<28} {n:>6} " + " ".join(f"{means[name]:>10.4f}" for name in gains)
                  + f"  {ratio}")


if __name__ == "__main__":
    main()
