"""Hyperparameters of one training run."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from track2vec.baselines import MAX_STEPS
from track2vec.errors import ConfigError
from track2vec.scoring import AUTO, CONTEXT_SCORINGS, POPULARITY_WEIGHTS, SCORINGS

ARCHITECTURES = ("sgns", "tied-cosine", "softmax", "count-softmax")
ARCHITECTURE_CHOICES = (AUTO, *ARCHITECTURES)  # auto: by vocabulary size (default_recipe)
DIRECTIONS = ("both", "forward")  # contexts on both sides of a target, or only after it
SCORING_CHOICES = (AUTO, *SCORINGS)
OPTIMIZERS = ("adam", "lazy-adam", "sgd", "adagrad")
# "auto": Adam's updates, dense below SPARSE_FROM_ITEMS items and sparse (lazy-adam) from there, where a
# dense update of every row costs more than the sparse one's gathers and scatters (BENCHMARKS.md). The
# same size switches the "auto" architecture and step settings (default_recipe).
OPTIMIZER_CHOICES = (AUTO, *OPTIMIZERS)
SPARSE_FROM_ITEMS = 50_000
# The learning rate over a run: decaying linearly towards zero over its epochs, or constant;
# "auto" is word2vec's choice for sgd (linear) and constant for the adaptive optimizers.
LR_SCHEDULES = ("linear", "constant")
LR_SCHEDULE_CHOICES = (AUTO, *LR_SCHEDULES)
# Rows of a batch whose negatives every row of the ``softmax`` architecture shares (track2vec.model):
# the default ``shared_rows`` below SPARSE_FROM_ITEMS items.
SHARED_NEGATIVE_ROWS = 128
# count-softmax's step settings (track2vec.count_rows): query rows per step and Adam's rate (BENCHMARKS.md, "A softmax
# trained on the counts' own rows").
COUNT_ROWS_RECIPE = {"batch_size": 512, "learning_rate": 0.003}


@dataclass(frozen=True)
class Recipe:
    """The settings that TrainConfig leaves to the vocabulary's size ("auto" and None) and what they become."""

    architecture: str
    batch_size: int
    learning_rate: float
    shared_rows: int


def default_recipe(vocabulary_size: int, architecture: str = AUTO) -> Recipe:
    """What TrainConfig's unset settings become on ``vocabulary_size`` items.

    Below SPARSE_FROM_ITEMS: the notebook's tied-cosine, measured best on the small corpora (README,
    "Quality"). From there: the softmax, whose sparse steps over smaller
    batches sharing fewer negative rows reach gensim's quality in less than gensim's time where dense
    updates of every row cannot (BENCHMARKS.md row 3). A named architecture keeps its name; only the large
    softmax has the large recipe's step settings.
    """
    large = vocabulary_size >= SPARSE_FROM_ITEMS
    if architecture == AUTO:
        architecture = "softmax" if large else "tied-cosine"
    if architecture == "count-softmax":
        return Recipe(architecture, shared_rows=SHARED_NEGATIVE_ROWS, **COUNT_ROWS_RECIPE)
    if large and architecture == "softmax":
        return Recipe(architecture, batch_size=1536, learning_rate=0.005, shared_rows=64)
    return Recipe(architecture, batch_size=4096, learning_rate=0.02, shared_rows=SHARED_NEGATIVE_ROWS)


@dataclass
class TrainConfig:
    """One word2vec configuration.

    ``architecture`` "auto" and the step settings left None (``batch_size``, ``learning_rate``,
    ``shared_rows``) depend on the vocabulary's size: ``resolved`` fills them from ``default_recipe``
    (tied-cosine below SPARSE_FROM_ITEMS items, the softmax from there). The rest follow gensim's
    skip-gram where the paper is silent.
    """

    architecture: str = AUTO
    dim: int = 50
    window: int = 3
    direction: str = "both"
    shrink_windows: bool = False  # word2vec's reduced window: each target draws its reach in 1..window
    negatives: int = 5
    # softmax: every row of a batch is scored against the negatives of its first shared_rows rows; fewer make
    # a step cheaper (its matrix products scale with them) and each row's softmax coarser.
    shared_rows: int | None = None
    # Add each item's artist vector to its target and context vectors (sgns, softmax), where
    # the corpus names artists; items without one keep their own vector only.
    artist_vectors: bool = False
    alpha: float = 0.75  # exponent of the negative-sampling distribution counts**alpha
    subsample: float = 1e-3  # frequent-item subsampling threshold t (0 disables)
    # Keep a target d positions before its playlist's end with probability exp(-d / recency_scale), on top of
    # subsampling: the ends of playlists, where completion asks for the next item, weigh more. 0 disables.
    recency_scale: float = 0.0
    batch_size: int | None = None  # positive pairs per step (each with its negatives)
    learning_rate: float | None = None
    optimizer: str = AUTO
    lr_schedule: str = AUTO
    # How candidates are ranked (track2vec.scoring); "auto" and None: the best on the
    # validation pairs after each epoch, which costs no training.
    scoring: str = AUTO
    popularity_weight: float | None = None
    epochs: int = 10
    seed: int = 0
    k: int = 10  # cut-off of NDCG@k and HR@k

    def __post_init__(self) -> None:
        checks = [
            (self.architecture in ARCHITECTURE_CHOICES,
             f"architecture must be one of {', '.join(ARCHITECTURE_CHOICES)}"),
            (self.optimizer in OPTIMIZER_CHOICES, f"optimizer must be one of {', '.join(OPTIMIZER_CHOICES)}"),
            (self.lr_schedule in LR_SCHEDULE_CHOICES, f"lr_schedule must be one of {', '.join(LR_SCHEDULE_CHOICES)}"),
            (self.direction in DIRECTIONS, f"direction must be one of {', '.join(DIRECTIONS)}"),
            (self.scoring in SCORING_CHOICES, f"scoring must be one of {', '.join(SCORING_CHOICES)}"),
            (self.popularity_weight is None or self.popularity_weight >= 0, "popularity_weight must be >= 0"),
            (not (self.scoring in CONTEXT_SCORINGS and self.architecture == "tied-cosine"),
             f"scoring {self.scoring} needs separate context vectors (architecture sgns or softmax), "
             "which tied-cosine does not have"),
            (not (self.artist_vectors and self.architecture in ("tied-cosine", "count-softmax")),
             "artist_vectors needs separate target and context vectors trained on pairs (architecture sgns or softmax)"),
            # Its rows are the counted baselines' (track2vec.count_rows), which reach MAX_STEPS positions at most.
            (not (self.architecture == "count-softmax" and self.window > MAX_STEPS),
             f"architecture count-softmax counts its rows up to a window of {MAX_STEPS}"),
            (self.dim >= 1, "dim must be >= 1"),
            (self.window >= 1, "window must be >= 1"),
            (self.negatives >= 1, "negatives must be >= 1"),
            (self.shared_rows is None or self.shared_rows >= 1, "shared_rows must be >= 1"),
            (self.subsample >= 0, "subsample must be >= 0"),
            (self.recency_scale >= 0, "recency_scale must be >= 0"),
            (self.batch_size is None or self.batch_size >= 1, "batch_size must be >= 1"),
            (self.learning_rate is None or self.learning_rate > 0, "learning_rate must be > 0"),
            (self.epochs >= 1, "epochs must be >= 1"),
            (self.k >= 1, "k must be >= 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)

    def resolved(self, vocabulary_size: int) -> "TrainConfig":
        """This configuration on ``vocabulary_size`` items: "auto" architecture and unset step settings
        filled from ``default_recipe``; what is set stays as it is."""
        recipe = default_recipe(vocabulary_size, self.architecture)
        try:
            return replace(self, architecture=recipe.architecture,
                           batch_size=_unless_set(self.batch_size, recipe.batch_size),
                           learning_rate=_unless_set(self.learning_rate, recipe.learning_rate),
                           shared_rows=_unless_set(self.shared_rows, recipe.shared_rows))
        except ConfigError as error:
            if self.architecture != AUTO:
                raise
            raise ConfigError(f"{error} (architecture auto is {recipe.architecture} on {vocabulary_size:,} items; "
                              "name another)") from None

    def optimizer_for(self, vocabulary_size: int, sparse_available: bool = True) -> str:
        """The optimizer that trains on ``vocabulary_size`` items: the one named, or what "auto" picks
        there (adam, or lazy-adam from ``SPARSE_FROM_ITEMS`` items where the backend has it)."""
        if self.optimizer != AUTO:
            return self.optimizer
        return "lazy-adam" if sparse_available and vocabulary_size >= SPARSE_FROM_ITEMS else "adam"

    def decays(self) -> bool:
        """Whether the learning rate decays linearly over the run (``lr_schedule``; auto: for sgd only)."""
        return self.lr_schedule == "linear" or (self.lr_schedule == AUTO and self.optimizer == "sgd")

    def scoring_methods(self) -> tuple[str, ...]:
        """The similarities tried on validation: the fixed one, or every one the architecture has."""
        if self.scoring != AUTO:
            return (self.scoring,)
        return ("cosine",) if self.architecture == "tied-cosine" else SCORINGS

    def popularity_weights(self) -> tuple[float, ...]:
        """The popularity weights tried on validation: the fixed one, or the default grid."""
        return POPULARITY_WEIGHTS if self.popularity_weight is None else (float(self.popularity_weight),)

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        """Build from a dict, ignoring keys that are not hyperparameters of one run."""
        names = {field.name for field in fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in names})


def _unless_set(value, default):
    return default if value is None else value
