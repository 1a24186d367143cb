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
