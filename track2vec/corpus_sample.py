"""A seeded sample of a corpus' training playlists, for tuning on less data (``track2vec-tune run --sample``).

Only the training stream shrinks. The vocabulary (its ids and its counts), the validation and
the test pairs stay those of the whole corpus, so scores on a sample and on the whole corpus
are measured on the same pairs with the same item ids, and a configuration found on the
sample can be carried over as it is. The counts stay those of the whole corpus too: they set
the negative-sampling and subsampling distributions and the popularity term of the scoring,
which are then the ones the whole corpus would use (counting is one cheap pass; training is
what a sample saves).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from track2vec.corpus import Corpus
from track2vec.errors import ConfigError

# Sample streams are seeded apart from the split's (which uses the seed itself), so the sample
# does not mirror the choice of held-out playlists.
_SAMPLE_STREAM = 0x5A3D1E


def sample_training(corpus: Corpus, fraction: float, seed: int) -> Corpus:
    """``corpus`` with a seeded ``fraction`` of its training playlists (at least one), in their order.

    ``fraction`` 1 returns ``corpus`` itself. ``stats`` gain ``sampled_playlists`` and
    ``training_tokens`` counts the sample's tokens.
    """
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction <= 1:
        raise ConfigError(f"the sample fraction must be in (0, 1], got {fraction!r}")
    if fraction == 1:
        return corpus
    n = corpus.n_playlists
    keep = max(1, round(fraction * n))
    chosen = np.sort(np.random.default_rng([seed, _SAMPLE_STREAM]).choice(n, size=keep, replace=False))
    starts, ends = corpus.offsets[chosen], corpus.offsets[chosen + 1]
    lengths = ends - starts
    tokens = np.concatenate([corpus.tokens[start:end] for start, end in zip(starts, ends)]) if keep else corpus.tokens[:0]
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    stats = {**corpus.stats, "sampled_playlists": int(keep), "training_tokens": int(len(tokens))}
    return replace(corpus, tokens=tokens.astype(np.int32), offsets=offsets, stats=stats)
