"""The journal file: appends, reads in order, recognises re-sent copies, prunes, keeps its identity."""

import stat
from pathlib import Path

from kiosk.store import journal
from kiosk.store.journal import Message


def message(n: int, pid: int | None = None, resent: bool = False, client: str = "dev-1") -> Message:
    return Message(float(n), client, f"devices/{client}/datastream", f'{{"value": {n}}}'.encode(), pid, resent)


def test_entries_come_back_in_order_after_a_position(tmp_path: Path) -> None:
    connection = journal.connect(tmp_path / "journal.db")
    journal.append(connection, [message(n, pid=n) for n in range(1, 6)])
    assert journal.last_seq(connection) == 5
    entries = journal.read_after(connection, 2, 10)
    assert [e.seq for e in entries] == [3, 4, 5]
    assert entries[0].payload == b'{"value": 3}' and entries[0].topic == "devices/dev-1/datastream"
    assert entries[0].at == 3.0


def test_a_resent_copy_is_left_out_and_a_new_message_with_an_old_packet_id_is_not(tmp_path: Path) -> None:
    connection = journal.connect(tmp_path / "journal.db")
    journal.append(connection, [message(1, pid=7)])
    assert journal.append(connection, [message(1, pid=7, resent=True)]) == 1  # the same bytes, DUP: a copy
    assert journal.append(connection, [message(2, pid=7, resent=True)]) == 0  # other bytes: a new message
    assert journal.append(connection, [message(1, pid=7)]) == 0  # not DUP: always new
    assert journal.append(connection, [message(1, pid=7, resent=True, client="dev-2")]) == 0  # another client
    assert journal.last_seq(connection) == 4


def test_pruning_never_reuses_a_sequence_number(tmp_path: Path) -> None:
    connection = journal.connect(tmp_path / "journal.db")
    journal.append(connection, [message(n) for n in range(3)])
    assert journal.prune(connection, 3) == 3
    journal.append(connection, [message(9)])
    assert [e.seq for e in journal.read_after(connection, 0, 10)] == [4]


def test_identity_survives_reopening_and_files_are_private(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    first = journal.connect(path)
    identity = journal.journal_id(first)
    journal.append(first, [message(1)])
    second = journal.connect(path, "normal")
    assert journal.journal_id(second) == identity
    assert journal.journal_id(journal.connect(tmp_path / "other.db")) != identity
    for name in ("journal.db", "journal.db-wal", "journal.db-shm"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name


def test_a_damaged_journal_is_moved_aside_and_a_new_one_started(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    path.write_bytes(b"this is not an SQLite file" * 100)
    connection = journal.open_or_replace(path)
    journal.append(connection, [message(1)])
    assert journal.last_seq(connection) == 1
    assert [p.name.split(".damaged-")[0] for p in tmp_path.glob("journal.db.damaged-*")] == ["journal.db"]
