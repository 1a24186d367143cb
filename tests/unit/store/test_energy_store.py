"""Ports, rollups, calibration and notifications on a real SQLite file."""

from pathlib import Path

import pytest
from sqlalchemy import insert

from kiosk.core.energy import Bucket
from kiosk.store.db import open_store
from kiosk.store.devices import DeviceRegistry
from kiosk.store.energy import EnergyStore, PortError, upsert_rollups
from kiosk.store.models import EnergyReading


class Clock:
    now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def setup(tmp_path: Path) -> tuple[EnergyStore, str, Clock]:
    engine = open_store(f"sqlite:///{tmp_path / 'k.db'}")
    info, _ = DeviceRegistry(engine).create("Meter A", "energy", "test")
    clock = Clock()
    return EnergyStore(engine, clock), info.id, clock


def test_ports_are_added_with_clear_refusals(setup: tuple[EnergyStore, str, Clock]) -> None:
    store, device, _ = setup
    lamp = store.add_port(device, "Desk lamp", "admin", channel="1", schedule="mon-fri 08:00-21:00")
    assert store.ports(device) == [lamp] and lamp.rules().schedule.hours
    for args, message in (((device, " ", "admin"), "needs a name"), (("nope", "X", "admin"), "no device"),
                          ((device, "Desk lamp", "admin"), "already has a port called"),
                          ((device, "Other", "admin", "1"), "already has a port on channel"),
                          ((device, "Other", "admin", None, 10.0, "weekdays"), "schedule")):
        with pytest.raises(PortError, match=message):
            store.add_port(*args)


def test_readings_find_their_port_and_new_channels_get_one(setup: tuple[EnergyStore, str, Clock]) -> None:
    store, device, _ = setup
    only = store.add_port(device, "Kettle", "admin")
    assert store.resolve(device, None) == only  # no channel: the only port
    assert store.resolve(device, only.id) == only  # by port id
    second = store.resolve(device, "2")
    assert second.name == "Port 2 of Meter A" and second.channel == "2"
    assert store.resolve(device, "2") == second and len(store.ports(device)) == 2


def test_rollups_merge_min_max_sum_and_energy(setup: tuple[EnergyStore, str, Clock]) -> None:
    store, device, _ = setup
    port = store.add_port(device, "Lamp", "admin")
    key = (port.id, "minute", 60.0)
    for bucket in (Bucket(2, 5.0, 9.0, 14.0, 0.1), Bucket(1, 3.0, 3.0, 3.0, 0.05)):
        with store._engine.begin() as connection:
            upsert_rollups(connection, {key: bucket})
    [(start, merged)] = store.rollups(port.id, "minute", 0, 1000)
    assert (start, merged.count, merged.minimum, merged.maximum, merged.total) == (60.0, 3, 3.0, 9.0, 17.0)
    assert merged.energy_wh == pytest.approx(0.15)


def test_calibration_from_the_last_minutes_and_a_running_hub_notices(setup: tuple[EnergyStore, str, Clock]) -> None:
    store, device, clock = setup
    port = store.add_port(device, "Lamp", "admin")
    marker = store.ports_marker()
    with pytest.raises(PortError, match="at least 10 readings"):
        store.calibrate(port.id, 10, "admin")
    with store._engine.begin() as connection:
        connection.execute(insert(EnergyReading), [
            {"device_id": device, "port": port.id, "ts": clock.now - 300 + i, "voltage": 230.0, "current": 0.0,
             "power": 0.5 + 0.1 * (i % 3)} for i in range(60)])
    floor = store.calibrate(port.id, 10, "admin")
    assert floor == pytest.approx(0.6 + 3 * 0.0816, abs=0.01)
    assert store.port(port.id).noise_floor_w == floor and store.ports_marker() > marker


def test_notifications_until_acknowledged(setup: tuple[EnergyStore, str, Clock]) -> None:
    store, _, _ = setup
    first = store.notify("phantom", "port-1", "Phantom load on TV: 4.0 W", "...", 4.0, 900, 0.44)
    store.update_notification(first, 1800, 4.1, 0.45, ended_at=Clock.now)
    assert store.open_count() == 1 and store.notifications()[0].duration_s == 1800
    store.acknowledge(first, "admin")
    assert store.open_count() == 0 and store.notifications(open_only=False)[0].acknowledged_by == "admin"
    with pytest.raises(LookupError):
        store.acknowledge(999, "admin")


def test_retention_deletes_old_raw_readings_and_minute_rollups_only(setup: tuple[EnergyStore, str, Clock]) -> None:
    store, device, clock = setup
    port = store.add_port(device, "Lamp", "admin")
    old, recent = clock.now - 100 * 86400, clock.now - 86400
    with store._engine.begin() as connection:
        connection.execute(insert(EnergyReading), [
            {"device_id": device, "port": port.id, "ts": at + i, "voltage": 230.0, "current": 0.1, "power": 23.0}
            for at in (old, recent) for i in range(25)])
        upsert_rollups(connection, {(port.id, tier, at): Bucket(1, 1.0, 1.0, 1.0, 1.0)
                                    for tier in ("minute", "hour", "day") for at in (old, recent)})
    pauses: list[int] = []
    raw, minutes = store.prune(clock.now - 90 * 86400, clock.now - 30 * 86400, chunk=10,
                               pause=lambda: pauses.append(1))
    assert (raw, minutes) == (25, 1) and len(pauses) == 2  # 25 rows in chunks of 10: two pauses between
    assert [at for at, _ in store.readings(port.id, 0, 4e9)] == [recent + i for i in range(25)]
    assert [s for s, _ in store.rollups(port.id, "minute", 0, 4e9)] == [recent]
    assert [s for s, _ in store.rollups(port.id, "hour", 0, 4e9)] == [old, recent]  # kept forever
    assert store.prune(None, None) == (0, 0)


def test_editing_a_port_is_checked_and_audited(setup: tuple[EnergyStore, str, Clock]) -> None:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from kiosk.store.models import AuditEntry

    store, device, _ = setup
    port = store.add_port(device, "Lamp", "admin")
    edited = store.edit_port(port.id, "admin", active_w=25.0, schedule="sat-sun 10:00-17:00", phantom_after_s=600)
    assert (edited.name, edited.active_w, edited.phantom_after_s) == ("Lamp", 25.0, 600)
    assert edited.rules().schedule.hours[5] and store.port(port.id) == edited
    for kwargs, message in (({"name": " "}, "needs a name"), ({"active_w": 0}, "above 0 W"),
                            ({"schedule": "daily"}, "schedule"), ({"phantom_after_s": 5}, "at least a minute")):
        with pytest.raises(PortError, match=message):
            store.edit_port(port.id, "admin", **kwargs)
    with pytest.raises(PortError, match="no port"):
        store.edit_port("nope", "admin", name="X")
    with Session(store._engine) as session:
        detail = session.scalar(select(AuditEntry.detail).where(AuditEntry.action == "port.edit"))
    assert detail == 'active_w 10.0 -> 25.0, schedule not set -> "sat-sun 10:00-17:00", phantom_after_s 900.0 -> 600'


def test_the_baseline_is_the_same_percentile_sqlite_finds_as_the_core_computes(
        setup: tuple[EnergyStore, str, Clock]) -> None:
    import random

    from kiosk.core.energy import baseline

    store, device, _ = setup
    port = store.add_port(device, "TV", "admin")
    rng = random.Random(2)
    buckets = {(port.id, "minute", 60.0 * n): Bucket(60, 1.0, 9.0, 60 * rng.uniform(3, 120), 1.0)
               for n in range(500)}
    with store._engine.begin() as connection:
        upsert_rollups(connection, buckets)
    means = [b.total / b.count for b in buckets.values()]
    assert store.baseline_w(port.id, 0, 1e9) == pytest.approx(baseline(means))
    assert store.baseline_w(port.id, 1e9, 2e9) is None
