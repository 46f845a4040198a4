"""The hyperparameter search space: defaults, TOML overrides, Optuna distributions.

Default ranges follow Caselles-Dupré et al., "Word2vec applied to recommendation:
hyperparameters matter" (RecSys 2018) and the original tuning notebook, narrowed where
studies on three real corpora never found a good trial (README, "Tuning: a study"): the
negative-sampling exponent ``alpha`` spans [-1, 1.4] (the paper's [-1.4, 1.4] less its most
negative end) and the subsampling threshold [3e-5, 1e-1] (log; the paper's floor is 1e-5);
window, negatives and dimension bracket the notebook's (3, 5, 30) and gensim's (5, 5, 100) values.

The learning rate is searched as the rate of a batch of ``REFERENCE_BATCH`` pairs,
``lr_at_batch_1024``; a trial trains at that rate times sqrt(batch_size / REFERENCE_BATCH),
Adam's square-root scaling rule. Searched independently, a small batch drawn with a large rate
(or a large batch with a small one) wastes the trial; scaled, every batch size is tried at rates
of the same reach. A config that names ``learning_rate`` searches or fixes the rate itself
instead (word2vec's recipe on a very large corpus does, for ``sgd``'s per-pair rate).

A TOML file (``--config``) overrides any of them. A scalar fixes a parameter, a
table sets a range or a list of choices::

    architecture = "sgns"               # fixed
    dim = { min = 32, max = 96 }        # integer range (log scale kept from the default)
    alpha = { min = -1.0, max = 1.0, log = false }
    optimizer = { choices = ["adam", "adagrad"] }

Order in sequences is searched too: ``direction`` (contexts on both sides of a target, or
only after it) and ``shrink_windows`` (word2vec's reduced window). How candidates are
scored (``scoring``, ``popularity_weight``; see ``track2vec.scoring``) does not change
training, so by default each trial picks both on its validation pairs after every epoch
("auto"); a scalar fixes them and a table makes Optuna search ``popularity_weight``.

``min_count`` is deliberately not a search dimension: it changes the vocabulary, and
with it the validation and test pairs (a pair is held out only if both its items are
in the vocabulary), so NDCG@10 values from different ``min_count`` would not be
comparable. It is a per-study setting (``--min-count``).
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna.distributions as od

from track2vec.config import SHARED_NEGATIVE_ROWS
from track2vec.errors import ConfigError

# The batch size whose learning rate is searched (``lr_at_batch_1024``); other batches scale it by the square root.
REFERENCE_BATCH = 1024
LR_AT_REFERENCE = "lr_at_batch_1024"

# Default choices. The names a user may give are checked against the library's lists (library_names).
# The architecture that ranked best on every corpus measured (README, "Quality"); sgns and
# tied-cosine stay a --config choice away.
DEFAULT_ARCHITECTURE = "softmax"
AUTO = "auto"  # track2vec.scoring.AUTO; a fixed popularity_weight of None means the same
DEFAULT_OPTIMIZER = AUTO  # chosen by vocabulary size (track2vec.config.TrainConfig.optimizer_for)


@dataclass(frozen=True)
class Param:
    """One searchable hyperparameter of ``track2vec.config.TrainConfig``."""

    kind: type  # int, float, str or bool
    default: Any  # an (low, high) pair for numbers, a tuple of choices, or a fixed value
    log: bool = False
    lowest: float | None = None  # smallest valid value
    strictly_positive: bool = False
    names: str = ""  # for strings: the list in track2vec.config that holds the valid names
    search_range: tuple | None = None  # for a number fixed by default: the range a {min, max} table starts from
    auto: str = "the best on validation after each epoch"  # what the value "auto" means


PARAMS: dict[str, Param] = {
    "architecture": Param(str, DEFAULT_ARCHITECTURE, names="ARCHITECTURES"),
    "dim": Param(int, (16, 256), log=True, lowest=1),
    "window": Param(int, (1, 10), lowest=1),
    "direction": Param(str, ("both", "forward"), names="DIRECTIONS"),
    "shrink_windows": Param(bool, (False, True)),
    # Searched only where it can act: a corpus that names artists, architectures with context vectors.
    "artist_vectors": Param(bool, (False, True)),
    "negatives": Param(int, (1, 20), lowest=1),
    # softmax's shared negative rows: fixed by default (issue 12's studies were measured with it); fewer make a
    # step cheaper (BENCHMARKS.md row 3), so a --config may fix or search it.
    "shared_rows": Param(int, SHARED_NEGATIVE_ROWS, lowest=1, search_range=(16, 256)),
    "batch_size": Param(int, (256, 16384), log=True, lowest=1),
    "alpha": Param(float, (-1.0, 1.4)),
    "subsample": Param(float, (3e-5, 1e-1), log=True, lowest=0.0),
    # Off, unless a study's counts say the ends of its playlists pay (tune/playlist_ends.py): it helped the
    # click-stream corpus and cost the others measured (BENCHMARKS.md, "Weighting the ends of playlists").
    "recency_scale": Param(float, 0.0, log=True, lowest=0.0, search_range=(1.0, 1000.0)),
    # Derived by default (SearchSpace.trial_config); a --config that names it searches or fixes it instead.
    "learning_rate": Param(float, None, log=True, strictly_positive=True, search_range=(1e-3, 1e-1),
                           auto=f"lr_at_batch_1024 x sqrt(batch_size / {REFERENCE_BATCH}), Adam's square-root rule"),
    "lr_at_batch_1024": Param(float, (1.2e-3, 2e-2), log=True, strictly_positive=True),
    "optimizer": Param(str, DEFAULT_OPTIMIZER, names="OPTIMIZER_CHOICES",
                       auto="adam, or lazy-adam (sparse updates) on large vocabularies"),
    # Searched: a rate decaying over the trial's epochs settles some corpora's best epochs higher and costs
    # others a little (BENCHMARKS.md, "Where the counts win"), so validation chooses per corpus.
    "lr_schedule": Param(str, ("constant", "linear"), names="LR_SCHEDULE_CHOICES",
                         auto="linear decay for sgd, constant for the others"),
    # Neither changes training: by default every trial picks them on validation after each
    # epoch (AUTO), which costs no trials. Fixing one, or searching one, is a --config choice.
    "scoring": Param(str, AUTO, names="SCORING_CHOICES"),
    "popularity_weight": Param(float, None, lowest=0.0, search_range=(0.0, 3.0)),
}

# Keys a user may try that belong elsewhere: say where.
_NOT_SEARCHED = {
    "min_count": "min_count is a per-study setting (it changes the vocabulary and so the "
                 "validation pairs); use --min-count",
    "epochs": "the number of epochs is set by --max-epochs (ASHA stops trials earlier)",
    "seed": "the seed is a per-study setting; use --seed",
    "k": "the metric is fixed to NDCG@10",
}
_RANGE_KEYS = {"min", "max", "log", "choices"}


@dataclass
class SearchSpace:
    """Optuna distributions of the searched parameters and the values of the fixed ones."""

    distributions: dict[str, od.BaseDistribution]
    fixed: dict[str, Any]
    # Rows per step of a count-softmax trial in a space whose batch_size is a pair model's (None: batch_size is
    # every trial's step).
    count_rows_batch: int | None = None

    def derives_learning_rate(self) -> bool:
        """Whether a trial's learning rate follows from ``lr_at_batch_1024`` and its batch size."""
        return _rate_is_derived(self.fixed)

    def trial_config(self, sampled: dict[str, Any]) -> dict[str, Any]:
        """A trial's hyperparameters from Optuna's sample: with the learning rate the sample implies, and a
        count-softmax trial's own step where the space's ``batch_size`` is a pair model's."""
        config = dict(sampled)

        def value(name):
            return config[name] if name in config else self.fixed[name]

        if self.count_rows_batch is not None and value("architecture") == "count-softmax":
            config["batch_size"] = self.count_rows_batch
        if self.derives_learning_rate():
            config["learning_rate"] = learning_rate_at(value(LR_AT_REFERENCE), value("batch_size"))
        return config

    def describe(self) -> list[str]:
        """One human-readable line per parameter."""
        lines = []
        unread = PAIR_SAMPLING if _architectures(self.distributions, self.fixed) == ("count-softmax",) else ()
        for name in PARAMS:
            if name not in self.fixed and name not in self.distributions:
                continue  # lr_at_batch_1024 where the config names learning_rate itself
            if name in unread:
                continue
            if name in self.fixed:
                value = self.fixed[name]
                if value is None or value == AUTO:
                    lines.append(f"{name}: auto ({PARAMS[name].auto})")
                else:
                    lines.append(f"{name} = {value!r} (fixed)")
                continue
            dist = self.distributions[name]
            if isinstance(dist, od.CategoricalDistribution):
                lines.append(f"{name} in {list(dist.choices)}")
            else:
                lines.append(f"{name} in [{dist.low:g}, {dist.high:g}]{' (log)' if dist.log else ''}")
        if unread:
            lines.append(f"{', '.join(unread)}: not read by count-softmax (counted rows, not sampled pairs)")
        return lines


def learning_rate_at(lr_at_reference: float, batch_size: int) -> float:
    """The rate for ``batch_size`` pairs of the rate ``lr_at_reference`` of REFERENCE_BATCH pairs (square-root rule)."""
    return float(lr_at_reference) * math.sqrt(batch_size / REFERENCE_BATCH)


def lr_at_reference_of(learning_rate: float, batch_size: int) -> float:
    """The rate of REFERENCE_BATCH pairs that ``learning_rate`` at ``batch_size`` pairs implies (``learning_rate_at``'s inverse)."""
    return float(learning_rate) * math.sqrt(REFERENCE_BATCH / batch_size)


def load_overrides(path: Path) -> tuple[dict[str, Any], str]:
    """Read a TOML file of overrides: (parsed dict, raw text). Invalid files raise ConfigError."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read config file ({error})") from None
    try:
        overrides = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: invalid TOML ({error})") from None
    build_space(overrides, source=str(path))  # validate now, before anything starts
    return overrides, text


def build_space(overrides: dict[str, Any] | None = None, source: str = "config", artists: bool = True) -> SearchSpace:
    """The default space with ``overrides`` applied; any invalid entry raises ConfigError.

    ``artists``: whether the corpus names each item's artist; without, ``artist_vectors`` is off.
    """
    overrides = overrides or {}
    for name in overrides:
        if name in _NOT_SEARCHED:
            raise ConfigError(f"{source}: {_NOT_SEARCHED[name]}")
        if name not in PARAMS:
            raise ConfigError(f"{source}: unknown parameter {name!r} (known: {', '.join(PARAMS)})")
    distributions: dict[str, od.BaseDistribution] = {}
    fixed: dict[str, Any] = {}
    for name, param in PARAMS.items():
        value = overrides.get(name, param.default)
        where = f"{source}: {name}"
        if isinstance(value, dict):
            _parse_table(name, param, value, where, distributions, fixed)
        elif isinstance(value, tuple):  # a default range or choice list
            if param.kind in (str, bool):
                distributions[name] = od.CategoricalDistribution(value)
            else:
                distributions[name] = _range(param, value[0], value[1], param.log)
        elif name in overrides:
            fixed[name] = _check_value(param, value, where)
        else:
            fixed[name] = value
    _artist_vectors_where_they_act(overrides, distributions, fixed, source, artists)
    _count_rows_within_reach(distributions, fixed, source)
    _pair_sampling_where_it_acts(overrides, distributions, fixed, source)
    _one_learning_rate(overrides, distributions, fixed, source)
    count_rows_batch = _count_rows_step_beside_pairs(overrides, distributions, fixed)
    if not distributions:  # Ray's OptunaSearch cannot sample from an empty space
        raise ConfigError(f"{source}: every hyperparameter is fixed, so there is nothing to search: give one a "
                          "range or choices (e.g. dim = { min = 16, max = 128 }), or train the one "
                          "configuration with `track2vec train`")
    return SearchSpace(distributions, fixed, count_rows_batch)


def _rate_is_derived(fixed: dict[str, Any]) -> bool:
    """Whether the config left ``learning_rate`` to follow from ``lr_at_batch_1024`` (its default, None)."""
    return "learning_rate" in fixed and fixed["learning_rate"] is None


def _one_learning_rate(overrides, distributions, fixed, source: str) -> None:
    """Search the rate of the reference batch, or, where the config names ``learning_rate``, that rate alone."""
    if _rate_is_derived(fixed):  # lr_at_batch_1024 stays
        return
    if LR_AT_REFERENCE in overrides:
        raise ConfigError(f"{source}: give learning_rate or {LR_AT_REFERENCE}, not both (a trial's rate is "
                          f"{LR_AT_REFERENCE} x sqrt(batch_size / {REFERENCE_BATCH}) unless learning_rate is named)")
    distributions.pop(LR_AT_REFERENCE, None)
    fixed.pop(LR_AT_REFERENCE, None)


def _architectures(distributions, fixed) -> tuple[str, ...]:
    """The architectures a trial of this space may train."""
    return (fixed["architecture"],) if "architecture" in fixed else tuple(distributions["architecture"].choices)


def _artist_vectors_where_they_act(overrides, distributions, fixed, source: str, artists: bool) -> None:
    """Turn ``artist_vectors`` off where it cannot act, or refuse an explicit request for it there."""
    architectures = _architectures(distributions, fixed)
    possible = fixed.get("artist_vectors", True) is not False
    if "artist_vectors" in distributions:
        possible = True
    reason = None
    if not artists:
        reason = "the corpus names no artists"
    elif "tied-cosine" in architectures:
        reason = "architecture tied-cosine has one shared table, no separate context vectors"
    elif "count-softmax" in architectures:
        reason = "architecture count-softmax trains on counted rows of items, without their artists"
    if reason is None or not possible:
        return
    if "artist_vectors" in overrides:
        raise ConfigError(f"{source}: artist_vectors: {reason}; remove it or set it to false")
    distributions.pop("artist_vectors", None)
    fixed["artist_vectors"] = False


def _count_rows_within_reach(distributions, fixed, source: str) -> None:
    """Refuse windows that count-softmax's rows cannot count (``track2vec.config.TrainConfig`` says why)."""
    from track2vec.baselines import MAX_STEPS

    architectures = _architectures(distributions, fixed)
    widest = fixed["window"] if "window" in fixed else distributions["window"].high
    if "count-softmax" in architectures and widest > MAX_STEPS:
        raise ConfigError(f"{source}: window: architecture count-softmax counts its rows up to a window of "
                          f"{MAX_STEPS}, and the window reaches {widest}")


# What only the pair models read (track2vec.sampling).
PAIR_SAMPLING = ("negatives", "alpha", "subsample", "shared_rows", "recency_scale")


def _pair_sampling_where_it_acts(overrides, distributions, fixed, source: str) -> None:
    """A space of count-softmax alone searches nothing the counted rows ignore: the pair sampling settings
    are fixed at their defaults (a config that searches one is refused), and a step takes count-softmax's
    own number of rows unless the config names ``batch_size`` (its rows per step, fixed or searched)."""
    from track2vec.config import COUNT_ROWS_RECIPE, TrainConfig

    if _architectures(distributions, fixed) != ("count-softmax",):
        return
    for name in PAIR_SAMPLING:
        if name in distributions and name in overrides:
            raise ConfigError(f"{source}: {name}: architecture count-softmax trains on counted rows, not sampled "
                              f"pairs, so {name} is not searched; remove it")
        distributions.pop(name, None)
        if name not in fixed:
            fixed[name] = getattr(TrainConfig, name)
    if "batch_size" not in overrides:
        distributions.pop("batch_size", None)
        fixed["batch_size"] = COUNT_ROWS_RECIPE["batch_size"]


def _count_rows_step_beside_pairs(overrides, distributions, fixed) -> int | None:
    """In a space searching count-softmax beside a pair model, a count-softmax trial's rows per step: its
    recipe's, unless the config names ``batch_size`` (then every trial's step, pairs or rows)."""
    from track2vec.config import COUNT_ROWS_RECIPE

    architectures = _architectures(distributions, fixed)
    if "count-softmax" not in architectures or len(architectures) == 1 or "batch_size" in overrides:
        return None
    return COUNT_ROWS_RECIPE["batch_size"]


def _parse_table(name: str, param: Param, table: dict, where: str, distributions: dict, fixed: dict) -> None:
    unknown = set(table) - _RANGE_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))} (use min, max, log or choices)")
    if "choices" in table:
        if set(table) - {"choices"}:
            raise ConfigError(f"{where}: give either choices or min/max, not both")
        choices = table["choices"]
        if not isinstance(choices, list) or not choices:
            raise ConfigError(f"{where}: choices must be a non-empty list")
        values = tuple(dict.fromkeys(_check_value(param, choice, where) for choice in choices))
        if len(values) == 1:
            fixed[name] = values[0]
        else:
            distributions[name] = od.CategoricalDistribution(values)
        return
    if param.kind in (str, bool):
        raise ConfigError(f"{where}: a categorical parameter takes a value or choices = [...], not min/max")
    default_low, default_high = param.search_range or param.default
    low = _check_value(param, table.get("min", default_low), where + ".min")
    high = _check_value(param, table.get("max", default_high), where + ".max")
    log = table.get("log", param.log)
    if not isinstance(log, bool):
        raise ConfigError(f"{where}.log: expected true or false, got {log!r}")
    if low > high:
        raise ConfigError(f"{where}: min ({low}) is greater than max ({high})")
    if low == high:
        fixed[name] = low
        return
    distributions[name] = _range(param, low, high, log, where)


def _range(param: Param, low, high, log: bool, where: str = "") -> od.BaseDistribution:
    if log and low <= 0:
        raise ConfigError(f"{where}: a log-scale range needs min > 0 (got {low}); set log = false")
    if param.kind is int:
        return od.IntDistribution(int(low), int(high), log=log)
    return od.FloatDistribution(float(low), float(high), log=log)


def _check_value(param: Param, value: Any, where: str) -> Any:
    """Type- and bounds-check one value (a fixed value, a bound or a choice)."""
    if param.default is None and value == AUTO:  # a setting that is chosen on validation unless fixed
        return None
    if param.kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if param.kind is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        allowed = library_names(param.names)
        if value not in allowed:
            raise ConfigError(f"{where}: {value!r} is not one of {', '.join(allowed)}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if param.kind is int:
        if isinstance(value, float):
            if not value.is_integer():
                raise ConfigError(f"{where}: expected an integer, got {value!r}")
            value = int(value)
    else:
        value = float(value)
        if not math.isfinite(value):
            raise ConfigError(f"{where}: expected a finite number, got {value!r}")
    if param.lowest is not None and value < param.lowest:
        raise ConfigError(f"{where}: must be >= {param.lowest:g}, got {value!r}")
    if param.strictly_positive and value <= 0:
        raise ConfigError(f"{where}: must be > 0, got {value!r}")
    return value


def library_names(attribute: str) -> tuple[str, ...]:
    """One of the library's lists of names (``ARCHITECTURES``, ``OPTIMIZERS``, ...; track2vec.config: no Keras import)."""
    from track2vec import config

    return tuple(getattr(config, attribute))
