"""Messages from real paho devices through the embedded broker into the database and out as events."""

import json
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kiosk.store.models import DeviceRejection, EnergyReading, Telemetry
from tests.helpers import connect, wait_for

READING = {"port": "desk-lamp", "voltage": 230.5, "current": 0.45, "power": 103.73}


def rows(hub: Any, model: Any) -> list[Any]:
    with Session(hub.engine) as session:
        return list(session.scalars(select(model)))


def rejection(hub: Any, device_id: str, reason: str) -> Any:
    with Session(hub.engine) as session:
        return session.get(DeviceRejection, (device_id, reason))


@pytest.fixture
def meter(hub: Any) -> Any:
    info, token = hub.registry.create("Meter 1", "energy", "test")
    device = connect(hub.config["broker.port"], info.id, token)
    device.info = info
    yield device
    device.close()


def test_a_reading_reaches_the_database_and_the_devices_view(hub: Any, events: Any, meter: Any) -> None:
    meter.publish(f"devices/{meter.info.id}/datastream", json.dumps(READING))
    stored = wait_for(lambda: rows(hub, EnergyReading))
    port = hub.energy_store.ports(meter.info.id)[0]  # the channel was new: a port was made for it
    assert (port.channel, port.name) == ("desk-lamp", "Port desk-lamp of Meter 1")
    assert (stored[0].device_id, stored[0].port, stored[0].power) == (meter.info.id, port.id, 103.73)
    snap = wait_for(lambda: events.devices.get(meter.info.id))
    assert snap.received == 1 and snap.online.value == "online"


def test_a_token_inside_a_payload_is_never_stored(hub: Any, meter: Any) -> None:
    meter.publish(f"devices/{meter.info.id}/datastream",
                  json.dumps({"value": "21.5", "token": "old-firmware-secret"}))
    wait_for(lambda: rows(hub, Telemetry))
    hub.writer.flush()
    raw = b"".join(p.read_bytes() for p in hub.config.data_dir.glob("kiosk.db*"))
    assert b"old-firmware-secret" not in raw


@pytest.mark.parametrize(("payload", "reason"), [
    (b"{not json", "not_json"),
    (b"\xff\xfe\x00", "not_json"),
    (b'{"voltage": "high", "current": 1, "power": 1}', "wrong_type"),
    (b'{"voltage": 230, "current": 0.5, "power": 900}', "out_of_range"),
    (b"{" + b" " * 20000 + b"}", "too_large"),
])
def test_bad_payloads_are_counted_and_good_ones_still_kept(hub: Any, events: Any, meter: Any, payload: bytes,
                                                           reason: str) -> None:
    topic = f"devices/{meter.info.id}/datastream"
    meter.publish(topic, payload)
    meter.publish(topic, json.dumps(READING))
    wait_for(lambda: rows(hub, EnergyReading))
    snap = wait_for(lambda: (s := events.devices.get(meter.info.id)) and s.received == 1 and s)
    assert (snap.rejected, snap.last_reject_reason) == (1, reason)
    wait_for(lambda: rejection(hub, meter.info.id, reason))
    assert rejection(hub, meter.info.id, reason).count == 1


def test_unknown_topics_and_unknown_devices_are_rejected(hub: Any, meter: Any) -> None:
    meter.publish(f"devices/{meter.info.id}/weather", b"{}")
    wait_for(lambda: rejection(hub, meter.info.id, "unknown_topic"))
    # An external broker would let an unregistered id through; the hub must still refuse it. (The embedded
    # broker refuses its login; the journal holds only what logged-in devices publish.)
    ghost = "ffffffff-0000-0000-0000-000000000000"
    hub.ingest.handle(f"devices/{ghost}/datastream", json.dumps(READING).encode())
    found = wait_for(lambda: rejection(hub, ghost, "unknown_device"))
    assert "no registered device" in found.last_detail
    assert rows(hub, EnergyReading) == []
    assert hub.ingest.unknown_devices == 1


def test_rejections_are_logged_once_a_minute_per_device_and_reason(hub: Any, meter: Any,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    for _ in range(5):
        meter.publish(f"devices/{meter.info.id}/datastream", b"garbage")
    wait_for(lambda: (r := rejection(hub, meter.info.id, "not_json")) and r.count == 5)
    assert caplog.text.count("rejected message from device") == 1


def test_status_metadata_updates_the_device(hub: Any, events: Any, meter: Any) -> None:
    meter.publish(f"devices/{meter.info.id}/status",
                  json.dumps({"status": "online", "metadata": {"battery": 85, "signal": -45}}))
    snap = wait_for(lambda: (s := events.devices.get(meter.info.id)) and s.battery and s)
    assert (snap.battery, snap.signal) == (85, -45)


def test_the_device_worker_survives_a_broker_restart(hub: Any, meter: Any) -> None:
    hub.broker.stop()
    wait_for(lambda: not hub.link.connected.is_set())
    hub.broker.start()
    assert hub.link.connected.wait(10), "the device worker did not reconnect"
    meter.close()
    again = connect(hub.config["broker.port"], meter.info.id, hub.registry.rotate(meter.info.id, "test"))
    again.publish(f"devices/{meter.info.id}/datastream", json.dumps(READING))
    wait_for(lambda: rows(hub, EnergyReading))
    again.close()


def test_health_reports_broker_database_and_worker(hub: Any) -> None:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{hub.config['http.port']}/api/v1/health", timeout=5) as answer:
        body = json.loads(answer.read())
        assert answer.status == 200
    assert body["status"] == "ok"
    assert body["broker"]["running"] and body["database"]["ok"] and body["device_worker"]["connected"]


def test_metrics_in_prometheus_text_format(hub: Any, meter: Any) -> None:
    import urllib.request

    meter.publish(f"devices/{meter.info.id}/datastream", json.dumps(READING))
    meter.publish(f"devices/{meter.info.id}/datastream", b"{not json")
    wait_for(lambda: hub.ingest.accepted >= 1 and hub.ingest.rejected >= 1)
    connect(hub.config["broker.port"], meter.info.id, "not-the-token-xyz").close()
    wait_for(lambda: hub.broker.stats().refused_logins)
    with urllib.request.urlopen(f"http://127.0.0.1:{hub.config['http.port']}/metrics", timeout=5) as answer:
        assert answer.headers["Content-Type"].startswith("text/plain")
        text = answer.read().decode()
    lines = set(text.splitlines())
    assert "# TYPE kiosk_messages_accepted_total counter" in lines
    assert "kiosk_messages_accepted_total 1" in lines and "kiosk_messages_rejected_total 1" in lines
    assert "kiosk_broker_up 1" in lines and "kiosk_database_up 1" in lines
    assert 'kiosk_broker_refused_logins_total{reason="wrong token"} 1' in lines
    assert 'kiosk_lockers{state="free"} 150' in lines
    assert "not-the-token-xyz" not in text  # reasons, never credentials


def test_rows_are_counted_per_table(hub: Any, meter: Any) -> None:
    for i in range(20):
        meter.publish(f"devices/{meter.info.id}/datastream", json.dumps({"value": i}), qos=0)
    with Session(hub.engine) as session:
        wait_for(lambda: session.scalar(select(func.count()).select_from(Telemetry)) == 20)


def test_every_demo_device_reports_at_once(hub: Any, events: Any) -> None:
    """Demo devices publish their first reading as soon as they are connected, not after their first interval."""
    from kiosk.services.simulator import SimulationPlan, Simulator, provision

    plan = SimulationPlan(stalls=2, meters=1, esp32=1, interval_s=60, stall_report_s=60, heartbeat_s=60)
    devices = provision(hub.registry, hub.config.data_dir, plan, announce=hub.device_added)
    simulator = Simulator(hub.broker_address(), devices, plan)
    simulator.start()
    try:
        wait_for(lambda: all((s := events.devices.get(d.id)) and s.received >= 1 for d in devices), timeout=5)
    finally:
        simulator.stop()
    assert hub.broker.stats().refused_logins == {}


def test_broker_statistics_count_messages_in_and_out(hub: Any, meter: Any) -> None:
    meter.subscribe(f"devices/{meter.info.id}/datastream")  # the hub reads the journal, not a subscription
    before = hub.broker.stats()
    for i in range(5):
        meter.publish(f"devices/{meter.info.id}/datastream", json.dumps({"value": i}))
    wait_for(lambda: hub.broker.stats().messages_in - before.messages_in == 5)
    wait_for(lambda: hub.broker.stats().messages_out - before.messages_out == 5)  # back to the meter
    wait_for(lambda: hub.broker.stats().journal.appended - before.journal.appended == 5)
    stats = hub.broker.stats()
    assert stats.memory_bytes > 10_000_000 and stats.sessions >= 2
    hub.status()
    for i in range(3):
        meter.publish(f"devices/{meter.info.id}/datastream", json.dumps({"value": i}))
    wait_for(lambda: hub.broker.stats().messages_in - stats.messages_in == 3)
    assert hub.status().broker_in_per_s > 0


@pytest.mark.parametrize("channel, payload", [
    ("devices/{id}/datastream", b'{"value": "\\ud800"}'),
    ("device/{id}/status", b'{"uptime": 5, "fw": "1.0\\ud800"}'),
    ("device/{id}/logs", b'{"level": "warn", "message": "\\udfff"}'),
    ("devices/{id}/datastream", b'{"value": ' + b"[" * 1000 + b"]" * 1000 + b"}"),
    ("devices/{id}/datastream", b'{"value": 1' + b"0" * 5000 + b"}"),
])
def test_crafted_text_is_rejected_and_recording_goes_on(hub: Any, meter: Any, channel: str, payload: bytes) -> None:
    """Issue 13: one lone surrogate killed the store writer; from then on every reading was dropped while health
    said ok. Now it is a counted rejection and the readings after it are stored."""
    meter.publish(channel.format(id=meter.info.id), payload)
    for value in range(5):
        meter.publish(f"devices/{meter.info.id}/datastream", json.dumps({"value": value}))
    wait_for(lambda: len(rows(hub, Telemetry)) == 5)
    hub.writer.flush()
    assert hub.writer.health().ok and hub.health()[0]
    with Session(hub.engine) as session:
        reasons = {r.reason for r in session.scalars(select(DeviceRejection))}
    assert reasons & {"not_json", "too_large", "out_of_range"}


def test_a_failure_inside_the_hub_is_counted_once_not_a_traceback_per_message(hub: Any, meter: Any,
                                                                               monkeypatch: Any,
                                                                               caplog: Any) -> None:
    calls = {"n": 0}

    def broken(*_args: Any) -> None:
        calls["n"] += 1
        raise KeyError("a bug")

    monkeypatch.setattr(hub.ingest, "_on_energy", broken)
    for _ in range(5):
        meter.publish(f"devices/{meter.info.id}/datastream", json.dumps(READING))
    meter.publish(f"devices/{meter.info.id}/datastream", json.dumps({"value": 1}))
    wait_for(lambda: rows(hub, Telemetry))
    found = wait_for(lambda: rejection(hub, meter.info.id, "internal_error"))
    wait_for(lambda: rejection(hub, meter.info.id, "internal_error").count == 5)
    assert "KeyError" in found.last_detail and calls["n"] == 5
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(tracebacks) == 1


def test_demo_devices_come_back_after_a_restart_of_the_hub(config: Any, events: Any) -> None:
    """Started once, the demonstration runs again at the next start (its devices went silent and raised no-signal
    notices before), with the same devices, not a second set."""
    from kiosk.services.hub import Hub

    first = Hub(config, events)
    first.start()
    try:
        assert first.demonstration.start()
        demo = {s.id for s in first.ingest.tracker.all() if not s.id.startswith("serial:")}  # boards: on first line
    finally:
        first.stop()
    second = Hub(config, events)
    second.start()
    try:
        assert second.demonstration._simulator is not None  # running again by itself
        wait_for(lambda: any(s.online.value == "online" and s.kind == "stall" for s in second.ingest.tracker.all()),
                 timeout=10)
        assert {s.id for s in second.ingest.tracker.all() if not s.id.startswith("serial:")} == demo
    finally:
        second.stop()


def test_a_revoked_demo_device_stays_revoked_and_is_not_made_twice(hub: Any) -> None:
    """`kiosk simulate` after a revoke made a second "Demo stall 4"; a rotated token made a second device too."""
    from kiosk.services.simulator import SimulationPlan, provision

    plan = SimulationPlan(stalls=2, meters=1, esp32=0, http_meters=0)
    first = {d.name: d for d in provision(hub.registry, hub.config.data_dir, plan)}
    hub.registry.revoke(first["Demo stall 2"].id, "test")
    hub.registry.rotate(first["Demo meter 1"].id, "test")
    again = {d.name: d for d in provision(hub.registry, hub.config.data_dir, plan)}
    assert set(again) == {"Demo stall 1", "Demo meter 1"}  # the revoked one is not simulated
    assert again["Demo meter 1"].id == first["Demo meter 1"].id  # the same device, a new token
    assert hub.registry.check(again["Demo meter 1"].id, again["Demo meter 1"].token).device
    third = {d.name: d for d in provision(hub.registry, hub.config.data_dir, plan)}
    assert third == again
    names = [s.name for s in hub.registry.snapshots(60.0)]
    assert sorted(names) == ["Demo meter 1", "Demo stall 1", "Demo stall 2"]  # one each, the revoked one kept
