#!/usr/bin/env python
"""Do the ends of playlists predict the held-out next item better than the rest? Asked of the counts.

SR and AR as every study fits them (steps and weighting chosen on validation), then the same
counts with each co-occurrence weighted ``exp(-d / scale)``, ``d`` the later item's distance from
its training playlist's end, for a grid of scales (``track2vec/playlist_ends.py``). Where a small
scale raises validation NDCG@10, the last transitions of a playlist differ from its others, and
``recency_scale`` (the sampler's same weighting of targets) pays: each study checks that at its
start and searches it where it does (``tune/playlist_ends.py``), which the last line per seed
reports. Validation only.

Usage::

    .venv/bin/python scripts/measure_recency_counts.py --data ../shared/data/kosarak_sessions.txt --seeds 0,1
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench.common import corpora_with_counts, count_probe_arguments  # noqa: E402
from track2vec.baselines import RuleSettings, ranks_by_rules  # noqa: E402
from track2vec.evaluation import metrics_from_ranks  # noqa: E402
from track2vec.playlist_ends import check_playlist_ends, end_weighted_rule_scores  # noqa: E402

SCALES = (3, 10, 30, 100, 300, 1000)


def main() -> None:
    args = count_probe_arguments(__doc__.split("\n\n")[0])
    print(f"{args.data}: validation NDCG@10; 'off' is the count model as studies fit it")
    print(f"{'seed':>4} {'kind':>4} {'off':>8} " + " ".join(f"{scale:>8}" for scale in SCALES))
    for seed, corpus, fitted in corpora_with_counts(args.data, args.seeds):
        size, pairs = len(corpus.vocabulary), corpus.validation_pairs
        for kind in ("sr", "ar"):
            settings = RuleSettings(kind, fitted[kind].settings["steps"], fitted[kind].settings["weighting"])
            scores = [metrics_from_ranks(ranks_by_rules(end_weighted_rule_scores(
                corpus.tokens, corpus.offsets, size, settings, scale, pairs[:, 0]), pairs)).ndcg for scale in SCALES]
            print(f"{seed:>4} {kind:>4} {fitted[kind].validation.ndcg:>8.4f} "
                  + " ".join(f"{score:>8.4f}" for score in scores), flush=True)
        check = check_playlist_ends(corpus.tokens, corpus.offsets, size, pairs, seed=seed)
        print(f"     a study's check (tune/playlist_ends.py): {check.describe()}", flush=True)

if __name__ == "__main__":
    main()
