"""Readings with the device's own time (`ts`), an offline backlog in one message, and readings sent twice
(`seq`): stored at the device's time, judged as history, stored once (issue 13)."""

import json
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kiosk.core.energy import PortStatus
from kiosk.store.models import DeviceRejection, EnergyReading, Telemetry
from tests.helpers import connect, wait_for


@pytest.fixture
def meter(hub: Any) -> Any:
    info, token = hub.registry.create("Meter B", "energy", "test")
    device = connect(hub.config["broker.port"], info.id, token, client_id=info.id)
    device.info, device.token = info, token
    device.port = hub.energy_store.add_port(info.id, "TV", "test")
    yield device
    device.close()


def reading(at: float, power: float, seq: str | None = None) -> dict[str, Any]:
    body = {"voltage": 230.0, "current": round(power / 230.0, 6), "power": power, "ts": round(at, 3)}
    return {**body, "seq": seq} if seq is not None else body


def stored(hub: Any, device_id: str) -> list[float]:
    hub.writer.flush()
    with Session(hub.engine) as session:
        return list(session.scalars(select(EnergyReading.ts).where(EnergyReading.device_id == device_id)
                                    .order_by(EnergyReading.ts)))


def test_a_backlog_is_stored_at_the_devices_times_and_its_phantom_load_noted_as_ended(hub: Any, meter: Any) -> None:
    """A TV left on standby (5 W: should be idle) for 30 min, five hours ago, while the meter was offline, then
    off: the backlog must not raise a live alert for it, nor miss it."""
    start = time.time() - 5 * 3600
    backlog = [reading(start + 30 * n, 5.0, f"b{n}") for n in range(60)]  # 30 min of standby
    backlog += [reading(start + 1800 + 30 * n, 0.0, f"b{60 + n}") for n in range(10)]  # then off
    meter.publish(f"devices/{meter.info.id}/datastream", json.dumps(backlog))
    times = wait_for(lambda: len(s := stored(hub, meter.info.id)) == 70 and s)
    assert times[0] == pytest.approx(start, abs=0.01) and times[-1] == pytest.approx(start + 2070, abs=0.01)
    [notice] = wait_for(lambda: hub.energy_store.notifications(open_only=True))
    assert "reported late" in notice.title and notice.ended_at is not None
    assert notice.ended_at < time.time() - 4 * 3600
    assert hub.energy.states.get(meter.port.id) is None or \
        hub.energy.states[meter.port.id].status is not PortStatus.PHANTOM  # nothing live about it
    hours = hub.energy_store.rollups(meter.port.id, "hour", start - 3600, start + 7200)
    assert sum(b.count for _, b in hours) == 70
    assert sum(b.energy_wh for _, b in hours) == pytest.approx(5.0 * 59 * 30 / 3600, rel=0.01)  # 59 gaps of 30 s


def test_readings_outside_the_window_are_refused_with_the_reason(hub: Any, meter: Any) -> None:
    topic = f"devices/{meter.info.id}/datastream"
    meter.publish(topic, json.dumps(reading(time.time() - 8 * 86400, 5.0)))
    meter.publish(topic, json.dumps(reading(time.time() + 3600, 5.0)))
    meter.publish(topic, json.dumps(reading(time.time(), 5.0)))
    wait_for(lambda: len(stored(hub, meter.info.id)) == 1)
    with Session(hub.engine) as session:
        row = wait_for(lambda: session.get(DeviceRejection, (meter.info.id, "out_of_range")))
        session.refresh(row)
    assert row.count == 2 and "ahead of the kiosk's clock" in row.last_detail


def test_a_reading_sent_twice_is_stored_once(hub: Any, meter: Any) -> None:
    topic = f"devices/{meter.info.id}/datastream"
    now = time.time()
    for _ in range(3):
        meter.publish(topic, json.dumps(reading(now, 5.0, "r-1")))
    meter.publish(topic, json.dumps([reading(now - 10, 5.0, "r-0"), reading(now, 5.0, "r-1")]))
    wait_for(lambda: len(stored(hub, meter.info.id)) == 2)
    wait_for(lambda: hub.ingest.duplicates == 3)
    assert len(stored(hub, meter.info.id)) == 2


def test_the_database_keeps_a_reading_once_even_when_memory_forgot_it(hub: Any) -> None:
    """After a restart the hub no longer remembers recent ids; the unique key still keeps one row."""
    info, token = hub.registry.create("Sensor S", "sensor", "test")
    device = connect(hub.config["broker.port"], info.id, token, client_id=info.id)
    try:
        device.publish(f"devices/{info.id}/datastream", json.dumps({"value": 1, "seq": 41}))
        wait_for(lambda: hub.ingest.accepted >= 1)
        hub.writer.flush()
        hub.ingest._seqs.clear()  # as after a restart
        device.publish(f"devices/{info.id}/datastream", json.dumps({"value": 1, "seq": 41}))
        wait_for(lambda: hub.ingest.accepted >= 2)
        hub.writer.flush()
    finally:
        device.close()
    with Session(hub.engine) as session:
        assert session.scalar(select(func.count()).select_from(Telemetry).where(Telemetry.device_id == info.id)) == 1


def test_a_late_stall_reading_does_not_move_the_stall(hub: Any, monkeypatch: Any) -> None:
    seen: list[Any] = []
    monkeypatch.setattr(hub.ingest, "_on_stall", lambda *args: seen.append(args))
    info, token = hub.registry.create("Door 1", "stall", "test")
    device = connect(hub.config["broker.port"], info.id, token, client_id=info.id)
    try:
        device.publish(f"devices/{info.id}/datastream", json.dumps({"door": "closed", "ts": time.time() - 3600}))
        device.publish(f"devices/{info.id}/datastream", json.dumps({"door": "open"}))
        wait_for(lambda: hub.ingest.accepted == 2)
    finally:
        device.close()
    assert len(seen) == 1 and seen[0][1].door_closed is False  # only the live "open"


def test_http_takes_time_and_id_and_answers_a_retry_as_done(hub: Any) -> None:
    meter_info, token = hub.registry.create("Meter H", "energy", "test")
    port = hub.energy_store.add_port(meter_info.id, "Lamp", "test")
    body = {"deviceToken": token, "portId": port.id, **reading(time.time() - 600, 40.0, "h-1")}

    def post() -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(f"http://127.0.0.1:{hub.config['http.port']}/api/sensor/reading",
                                         data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    status, first = post()
    assert status == 200 and first["data"]["reading"]["ts"] == pytest.approx(body["ts"], abs=0.01)
    status, again = post()
    assert status == 200 and again["duplicate"] is True
    assert stored(hub, meter_info.id) == [pytest.approx(body["ts"], abs=0.01)]


def test_http_answers_200_only_once_the_reading_is_stored(hub: Any, monkeypatch: Any) -> None:
    import sqlite3

    monkeypatch.setattr(hub.http_readings, "stored_within_s", 1.0)
    meter_info, token = hub.registry.create("Meter L", "energy", "test")
    port = hub.energy_store.add_port(meter_info.id, "Lamp", "test")
    body = {"deviceToken": token, "portId": port.id, **reading(time.time(), 40.0, "l-1")}
    blocker = sqlite3.connect(hub.config.data_dir / "kiosk.db", timeout=0)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        status, answer = hub.http_readings.reading(body)
        assert (status, answer["reason"]) == (503, "not_stored_yet")
    finally:
        blocker.rollback()
        blocker.close()
    assert hub.writer.flush(10)
    status, answer = hub.http_readings.reading(body)  # the retry with the same seq: stored once, answered as done
    assert status == 200 and answer["duplicate"] is True
    status, answer = hub.http_readings.reading({**body, **reading(time.time(), 41.0, "l-2")})
    assert status == 200 and answer["message"] == "Sensor reading created successfully"
    assert len(stored(hub, meter_info.id)) == 2


def test_a_backlog_sent_again_after_a_restart_is_not_rolled_up_twice(hub: Any, meter: Any) -> None:
    start = time.time() - 3 * 3600
    backlog = [reading(start + 60 * n, 30.0, f"again-{n}") for n in range(20)]
    meter.publish(f"devices/{meter.info.id}/datastream", json.dumps(backlog))
    wait_for(lambda: len(stored(hub, meter.info.id)) == 20)
    hub.ingest._seqs.clear()  # the hub's memory of recent ids is gone, as after a restart
    meter.publish(f"devices/{meter.info.id}/datastream", json.dumps(backlog))
    wait_for(lambda: hub.ingest.duplicates == 20)
    hub.writer.flush()
    hours = hub.energy_store.rollups(meter.port.id, "hour", start - 3600, start + 7200)
    assert sum(b.count for _, b in hours) == 20 and len(stored(hub, meter.info.id)) == 20
