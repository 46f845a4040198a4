"""Do a corpus's playlist ends predict the next item better than the rest? Asked of the counts.

Playlist completion asks for a playlist's last item, and every held-out pair is a playlist's last
transition. On some corpora (a click-stream's short sessions) the last transitions differ from
the others, and counts that weigh them more predict the held-out pairs better; on others (music
sessions, a walk that is the same at every step) they only lose data. The sampler's
``recency_scale`` weighs training the same way (``track2vec/sampling.py``); this module tells,
from the counts and in seconds, whether a corpus is of the first kind.

SR and AR keep the steps and weighting that validation chose for them (``track2vec.baselines``);
each co-occurrence is then also weighted ``exp(-d / scale)``, ``d`` the later item's distance from
its training playlist's end. The ends pay when the best count so weighted beats the best plain
count on the validation pairs with a paired bootstrap interval above 0. Validation pairs only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from track2vec.baselines import (Baseline, RuleSettings, distance_weight, fit_count_baselines, positions_at,
                                 ranks_by_rules, token_playlists)
from track2vec.evaluation import metrics_from_ranks
from track2vec.intervals import paired_bootstrap

SCALES = (10.0, 30.0)  # the scales the check tries and a study then searches beside 0 (BENCHMARKS.md)


def end_weighted_rule_scores(tokens: np.ndarray, offsets: np.ndarray, vocabulary_size: int, settings: RuleSettings,
                             scale: float | None, queries: np.ndarray) -> sp.csr_matrix:
    """The rule scores of ``settings`` in the rows of ``queries`` (the others empty), each co-occurrence
    also weighted ``exp(-d / scale)`` (``scale`` None: not; then the scores equal ``baselines.rules``')."""
    playlist_of = token_playlists(offsets)
    from_end = offsets[1:][playlist_of] - 1 - np.arange(len(tokens))
    wanted = np.zeros(vocabulary_size, dtype=bool)
    wanted[queries] = True
    unit = {distance: float(distance_weight(settings.weighting, distance)) for distance in range(1, settings.steps + 1)}
    # Summed one distance and direction at a time, each in the queries' rows only: memory stays near the result's.
    scores = sp.csr_matrix((vocabulary_size, vocabulary_size), dtype=np.float64)
    for distance in range(1, settings.steps + 1):
        inside = positions_at(playlist_of, distance)
        for query_at, candidate_at in [(inside, inside + distance)] + (
                [(inside + distance, inside)] if settings.kind == "ar" else []):
            kept_at = wanted[tokens[query_at]]
            query_at, candidate_at = query_at[kept_at], candidate_at[kept_at]
            weight = np.full(len(query_at), unit[distance])
            if scale is not None:
                weight *= np.exp(-from_end[np.maximum(query_at, candidate_at)] / scale)  # the later item's
            scores = scores + sp.csr_matrix((weight, (tokens[query_at], tokens[candidate_at])),
                                            shape=(vocabulary_size, vocabulary_size))
    scores.eliminate_zeros()
    return scores


@dataclass(frozen=True)
class EndsCheck:
    """The best plain count and the best count weighted toward playlist ends, on the validation pairs."""

    plain: str  # "sr" or "ar"
    plain_ndcg: float
    weighted: str
    scale: float
    weighted_ndcg: float
    gain_low: float  # the 95% paired bootstrap interval of weighted - plain
    gain_high: float

    @property
    def pays(self) -> bool:
        return self.gain_low > 0.0

    def describe(self) -> str:
        verdict = "weigh more" if self.pays else "do not weigh more"
        return (f"playlist ends {verdict} in this corpus's counts: {self.weighted.upper()} weighted exp(-d / "
                f"{self.scale:g}) toward them scores validation NDCG@10 {self.weighted_ndcg:.4f} against "
                f"{self.plain.upper()}'s {self.plain_ndcg:.4f} (difference [{self.gain_low:+.4f}, "
                f"{self.gain_high:+.4f}], 95%)")


def check_playlist_ends(tokens: np.ndarray, offsets: np.ndarray, vocabulary_size: int, validation_pairs: np.ndarray,
                        scales: tuple[float, ...] = SCALES, seed: int = 0, k: int = 10,
                        fitted: Mapping[str, Baseline] | None = None) -> EndsCheck:
    """Whether counts weighted toward playlist ends beat the plain counts on ``validation_pairs``.

    ``fitted``: SR and AR as ``fit_count_baselines`` fitted them on these pairs, where the caller has them
    (otherwise they are fitted here).
    """
    if fitted is None:
        fitted = fit_count_baselines(tokens, offsets, vocabulary_size, validation_pairs, k=k)
    queries = validation_pairs[:, 0]

    def ranks(kind: str, scale: float) -> np.ndarray:
        settings = RuleSettings(kind, fitted[kind].settings["steps"], fitted[kind].settings["weighting"])
        return ranks_by_rules(end_weighted_rule_scores(tokens, offsets, vocabulary_size, settings, scale, queries),
                              validation_pairs)

    def best(candidates):
        return max(candidates, key=lambda candidate: metrics_from_ranks(candidate[-1], k).ndcg)

    # The plain counts' ranks are the fit's own: the fit ranked every setting on these pairs already.
    plain, _, plain_ranks = best([(kind, None, fitted[kind].validation_ranks) for kind in ("sr", "ar")])
    weighted, scale, weighted_ranks = best([(kind, scale, ranks(kind, scale)) for kind in ("sr", "ar")
                                            for scale in scales])
    gain = paired_bootstrap({"weighted": weighted_ranks, "plain": plain_ranks}, k,
                            differences=[("weighted", "plain")], seed=seed).difference("weighted", "plain").ndcg
    return EndsCheck(plain, metrics_from_ranks(plain_ranks, k).ndcg, weighted, float(scale),
                     metrics_from_ranks(weighted_ranks, k).ndcg, gain.low, gain.high)
