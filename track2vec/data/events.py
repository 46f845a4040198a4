"""Event logs: one interaction a row of a delimited text file with a header, grouped into sessions.

This is how session-based recommendation data sets are usually shipped: session-rec's files
(``SessionId<TAB>ItemId<TAB>Time``), Diginetica (``sessionId;userId;itemId;timeframe;eventdate``),
RetailRocket (``timestamp,visitorid,event,itemid,transactionid``), or a listening log exported
from a database. A file is read as an event log when its first line, split on a tab, a semicolon,
a comma or spaces (the first that works, in that order), names a session column and an item column.
Names are matched with case, ``_``, ``-``, ``.`` and spaces ignored; where several columns match a
role, the name earlier in its list below wins (Diginetica's ``sessionId`` before its ``userId``):

* session: ``SessionId``, ``session``, ``PlaylistId``, ``playlist``, ``pid``, ``VisitorId``, ``UserId``, ``user``
* item: ``ItemId``, ``item``, ``TrackId``, ``track``, ``track_uri``, ``SongId``, ``song``, ``ProductId``, ``product``
* time (optional): ``Time``, ``timestamp``, ``ts``, ``datetime``, ``timeframe``, ``date``, or a position
  in the session, ``pos`` or ``position`` (what orders the session's items)
* artist (optional): ``ArtistId``, ``artist``, ``artist_uri``, ``artist_name``

The rows of a session need not be adjacent. Sessions keep the order of their first row. Within a
session, items are ordered by time (numbers, or ISO 8601 dates and times; rows with equal times
keep their file order), or by file order where there is no time column. Other columns are ignored.
An item's artist is the first non-empty one its rows name. Fields follow CSV quoting (``csv``).
"""

from __future__ import annotations

import csv
import math
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np

from track2vec.data.playlists import names_array
from track2vec.errors import DataError

DELIMITERS = ("\t", ";", ",", " ")
COLUMN_NAMES: dict[str, tuple[str, ...]] = {
    "session": ("sessionid", "session", "playlistid", "playlist", "pid", "visitorid", "userid", "user"),
    "item": ("itemid", "item", "trackid", "track", "trackuri", "songid", "song", "productid", "product"),
    "time": ("time", "timestamp", "ts", "datetime", "timeframe", "date", "pos", "position"),
    "artist": ("artistid", "artist", "artisturi", "artistname"),
}
EXPECTED = "a header row naming a session and an item column, e.g. SessionId,ItemId,Time"


@dataclass(frozen=True)
class Header:
    """Where an event log's columns are: their 0-based positions (time and artist may be absent)."""

    delimiter: str
    session: int
    item: int
    time: int | None = None
    artist: int | None = None

    @property
    def width(self) -> int:
        """The fewest fields a row must have."""
        return 1 + max(column for column in (self.session, self.item, self.time, self.artist) if column is not None)


def read_header(first_line: str) -> Header | None:
    """The columns named by ``first_line``, or None when it does not name a session and an item column."""
    for delimiter in DELIMITERS:
        if delimiter not in first_line:
            continue
        fields = [_normal(field) for field in next(csv_rows([first_line], delimiter))]
        found = {role: _first_named(fields, names) for role, names in COLUMN_NAMES.items()}
        if found["session"] is not None and found["item"] is not None and found["session"] != found["item"]:
            return Header(delimiter, **found)
    return None


def csv_rows(lines: Iterable[str], delimiter: str):
    """The fields of each line (CSV quoting; a run of spaces is one delimiter, and ", " separates like ",")."""
    return csv.reader(lines, delimiter=delimiter, skipinitialspace=True)


def _normal(name: str) -> str:
    return "".join(character for character in name.lower() if character not in "_-. \ufeff")


def _first_named(fields: list[str], names: tuple[str, ...]) -> int | None:
    for name in names:
        if name in fields:
            return fields.index(name)
    return None


def read_events(rows: Iterable[str], header: Header, spec: str,
                first_row_line: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """The sessions of an event log as ``(tokens, offsets, names, name_artists)`` (see the module's docstring).

    ``rows`` are the lines after the header that ``header`` was read from (any iterable of strings,
    read once, in order, so they may come one at a time); the first is line
    ``first_row_line`` of the file (errors name the file's lines). A field may not span lines.
    """
    sessions, items, artists = {}, {}, {}
    session_of, item_of, times = array("q"), array("i"), array("d")
    for line, row in enumerate(csv_rows(rows, header.delimiter), start=first_row_line):
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if len(row) < header.width:
            raise DataError(f"{spec}: line {line} has {len(row)} fields; the header's columns need {header.width}")
        session, item = row[header.session].strip(), row[header.item].strip()
        if not session or not item:
            raise DataError(f"{spec}: line {line} has an empty {'session' if not session else 'item'}")
        session_of.append(sessions.setdefault(session, len(sessions)))
        item_id = items.setdefault(item, len(items))
        item_of.append(item_id)
        if header.time is not None:
            times.append(_seconds(row[header.time], spec, line))
        if header.artist is not None and item_id not in artists and row[header.artist].strip():
            artists[item_id] = row[header.artist].strip()
    if not items:
        raise DataError(f"{spec}: no rows after the header")
    session_of = np.frombuffer(session_of, dtype=np.int64)
    # Sessions in order of their first row; within one, by time, equal times in file order (lexsort is stable).
    order = (np.lexsort((np.frombuffer(times, dtype=np.float64), session_of)) if header.time is not None
             else np.argsort(session_of, kind="stable"))
    tokens = np.frombuffer(item_of, dtype=np.int32)[order]
    offsets = np.concatenate([[0], np.cumsum(np.bincount(session_of, minlength=len(sessions)))]).astype(np.int64)
    names = names_array(list(items))
    name_artists = None
    if header.artist is not None:
        name_artists = names_array([artists.get(item_id, "") for item_id in range(len(items))])
    return tokens, offsets, names, name_artists


def _seconds(value: str, spec: str, line: int) -> float:
    """A time field as a number: itself when it is one, else seconds since the epoch of an ISO 8601 date and time."""
    value = value.strip()
    try:
        number = float(value)
    except ValueError:
        pass
    else:
        if not math.isfinite(number):
            raise DataError(f"{spec}: line {line}: time {value!r} is not a finite number")
        return number
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise DataError(f"{spec}: line {line}: time {value!r} is neither a number nor an ISO 8601 date") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)  # naive times: one fixed zone, so the order is the file's own
    return moment.timestamp()
