"""The export's embeddings in formats other tools read: word2vec text and binary, TensorBoard's Projector.

Written by :func:`track2vec.export.write_export` into the same export directory:

* ``embeddings.w2v.txt``: word2vec's text format, as gensim's
  ``KeyedVectors.load_word2vec_format(path)`` and the word2vec tools read it: a header line
  ``"<items> <dim>"``, then one line per item in vocabulary order (most frequent first),
  ``"<item> <v1> ... <vdim>"``. Values are written with 9 significant digits, enough for every
  float32 to read back as the same float32.
* ``embeddings.w2v.bin`` (``word2vec_binary=True`` only): word2vec's binary format, the same
  header, then per item ``"<item> "``, ``dim`` little-endian float32 and a newline, as the original
  C tool writes it (``load_word2vec_format(path, binary=True)``).
* ``projector/``: TensorBoard's Embedding Projector files. ``vectors.tsv`` has one row of
  tab-separated values per item, no header; ``metadata.tsv`` has the header ``item, count, artist``
  (the Projector reads the first row as a header when it has more than one column) and one row
  per item, an unknown artist left empty; ``projector_config.pbtxt`` points at both, so
  ``tensorboard --logdir <export>/projector`` shows them, and the two TSV files can be loaded
  into projector.tensorflow.org as they are.

Item names. The word2vec formats end an item at the first space (gensim writes a key with a
space and cannot read its own file back), and the Projector's TSV files split on tabs and line
breaks. So an item or artist is written escaped: every white-space character (``str.isspace``)
and every ``%`` becomes ``%XX``, the percent-encoding of its UTF-8 bytes (``"a b"`` ->
``"a%20b"``, ``"50%"`` -> ``"50%25"``). Everything else is written as it is, so the items of
text files (split on white space) and Deezer-style ``track_<id>`` tokens are unchanged; the
escape is undone by :func:`unescape` (``urllib.parse.unquote``).
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import numpy as np

from track2vec.errors import DataError
from track2vec.vocabulary import Vocabulary

WORD2VEC_TEXT_FILE = "embeddings.w2v.txt"
WORD2VEC_BINARY_FILE = "embeddings.w2v.bin"
PROJECTOR_DIR = "projector"
PROJECTOR_VECTORS_FILE = "vectors.tsv"
PROJECTOR_METADATA_FILE = "metadata.tsv"
PROJECTOR_CONFIG_FILE = "projector_config.pbtxt"
PROJECTOR_TENSOR_NAME = "track2vec"
METADATA_COLUMNS = ("item", "count", "artist")
VALUE_FORMAT = "%.9g"  # 9 significant digits: every float32 reads back exactly
ROWS_PER_BLOCK = 4096  # rows formatted at once (as Python floats, so memory stays bounded)

_ESCAPED = re.compile(r"[%\s]")  # \s is exactly str.isspace, which covers every line break of splitlines


def escape(name: str) -> str:
    """``name`` with white space and ``%`` percent-encoded, so that it is one field of every format here."""
    return _ESCAPED.sub(lambda match: "".join(f"%{byte:02X}" for byte in match.group().encode("utf-8")), name)


def unescape(key: str) -> str:
    """The item name that :func:`escape` wrote as ``key``."""
    return unquote(key, encoding="utf-8", errors="strict")


def write_standard_formats(directory: Path, embeddings: np.ndarray, vocabulary: Vocabulary,
                           word2vec_binary: bool = False) -> list[Path]:
    """Write the word2vec and Projector files of ``embeddings`` into ``directory``; returns their paths."""
    embeddings = np.asarray(embeddings, dtype=np.float32)
    if embeddings.ndim != 2 or len(embeddings) != len(vocabulary):
        raise DataError(f"embeddings of shape {embeddings.shape} do not match a vocabulary of {len(vocabulary)} items")
    directory = Path(directory)
    keys = [escape(item) for item in vocabulary.items.tolist()]
    projector = directory / PROJECTOR_DIR
    projector.mkdir()
    written = [directory / WORD2VEC_TEXT_FILE, projector / PROJECTOR_VECTORS_FILE]
    _write_text_vectors(written[0], written[1], keys, embeddings)
    written.append(_write_metadata(projector / PROJECTOR_METADATA_FILE, keys, vocabulary))
    written.append(_write_projector_config(projector / PROJECTOR_CONFIG_FILE))
    if word2vec_binary:
        written.append(_write_word2vec_binary(directory / WORD2VEC_BINARY_FILE, keys, embeddings))
    return written


def _write_text_vectors(word2vec_path: Path, tsv_path: Path, keys: list[str], embeddings: np.ndarray) -> None:
    """The word2vec text file and the Projector's vectors.tsv: each row's values are formatted once for both."""
    row_format = " ".join([VALUE_FORMAT] * embeddings.shape[1])
    with open(word2vec_path, "w", encoding="utf-8", newline="\n") as word2vec, \
            open(tsv_path, "w", encoding="utf-8", newline="\n") as tsv:
        word2vec.write(f"{embeddings.shape[0]} {embeddings.shape[1]}\n")
        for start in range(0, len(embeddings), ROWS_PER_BLOCK):
            rows = [row_format % tuple(values) for values in embeddings[start:start + ROWS_PER_BLOCK].tolist()]
            word2vec.write("".join(f"{key} {row}\n" for key, row in zip(keys[start:start + len(rows)], rows)))
            tsv.write("".join(row.replace(" ", "\t") + "\n" for row in rows))


def _write_word2vec_binary(path: Path, keys: list[str], embeddings: np.ndarray) -> Path:
    vectors = np.ascontiguousarray(embeddings, dtype="<f4")
    with open(path, "wb") as handle:
        handle.write(f"{vectors.shape[0]} {vectors.shape[1]}\n".encode("utf-8"))
        for key, vector in zip(keys, vectors):
            handle.write(key.encode("utf-8") + b" " + vector.tobytes() + b"\n")
    return path


def _write_metadata(path: Path, keys: list[str], vocabulary: Vocabulary) -> Path:
    artists = vocabulary.artists.tolist() if vocabulary.artists is not None else [""] * len(keys)
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        handle.write("\t".join(METADATA_COLUMNS) + "\n")
        handle.write("".join(f"{key}\t{count}\t{escape(artist)}\n"
                             for key, count, artist in zip(keys, vocabulary.counts.tolist(), artists)))
    return path


def _write_projector_config(path: Path) -> Path:
    """TensorBoard's ProjectorConfig in protobuf text format; its paths are relative to this file's directory."""
    path.write_text(f'embeddings {{\n  tensor_name: "{PROJECTOR_TENSOR_NAME}"\n'
                    f'  tensor_path: "{PROJECTOR_VECTORS_FILE}"\n  metadata_path: "{PROJECTOR_METADATA_FILE}"\n}}\n',
                    encoding="utf-8")
    return path
