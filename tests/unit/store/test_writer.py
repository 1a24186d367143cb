import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from kiosk.core.devices import DeviceSnapshot, Online
from kiosk.store.db import open_store
from kiosk.store.devices import DeviceRegistry
from kiosk.store.models import Device, DeviceRejection, EnergyReading
from kiosk.store.writer import CommitInfo, StoreWriter


def reading(i: int) -> dict[str, Any]:
    return {"device_id": "d", "port": "p1", "ts": float(i), "voltage": 230.0, "current": 0.4, "power": 92.0}


def count(engine: Any, model: Any) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def engine(tmp_path: Path) -> Any:
    engine = open_store(f"sqlite:///{tmp_path / 'k.db'}")
    yield engine
    engine.dispose()


def test_rows_are_committed_in_batches(engine: Any) -> None:
    commits: list[CommitInfo] = []
    writer = StoreWriter(engine, batch_ms=50, batch_rows=1000)
    writer.on_commit(commits.append)
    writer.start()
    for i in range(1200):
        writer.add("energy", reading(i), mark=float(i))
    assert writer.flush()
    writer.stop()
    assert count(engine, EnergyReading) == 1200
    assert sum(c.rows for c in commits) == 1200
    assert len(commits) < 10  # batched, not one commit per row
    assert sorted(m for c in commits for m in c.marks) == [float(i) for i in range(1200)]


def test_device_state_and_rejections_are_merged(engine: Any) -> None:
    info, _ = DeviceRegistry(engine).create("Meter", "energy", "test")
    writer = StoreWriter(engine, batch_ms=20)
    writer.start()
    snap = DeviceSnapshot(info.id, "Meter", "energy", 5.0, 7, 2, "not_json", "bad", 80, -50, "1.0", "10.0.0.2",
                          Online.ONLINE)
    writer.device_state(snap)
    for _ in range(3):
        writer.rejection("ghost", "unknown_device", "no registered device has id 'ghost'", 9.0)
    assert writer.flush()
    writer.rejection("ghost", "unknown_device", "again", 10.0)
    assert writer.flush()
    writer.stop()
    with Session(engine) as session:
        device = session.get(Device, info.id)
        assert (device.messages_received, device.messages_rejected, device.battery) == (7, 2, 80)
        row = session.get(DeviceRejection, ("ghost", "unknown_device"))
        assert (row.count, row.last_detail) == (4, "again")


def test_a_failing_disk_keeps_every_row_and_recovers(engine: Any) -> None:
    """A commit that fails (disk full) keeps its rows; they are written once the disk recovers."""
    failing = threading.Event()
    failing.set()

    def disk_full(*_args: Any, **_kwargs: Any) -> None:
        if failing.is_set():
            raise OperationalError("INSERT", {}, Exception("database or disk is full"))

    event.listen(engine, "before_cursor_execute", disk_full)
    writer = StoreWriter(engine, batch_ms=10)
    writer.start()
    for i in range(50):
        writer.add("energy", reading(i))
    assert not writer.flush(timeout=0.5)
    health = writer.health()
    assert not health.ok and "disk is full" in health.last_error and health.backlog == 50
    for i in range(50, 60):
        writer.add("energy", reading(i))
    failing.clear()
    assert writer.flush(timeout=15)
    writer.stop()
    event.remove(engine, "before_cursor_execute", disk_full)
    assert writer.health().ok
    with Session(engine) as session:
        stamps = session.scalars(select(EnergyReading.ts).order_by(EnergyReading.id)).all()
    assert stamps == [float(i) for i in range(60)]  # nothing lost, order kept


def test_stop_flushes_what_is_pending(engine: Any) -> None:
    writer = StoreWriter(engine, batch_ms=5000)
    writer.start()
    writer.add("energy", reading(1))
    writer.stop()
    assert count(engine, EnergyReading) == 1


def test_device_state_alone_is_saved_within_a_second_not_per_batch(engine: Any) -> None:
    info, _ = DeviceRegistry(engine).create("Meter", "energy", "test")
    commits: list[CommitInfo] = []
    writer = StoreWriter(engine, batch_ms=10)
    writer.on_commit(commits.append)
    writer.start()
    started = time.monotonic()
    for n in range(1, 21):
        writer.device_state(DeviceSnapshot(info.id, "Meter", "energy", float(n), n, 0, None, None, None, None, None,
                                           None, Online.ONLINE))
        writer.add("energy", reading(n))

    def saved() -> int:
        with Session(engine) as session:
            return session.get(Device, info.id).messages_received

    while saved() != 20 and time.monotonic() - started < 5:
        threading.Event().wait(0.02)
    writer.stop()
    assert saved() == 20
    assert count(engine, EnergyReading) == 20


def telemetry(i: int, text: str | None = None) -> dict[str, Any]:
    return {"device_id": "d", "ts": float(i), "data_id": None, "value_num": None if text else float(i),
            "value_text": text, "urgent": False}


def test_a_poison_row_is_rejected_and_every_other_row_is_stored(engine: Any) -> None:
    """A lone surrogate (valid JSON "\\ud800") cannot be encoded for SQLite: it killed the writer thread, and every
    reading from then on was dropped while health said ok. Now that row alone is rejected on its device."""
    from kiosk.store.models import Telemetry

    writer = StoreWriter(engine, batch_ms=10)
    writer.start()
    for i in range(10):
        writer.add("telemetry", telemetry(i))
    writer.add("telemetry", {**telemetry(99, "bad \ud800 text"), "device_id": "poisoner"})
    writer.add("log", {"device_id": "poisoner", "ts": 1.0, "level": "info", "text": "also \udfff bad"})
    assert writer.flush()
    for i in range(10, 20):
        writer.add("telemetry", telemetry(i))
    assert writer.flush()
    health = writer.health()
    writer.stop()
    assert health.ok and health.alive and health.poison_rows == 2
    with Session(engine) as session:
        values = session.scalars(select(Telemetry.value_num).order_by(Telemetry.id)).all()
        rejection = session.get(DeviceRejection, ("poisoner", "cannot_store"))
    assert values == [float(i) for i in range(20)]
    assert rejection is not None and rejection.count == 2 and "surrogate" in rejection.last_detail


def test_a_poison_device_state_does_not_stop_readings(engine: Any) -> None:
    info, _ = DeviceRegistry(engine).create("Board", "esp32", "test")
    writer = StoreWriter(engine, batch_ms=10)
    writer.start()
    writer.device_state(DeviceSnapshot(info.id, "Board", "esp32", 5.0, 1, 0, None, None, None, None, "fw\ud800",
                                       None, Online.ONLINE))
    writer.add("energy", reading(1))
    assert writer.flush()
    writer.stop()
    assert count(engine, EnergyReading) == 1
    with Session(engine) as session:
        assert session.get(DeviceRejection, (info.id, "cannot_store")).count == 1


def test_an_unexpected_error_is_survived_and_seen_in_health(engine: Any, monkeypatch: Any) -> None:
    writer = StoreWriter(engine, batch_ms=10)
    real = StoreWriter._write
    calls = {"n": 0}

    def broken_once(self: StoreWriter, *args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("a bug in the writer")
        real(self, *args, **kwargs)

    monkeypatch.setattr(StoreWriter, "_write", broken_once)
    writer.start()
    writer.add("energy", reading(1))
    deadline = time.monotonic() + 5
    while writer.health().ok and time.monotonic() < deadline:
        threading.Event().wait(0.01)
    health = writer.health()
    assert not health.ok and "a bug in the writer" in health.last_error and health.alive
    assert writer.flush(timeout=5)
    writer.stop()
    assert count(engine, EnergyReading) == 1


def test_backoff_is_not_cut_short_by_new_rows(engine: Any) -> None:
    """A full disk was retried for every add(): 602-714 commits in 61 s at 90 % of a core."""
    attempts = {"n": 0}

    def disk_full(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("INSERT INTO energy_readings"):
            attempts["n"] += 1
            raise OperationalError("INSERT", {}, Exception("database or disk is full"))

    event.listen(engine, "before_cursor_execute", disk_full)
    writer = StoreWriter(engine, batch_ms=5)
    writer.start()
    started = time.monotonic()
    i = 0
    while time.monotonic() - started < 2.0:
        writer.add("energy", reading(i))
        i += 1
        if i % 50 == 0:
            threading.Event().wait(0.005)
    health = writer.health()
    event.remove(engine, "before_cursor_execute", disk_full)
    assert writer.flush(timeout=15)
    writer.stop()
    # 0.5 s, then 1 s, then 2 s: at most 3 attempts in 2 s (plus the first), however many rows arrive.
    assert attempts["n"] <= 4, attempts
    assert not health.ok and health.backlog >= i - 1
    assert count(engine, EnergyReading) == i


def test_a_locked_database_makes_health_degraded_while_the_commit_waits(engine: Any, tmp_path: Path) -> None:
    import sqlite3

    blocker = sqlite3.connect(tmp_path / "k.db", timeout=0)
    blocker.execute("BEGIN IMMEDIATE")
    writer = StoreWriter(engine, batch_ms=5)
    writer.start()
    try:
        writer.add("energy", reading(1))
        deadline = time.monotonic() + 4
        while writer.health().ok and time.monotonic() < deadline:
            threading.Event().wait(0.05)
        health = writer.health()
        assert not health.ok and "waiting" in health.last_error and health.backlog == 1
    finally:
        blocker.rollback()
        blocker.close()
    assert writer.flush(timeout=15)
    writer.stop()
    assert writer.health().ok and count(engine, EnergyReading) == 1


def test_a_source_position_is_stored_with_its_rows(engine: Any) -> None:
    from kiosk.store.writer import read_cursor

    failing = threading.Event()
    failing.set()

    def disk_full(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if failing.is_set() and statement.startswith("INSERT"):
            raise OperationalError("INSERT", {}, Exception("database or disk is full"))

    writer = StoreWriter(engine, batch_ms=5)
    writer.start()
    with writer.handover():
        writer.add("energy", reading(1))
        writer.consumed("journal:x", 7)
    assert writer.flush()
    assert read_cursor(engine, "journal:x") == 7
    event.listen(engine, "before_cursor_execute", disk_full)
    with writer.handover():
        writer.add("energy", reading(2))
        writer.consumed("journal:x", 8)
    assert not writer.flush(timeout=0.3)
    assert read_cursor(engine, "journal:x") == 7  # neither the row nor the position
    failing.clear()
    event.remove(engine, "before_cursor_execute", disk_full)
    assert writer.flush(timeout=15)
    writer.stop()
    assert read_cursor(engine, "journal:x") == 8 and count(engine, EnergyReading) == 2
