"""The broker's journal: every device message, on disk before the broker acknowledges it.

An append-only SQLite file (`journal.db` in the data folder) in WAL mode. The broker appends (group commits: all
messages that arrived during the previous commit go in the next one) and acknowledges a QoS 1/2 message only once
its commit returned; the hub reads it from its last stored position (kept in the main database, in the same
transaction as the rows made from the messages, see kiosk.store.writer) and tells the broker what may be pruned.
So a PUBACK means "on disk" across kill -9 of either process, a stop at full speed, and a full or locked database:
what was acknowledged and not yet stored is read again at the next start.

`synchronous` decides what "on disk" survives: `full` (the default) syncs every commit to the device, so an
acknowledged message survives a power cut; `normal` survives a crash of either process or of the operating system's
processes, not a power cut (WAL commits not yet checkpointed may be lost); `off` leaves it to the OS.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)
JOURNAL_FILE = "journal.db"
SYNC_LEVELS = ("full", "normal", "off")
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    # AUTOINCREMENT: a sequence number is never used twice, even after every entry was pruned.
    # pid: the MQTT packet id of a QoS 1/2 message, to know a re-sent one (DUP) from a new one.
    "CREATE TABLE IF NOT EXISTS entries (seq INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, "
    "client BLOB NOT NULL, topic BLOB NOT NULL, payload BLOB NOT NULL, pid INTEGER)",
    "CREATE INDEX IF NOT EXISTS entries_by_packet ON entries (client, pid) WHERE pid IS NOT NULL",
)
# A re-sent message (DUP) is compared with the journal's entries of its client from the last this many entries.
DUPLICATE_LOOKBACK = 200_000


@dataclass(frozen=True)
class Entry:
    seq: int
    at: float
    topic: str
    payload: bytes


def connect(path: Path, synchronous: str = "full", timeout_s: float = 5.0) -> sqlite3.Connection:
    """Open (and create) the journal; the file is readable by its owner only."""
    if synchronous not in SYNC_LEVELS:
        raise ValueError(f"journal synchronous must be one of {', '.join(SYNC_LEVELS)}, not {synchronous!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    connection = sqlite3.connect(path, timeout=timeout_s, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute(f"PRAGMA synchronous={synchronous.upper()}")
    for statement in _SCHEMA:
        connection.execute(statement)
    connection.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('id', ?)", (uuid.uuid4().hex,))
    for suffix in ("-wal", "-shm"):
        sidecar = path.with_name(path.name + suffix)
        if sidecar.exists():
            os.chmod(sidecar, 0o600)
    return connection


def open_or_replace(path: Path, synchronous: str = "full") -> sqlite3.Connection:
    """`connect`, and if the file is not a journal SQLite can read (damaged on disk), move it aside with its -wal and
    -shm (`journal.db.damaged-<time>`, kept for a look) and start a new one: a damaged journal must not keep the
    kiosk from starting. What it held and was not stored is lost; the log says so."""
    try:
        connection = connect(path, synchronous)
        connection.execute("SELECT count(*) FROM entries").fetchone()
        return connection
    except sqlite3.DatabaseError as exc:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for suffix in ("", "-wal", "-shm"):
            part = path.with_name(path.name + suffix)
            if part.exists():
                part.rename(path.with_name(f"{path.name}.damaged-{stamp}{suffix}"))
        log.error("the journal %s could not be read (%s): moved aside as %s.damaged-%s; starting a new one", path,
                  exc, path.name, stamp)
        return connect(path, synchronous)


def journal_id(connection: sqlite3.Connection) -> str:
    """This journal file's identity: a new file starts again from sequence 1, so positions are kept per file."""
    return str(connection.execute("SELECT value FROM meta WHERE key = 'id'").fetchone()[0])


@dataclass(frozen=True)
class Message:
    """One message to append. `pid` is its packet id (QoS 1/2); `resent`: it came with the DUP flag."""

    at: float
    client: str
    topic: str
    payload: bytes
    pid: int | None = None
    resent: bool = False


def append(connection: sqlite3.Connection, messages: list[Message]) -> int:
    """One commit; returns how many were re-sent copies of messages already in the journal, and left out.

    A device re-sends a QoS 1/2 message (DUP) when it did not get the acknowledgement: the broker may have died
    after the message was on disk and before the PUBACK went out. Its client's newest entry with the same packet id
    and the same bytes is then that message (packet ids are reused only after the acknowledgement), so it is
    acknowledged again and not journaled twice."""
    connection.execute("BEGIN")
    try:
        fresh = [m for m in messages if not (m.resent and _already(connection, m))]
        connection.executemany("INSERT INTO entries (at, client, topic, payload, pid) VALUES (?, ?, ?, ?, ?)",
                               [(m.at, _blob(m.client), _blob(m.topic), m.payload, m.pid) for m in fresh])
        connection.execute("COMMIT")
        return len(messages) - len(fresh)
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise


def _already(connection: sqlite3.Connection, message: Message) -> bool:
    row = connection.execute(
        "SELECT payload, topic FROM entries WHERE client = ? AND pid = ? AND seq > "
        "(SELECT coalesce(max(seq), 0) FROM entries) - ? ORDER BY seq DESC LIMIT 1",
        (_blob(message.client), message.pid, DUPLICATE_LOOKBACK)).fetchone()
    return row is not None and bytes(row[0]) == message.payload and bytes(row[1]) == _blob(message.topic)


def read_after(connection: sqlite3.Connection, seq: int, limit: int) -> list[Entry]:
    rows = connection.execute("SELECT seq, at, topic, payload FROM entries WHERE seq > ? ORDER BY seq LIMIT ?",
                              (seq, limit)).fetchall()
    return [Entry(s, at, bytes(topic).decode("utf-8", "surrogatepass"), bytes(payload))
            for s, at, topic, payload in rows]


def last_seq(connection: sqlite3.Connection) -> int:
    row = connection.execute("SELECT seq FROM sqlite_sequence WHERE name = 'entries'").fetchone()
    return int(row[0]) if row else 0


def prune(connection: sqlite3.Connection, up_to: int) -> int:
    """Delete entries up to `up_to` (the broker keeps recently stored ones a while to recognise a device's
    re-sent copies, see `append`). Returns how many went."""
    return connection.execute("DELETE FROM entries WHERE seq <= ?", (up_to,)).rowcount


def _blob(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")
