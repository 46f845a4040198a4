"""Write and read exported embeddings: ``embeddings.npy``, ``vocabulary.tsv``, ``model.json``.

An ``sgns`` or ``softmax`` export also holds ``context_embeddings.npy``, the context vectors that
target-context and symmetric scoring need; ``model.json``'s ``scoring`` says how the evaluation ranked
candidates, so that ``recommend`` ranks them the same way. The same embeddings are also written
in formats other tools read (:mod:`track2vec.formats`: ``embeddings.w2v.txt``, optionally
``embeddings.w2v.bin``, and ``projector/``); :func:`read_export` reads only the files above.
A large export scored by plain cosine also holds an approximate nearest-neighbour index
(``ann.voyager``, :mod:`track2vec.ann`; ``model.json``'s ``ann`` gives its settings), which
``recommend`` then searches instead of every item.

An export directory is written in a temporary sibling and renamed into place, so a
reader sees either the previous export or the new one, never half of one. An
existing export is replaced only with ``force=True``.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from track2vec import ann
from track2vec.errors import DataError, ExportExistsError, Track2VecError
from track2vec.formats import write_standard_formats
from track2vec.scoring import CONTEXT_SCORINGS, Scoring, ScoreTable, score_table
from track2vec.vocabulary import Vocabulary

FORMAT_VERSION = 1
EMBEDDINGS_FILE = "embeddings.npy"
CONTEXT_EMBEDDINGS_FILE = "context_embeddings.npy"
CONTEXT_BIAS_FILE = "context_bias.npy"  # the softmax architecture's learnt bias per item
BLEND_RULES_FILE = "blend_rules.npz"  # the blended mode's count term (SciPy sparse, no pickle)
VOCABULARY_FILE = "vocabulary.tsv"
INFO_FILE = "model.json"


@dataclass
class Export:
    embeddings: np.ndarray
    vocabulary: Vocabulary
    info: dict
    context_embeddings: np.ndarray | None = None
    blend_rules: sp.csr_matrix | None = None
    context_bias: np.ndarray | None = None

    @property
    def blend_weight(self) -> float | None:
        """The weight of the count term of the blended mode, when the export has one."""
        blend = self.info.get("blend") or {}
        return float(blend["weight"]) if self.blend_rules is not None and "weight" in blend else None

    @property
    def blend_scoring(self) -> Scoring:
        """How the blended mode scores the embeddings (the export's scoring where it does not say)."""
        described = (self.info.get("blend") or {}).get("scoring")
        return Scoring.from_dict(described) if described else self.scoring

    def ann_index(self, path: Path) -> ann.AnnIndex | None:
        """The export's approximate index (in ``path``), or None when it has none."""
        described = self.info.get("ann")
        if not described:
            return None
        try:
            settings = ann.IndexSettings.from_dict(described)
        except (Track2VecError, TypeError, AttributeError) as error:
            raise DataError(f"{path}: {INFO_FILE} has unusable index settings ({error})") from None
        return ann.AnnIndex.load(Path(path) / ann.INDEX_FILE, self.embeddings, settings)

    @property
    def scoring(self) -> Scoring:
        """How the evaluation ranked candidates (cosine for exports that do not say)."""
        return Scoring.from_dict(self.info.get("scoring") or {})

    def score_table(self, method: str | None = None) -> ScoreTable:
        return score_table(method or self.scoring.method, self.embeddings, self.vocabulary.counts, self.context_embeddings,
                           self.context_bias)


def write_export(out_dir: Path, embeddings: np.ndarray, vocabulary: Vocabulary, info: dict, force: bool = False,
                 extra_files: dict[str, str] | None = None, context_embeddings: np.ndarray | None = None,
                 blend_rules: sp.csr_matrix | None = None, word2vec_binary: bool = False,
                 context_bias: np.ndarray | None = None, ann_index: bool | None = None) -> Path:
    """Atomically write an export to ``out_dir``; ``info`` holds hyperparameters, seed, data fingerprint,
    metrics and the ``scoring`` they were measured with.

    ``extra_files`` (name -> text, e.g. an evaluation table) are part of the same atomic replacement;
    ``blend_rules`` are the blended mode's count term, ``log(1 + SR)`` [+ ``ar_weight * log(1 + AR)``]
    (``info["blend"]`` gives its weight).
    The word2vec text and Projector files are always written; ``word2vec_binary`` adds the binary word2vec file.
    ``ann_index``: build the approximate index (True), never (False), or when ``ann.wanted`` says so and
    the ``ann`` extra is installed (None; a warning says when it is missing).
    """
    scoring = Scoring.from_dict(info.get("scoring") or {})
    if ann_index is None:
        ann_index = ann.wanted(len(vocabulary), scoring)
        if ann_index and not ann.available():
            warnings.warn(f"{len(vocabulary):,} items: exported without an approximate index for recommend "
                          f"({ann.EXTRA} to have one)", stacklevel=2)
            ann_index = False
    elif ann_index and not ann.supports(scoring):
        raise Track2VecError(f"an approximate index reproduces plain cosine scoring only, not {scoring.describe()}")
    settings = ann.IndexSettings()
    if ann_index:
        info = {**info, "ann": {"file": ann.INDEX_FILE, "library": "voyager", **settings.as_dict()}}
    out_dir = Path(out_dir).absolute()
    if out_dir.exists() and not force:
        raise ExportExistsError(f"{out_dir} already exists; pass --force to replace it")
    if out_dir.exists() and not is_export(out_dir) and any(out_dir.iterdir()):
        raise ExportExistsError(f"{out_dir} is a non-empty directory that is not an export; refusing to replace it")
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
        staging.chmod(0o777 & ~_umask())  # mkdtemp makes it private (0700); an export follows the umask
    except OSError as error:
        raise Track2VecError(f"{out_dir}: cannot create the export ({error.strerror or error})") from None
    try:
        np.save(staging / EMBEDDINGS_FILE, np.asarray(embeddings, dtype=np.float32), allow_pickle=False)
        if context_embeddings is not None:
            np.save(staging / CONTEXT_EMBEDDINGS_FILE, np.asarray(context_embeddings, dtype=np.float32), allow_pickle=False)
        if context_bias is not None:
            np.save(staging / CONTEXT_BIAS_FILE, np.asarray(context_bias, dtype=np.float32), allow_pickle=False)
        if blend_rules is not None:
            sp.save_npz(staging / BLEND_RULES_FILE, sp.csr_matrix(blend_rules, dtype=np.float32))
        _write_vocabulary(staging / VOCABULARY_FILE, vocabulary)
        write_standard_formats(staging, embeddings, vocabulary, word2vec_binary=word2vec_binary)
        if ann_index:
            ann.AnnIndex.build(embeddings, settings).save(staging / ann.INDEX_FILE)
        (staging / INFO_FILE).write_text(json.dumps({"format_version": FORMAT_VERSION, **info}, indent=2, default=_json_default))
        for name, text in (extra_files or {}).items():
            (staging / name).write_text(text, encoding="utf-8")
        for path in staging.rglob("*"):
            if path.is_file():
                with open(path, "rb") as handle:
                    os.fsync(handle.fileno())
        _replace_directory(staging, out_dir)
    except OSError as error:  # disk full, permissions: the user's to fix, not a crash
        shutil.rmtree(staging, ignore_errors=True)
        raise Track2VecError(f"{out_dir}: cannot write the export ({error.strerror or error})") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _replace_directory(new: Path, target: Path) -> None:
    if not target.exists():
        os.rename(new, target)
        return
    backup = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    os.rmdir(backup)
    os.rename(target, backup)
    try:
        os.rename(new, target)
    except BaseException:
        os.rename(backup, target)
        raise
    shutil.rmtree(backup, ignore_errors=True)


def _write_vocabulary(path: Path, vocabulary: Vocabulary) -> None:
    artists = vocabulary.artists if vocabulary.artists is not None else [""] * len(vocabulary)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(["index", "item", "count", "artist"])
        for index, (item, count, artist) in enumerate(zip(vocabulary.items.tolist(), vocabulary.counts.tolist(), artists)):
            writer.writerow([index, item, count, artist])


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def is_export(path: Path) -> bool:
    """Whether ``path`` holds an export (``--force`` replaces only those, or empty directories)."""
    return (Path(path) / INFO_FILE).is_file() and (Path(path) / EMBEDDINGS_FILE).is_file()


def read_export(path: Path) -> Export:
    """Read an export directory written by :func:`write_export` (no pickle involved)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise DataError(f"{path}: a file, not an export (an export is the directory that `track2vec train --out` "
                        "or a study writes)")
    if not path.is_dir():
        raise DataError(f"{path}: no such export directory")
    missing = [name for name in (EMBEDDINGS_FILE, VOCABULARY_FILE, INFO_FILE) if not (path / name).is_file()]
    if missing:
        raise DataError(f"{path}: not an export (missing {', '.join(missing)})")
    try:
        embeddings = np.load(path / EMBEDDINGS_FILE, allow_pickle=False)
        contexts = path / CONTEXT_EMBEDDINGS_FILE
        context_embeddings = np.load(contexts, allow_pickle=False) if contexts.is_file() else None
        bias_path = path / CONTEXT_BIAS_FILE
        context_bias = np.load(bias_path, allow_pickle=False) if bias_path.is_file() else None
        blend_path = path / BLEND_RULES_FILE
        blend_rules = sp.load_npz(blend_path).tocsr() if blend_path.is_file() else None  # np.load, no pickle
        info = json.loads((path / INFO_FILE).read_text())
        with open(path / VOCABULARY_FILE, newline="") as handle:
            rows = list(csv.reader(handle, delimiter="\t"))[1:]
    except (ValueError, OSError, KeyError, csv.Error) as error:  # JSONDecodeError is a ValueError
        raise DataError(f"{path}: unreadable export ({error})") from None
    if len(rows) != len(embeddings):
        raise DataError(f"{path}: {len(rows)} vocabulary rows but {len(embeddings)} embeddings")
    if context_embeddings is not None and context_embeddings.shape != embeddings.shape:
        raise DataError(f"{path}: {CONTEXT_EMBEDDINGS_FILE} has shape {context_embeddings.shape}, "
                        f"{EMBEDDINGS_FILE} {embeddings.shape}")
    try:
        items = np.array([row[1] for row in rows], dtype=str)
        counts = np.array([int(row[2]) for row in rows], dtype=np.int64)
    except (IndexError, ValueError):
        raise DataError(f"{path}: {VOCABULARY_FILE} is not a vocabulary (expected index, item, count, artist columns)") from None
    artists = np.array([row[3] if len(row) > 3 else "" for row in rows], dtype=str)
    has_artists = bool(len(artists)) and any(artists)
    if context_bias is not None and context_bias.shape != (len(embeddings),):
        raise DataError(f"{path}: {CONTEXT_BIAS_FILE} has shape {context_bias.shape}, not ({len(embeddings)},)")
    if blend_rules is not None and blend_rules.shape != (len(embeddings), len(embeddings)):
        raise DataError(f"{path}: {BLEND_RULES_FILE} has shape {blend_rules.shape}, not {len(embeddings)} x {len(embeddings)}")
    export = Export(embeddings, Vocabulary(items, counts, artists if has_artists else None), info, context_embeddings,
                    blend_rules, context_bias)
    try:
        export.scoring
    except Track2VecError as error:
        raise DataError(f"{path}: {INFO_FILE} has an unusable scoring ({error})") from None
    if export.scoring.method in CONTEXT_SCORINGS and context_embeddings is None:
        raise DataError(f"{path}: {INFO_FILE} asks for {export.scoring.method} scoring but {CONTEXT_EMBEDDINGS_FILE} "
                        "is missing")
    return export
