"""gensim's skip-gram as a baseline: the word2vec a user would train instead of tuning one.

``Word2Vec(sg=1)`` with gensim's own defaults otherwise (``GENSIM_DEFAULTS``: 100 dimensions, window 5
reduced at random, 5 negatives, exponent 0.75, subsampling 1e-3, 5 epochs), trained on the corpus's
training playlists, and scored by this project's evaluation on the same validation and test pairs.
Its scoring is chosen on the validation pairs as a trial chooses its own: input-input cosine (gensim's
``most_similar``), target-context or symmetric with gensim's output vectors (``syn1neg``), each with
every popularity weight (``track2vec.scoring``).

One worker thread and a hash of gensim's that does not change between processes (Python's string hash
does, unless ``PYTHONHASHSEED`` is set): the same seed trains the same vectors. gensim is optional
(``pip install gensim``; the ``test`` and ``bench`` extras have it).
"""

from __future__ import annotations

import zlib

import numpy as np

from track2vec.baselines import Baseline
from track2vec.errors import ConfigError
from track2vec.evaluation import ScoredMetrics, best_scoring, evaluate_scorings, metrics_from_ranks, rank_targets
from track2vec.scoring import score_table

GENSIM_DEFAULTS = {"vector_size": 100, "window": 5, "negative": 5, "ns_exponent": 0.75, "sample": 1e-3, "epochs": 5}


def gensim_baseline(corpus, seed: int = 0, k: int = 10, **settings) -> Baseline:
    """gensim's skip-gram on ``corpus`` (a :class:`track2vec.corpus.Corpus`), its scoring chosen on validation,
    test scored once. ``settings`` replace ``GENSIM_DEFAULTS`` (gensim's own names)."""
    settings = GENSIM_DEFAULTS | settings
    model = train_gensim(corpus, seed, **settings)
    size = len(corpus.counts)
    inputs, outputs = gensim_vectors(model, size), gensim_vectors(model, size, model.syn1neg)
    chosen = choose_scoring(inputs, outputs, corpus, k)
    test, test_ranks = None, None
    if len(corpus.test_pairs):
        table = score_table(chosen.scoring.method, inputs, corpus.counts, outputs)
        test_ranks = rank_targets(table, corpus.test_pairs, (chosen.scoring.popularity_weight,))[:, 0]
        test = metrics_from_ranks(test_ranks, k)
    return Baseline("gensim", {**settings, "seed": seed, "scoring": chosen.scoring.describe()}, chosen.metrics,
                    test, test_ranks)


def require_gensim() -> None:
    """Raise ConfigError, in one line, unless gensim can be imported (checked before a study, not after it)."""
    try:
        import gensim.models  # noqa: F401
    except ImportError:
        raise ConfigError("the gensim baseline needs gensim: pip install gensim") from None


def train_gensim(corpus, seed: int = 0, workers: int = 1, **settings):
    """A trained ``gensim.models.Word2Vec`` skip-gram (gensim's defaults but for ``settings``)."""
    require_gensim()
    from gensim.models import Word2Vec

    sentences = training_sentences(corpus)
    model = Word2Vec(sg=1, hs=0, min_count=1, seed=seed, workers=workers, hashfxn=_stable_hash, **settings)
    model.build_vocab(sentences)
    model.train(sentences, total_examples=model.corpus_count, epochs=model.epochs)
    return model


def training_sentences(corpus) -> list[list[str]]:
    """The training playlists as gensim sentences: item id ``i`` is the word ``"i"``."""
    words = corpus.tokens.astype(str)
    bounds = corpus.offsets.tolist()
    return [words[start:end].tolist() for start, end in zip(bounds[:-1], bounds[1:])]


def gensim_vectors(model, vocabulary_size: int, vectors: np.ndarray | None = None) -> np.ndarray:
    """gensim's vectors (default: its input vectors, ``wv``) in our id order; rows of items it never saw stay zero."""
    embeddings = np.zeros((vocabulary_size, model.vector_size), dtype=np.float32)
    ids = np.array([int(word) for word in model.wv.index_to_key], dtype=np.int64)
    embeddings[ids] = model.wv.vectors if vectors is None else vectors
    return embeddings


def choose_scoring(inputs: np.ndarray, outputs: np.ndarray, corpus, k: int = 10) -> ScoredMetrics:
    """The best scoring on the validation pairs, of every method and popularity weight (``track2vec.scoring``)."""
    return best_scoring(evaluate_scorings(inputs, corpus.counts, corpus.validation_pairs, outputs, k=k))


def _stable_hash(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))
