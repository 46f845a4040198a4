"""The default space on a very large corpus: word2vec's own recipe, so that a trial's epoch ends.

The study's default architecture, ``softmax``, is the better use of a trial's time where it was
measured (up to builtin:deezer's size, BENCHMARKS.md), but every pair
of its batches meets all the batch's shared negatives, so it trains pairs several times slower than
word2vec's negative sampling; at the Million Playlist size one softmax epoch takes hours a trial
on a laptop's cores. From ``RECIPE_FROM_TOKENS`` training tokens the default space therefore trains
word2vec's recipe, gensim's: ``sgns`` with ``sgd`` and a linearly decaying rate, and at most
5 negatives (Mikolov et al. 2013: 5-20 pay on small data, "for large datasets the k can be as small
as 2-5"; each negative costs a pair's step as much as its positive), and the learning rate itself
searched (``sgd``'s rate is word2vec's per pair, so it is not scaled with the batch as Adam's is).
A ``--config`` that names the architecture or the optimizer keeps its own choice and this rule
stays out; one that sets ``negatives`` or a learning rate keeps its own.

The choice goes into the study's overrides, so ``study.json`` records it, a resumed study
searches the same space, and the memory cap (tune/memory.py) sizes the recipe's trials.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from tune.search_space import LR_AT_REFERENCE

# Well above builtin:deezer, where the softmax paid, and below the Million Playlist size, where its epochs
# do not end in a working session (README, "Tuning: a study").
RECIPE_FROM_TOKENS = 20_000_000
WORD2VEC_RECIPE = {"architecture": "sgns", "optimizer": "sgd", "lr_schedule": "linear",
                   "negatives": {"min": 1, "max": 5}, "learning_rate": {"min": 1e-3, "max": 1e-1}}
# A config that names either rate has chosen how the rate is searched.
_RATES = ("learning_rate", LR_AT_REFERENCE)
# Naming one of these in --config is choosing the model: the rule then changes nothing.
_USER_CHOICES = ("architecture", "optimizer")


@dataclass(frozen=True)
class LargeCorpusRecipe:
    """What the rule fixed, and why."""

    training_tokens: int
    fixed: Mapping[str, Any]

    def describe(self) -> str:
        values = ", ".join(f"{name} in {value['min']}-{value['max']}" if isinstance(value, dict) else
                           f"{name} = {value!r}" for name, value in self.fixed.items())
        return (f"large corpus: {self.training_tokens:,} training tokens (from {RECIPE_FROM_TOKENS:,}): the space "
                f"trains word2vec's recipe ({values}), whose epochs end in a fraction of the softmax's time; "
                "name the architecture in --config to choose otherwise")


def is_large(training_tokens: int) -> bool:
    """Whether a corpus of ``training_tokens`` is large enough for the recipe (and for a blend of SR alone,
    tune/evaluation.py)."""
    return training_tokens >= RECIPE_FROM_TOKENS


def large_corpus_recipe(overrides: Mapping[str, Any], training_tokens: int) -> LargeCorpusRecipe | None:
    """The overrides to add for a corpus of ``training_tokens`` (None: the default space stands)."""
    if not is_large(training_tokens) or any(name in overrides for name in _USER_CHOICES):
        return None
    fixed = {name: value for name, value in WORD2VEC_RECIPE.items() if name not in overrides
             and not (name in _RATES and any(rate in overrides for rate in _RATES))}
    return LargeCorpusRecipe(training_tokens, fixed)
