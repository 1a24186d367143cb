"""Energy readings through the hub: MQTT and HTTP into ports, raw rows, rollups, port status and phantom alerts."""

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from kiosk.config import Config
from kiosk.services.energy import NOTIFICATIONS_TOPIC, PORT_STATE_PREFIX
from kiosk.services.hub import Hub
from tests.helpers import OffsetClock, RecordingEvents, connect, wait_for

Clock = OffsetClock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def energy_hub(config: Config, events: RecordingEvents, clock: Clock) -> Any:
    hub = Hub(config, events, clock)
    hub.start()
    assert hub.link.connected.wait(5)
    yield hub
    hub.stop()


def post(hub: Any, body: Any) -> tuple[int, dict[str, Any]]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{hub.config['http.port']}/api/sensor/reading", data=data,
                                     headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_http_readings_answer_as_the_contract_says(energy_hub: Any) -> None:
    meter, token = energy_hub.registry.create("Meter A", "energy", "test")
    other, other_token = energy_hub.registry.create("Meter B", "energy", "test")
    lamp = energy_hub.energy_store.add_port(meter.id, "Desk lamp", "test")
    theirs = energy_hub.energy_store.add_port(other.id, "Kettle", "test")
    good = {"deviceToken": token, "portId": lamp.id, "voltage": 230.5, "current": 0.45, "power": 103.73}
    status, answer = post(energy_hub, good)
    assert status == 200 and answer["success"] is True
    assert answer["data"]["reading"]["power"] == 103.73 and answer["data"]["reading"]["portId"] == lamp.id
    assert answer["data"]["phantomDetected"] is False and answer["data"]["portStatus"] == "active"
    assert post(energy_hub, {**good, "deviceToken": "nope"})[0] == 401
    assert post(energy_hub, {k: v for k, v in good.items() if k != "deviceToken"})[0] == 401
    status, answer = post(energy_hub, {**good, "portId": theirs.id})  # another device's port
    assert status == 404 and "no port" in answer["message"]
    assert post(energy_hub, {**good, "portId": "no-such-port"})[0] == 404
    status, answer = post(energy_hub, {**good, "power": 500.0})
    assert status == 400 and "disagrees with voltage x current" in answer["message"]
    assert post(energy_hub, {**good, "voltage": "NaN"})[0] == 400
    assert post(energy_hub, b"{not json")[0] == 400
    assert post(energy_hub, [1, 2])[0] == 400
    # Crafted JSON answered 500 with a traceback in the log (issue 13): now a 400 that says why.
    for crafted, reason in ((b'{"voltage": 1' + b"0" * 5000 + b"}", "out_of_range"),
                            (b"[" * 2000 + b"]" * 2000, "too_large"), (b'{"deviceToken": "\\ud800"}', "not_json")):
        status, answer = post(energy_hub, crafted)
        assert (status, answer["reason"]) == (400, reason), answer
    assert post(energy_hub, {**good, "deviceToken": other_token})[0] == 404  # a valid token, not this port's owner
    energy_hub.registry.revoke(meter.id, "test")
    assert post(energy_hub, good)[0] == 401
    energy_hub.writer.flush()
    assert [p for _, p in energy_hub.energy_store.readings(lamp.id, 0, 4e9)] == [103.73]  # only the good one


def test_mqtt_readings_keep_rollups_and_a_standby_load_raises_one_alert(energy_hub: Any, clock: Clock) -> None:
    meter, token = energy_hub.registry.create("Meter A", "energy", "test")
    tv = energy_hub.energy_store.add_port(meter.id, "TV", "test", channel="1")
    watcher = connect(energy_hub.config["broker.port"], energy_hub.internal.username, energy_hub.internal.password)
    watcher.subscribe(NOTIFICATIONS_TOPIC, 1)
    watcher.subscribe(f"{PORT_STATE_PREFIX}/{tv.id}", 1)
    device = connect(energy_hub.config["broker.port"], meter.id, token)
    try:
        topic = f"devices/{meter.id}/datastream"
        device.publish(topic, json.dumps({"port": "1", "voltage": 230.0, "current": 0.35, "power": 80.5}))
        wait_for(lambda: energy_hub.energy.states.get(tv.id) and energy_hub.energy.states[tv.id].status.value
                 == "active")
        # Standby: 4 W, one reading every 30 s (the hub's clock jumps), for 20 minutes.
        for _ in range(41):
            clock.offset += 30
            device.publish(topic, json.dumps({"port": "1", "voltage": 230.0, "current": 0.0174, "power": 4.0}))
            wait_for(lambda: energy_hub.energy._last_at.get(tv.id, 0) >= clock() - 1)
        alert = wait_for(lambda: next((json.loads(m.payload) for m in watcher.messages
                                       if m.topic == NOTIFICATIONS_TOPIC), None))
        assert alert["kind"] == "phantom" and alert["port"] == tv.id and alert["watts"] == pytest.approx(4.0)
        assert alert["monthly_cost"] == pytest.approx(4.0 / 1000 * 24 * 30.44 * 0.15, rel=0.01)
        notes = energy_hub.energy_store.notifications()
        assert len(notes) == 1 and notes[0].title == "Phantom load on TV: 4.0 W"
        states = [json.loads(m.payload)["status"] for m in watcher.messages if m.topic.startswith(PORT_STATE_PREFIX)]
        assert states[0] == "active" and states[-1] == "phantom"
        energy_hub.writer.flush()
        minutes = energy_hub.energy_store.rollups(tv.id, "minute", 0, 4e9)
        assert sum(b.count for _, b in minutes) == 42
        day_wh = sum(b.energy_wh for _, b in energy_hub.energy_store.rollups(tv.id, "day", 0, 4e9))
        assert day_wh == pytest.approx(4.0 * 41 * 30 / 3600, rel=0.05)  # 41 gaps of 30 s at 4 W
        energy_hub.energy_store.acknowledge(notes[0].id, "admin")
        assert energy_hub.energy_store.notifications() == []
    finally:
        device.close()
        watcher.close()


def test_the_simulator_covers_mqtt_a_virtual_usb_board_and_http(energy_hub: Any) -> None:
    from kiosk.services.simulator import SimulationPlan, build_simulator

    energy_hub.serial._scan_every_s = 0.2
    plan = SimulationPlan(stalls=0, meters=1, ports_per_meter=2, esp32=0, interval_s=0.3, serial_boards=1,
                          http_meters=1)
    simulator, devices = build_simulator(energy_hub.registry, energy_hub.config.data_dir,
                                         energy_hub.broker_address(), energy_hub.http.port, plan,
                                         announce=energy_hub.device_added)
    simulator.start()
    try:
        def readings_of(device_id: str) -> int:
            energy_hub.writer.flush()
            return sum(len(energy_hub.energy_store.readings(p.id, 0, 4e9))
                       for p in energy_hub.energy_store.ports(device_id))

        mqtt_meter = next(d for d in devices if d.name == "Demo meter 1")
        http_meter = next(d for d in devices if d.name == "Demo HTTP meter 1")
        wait_for(lambda: readings_of(mqtt_meter.id) >= 2 and readings_of(http_meter.id) >= 1
                 and readings_of("serial:sim-board-1") >= 2, timeout=10)
        assert {p.channel for p in energy_hub.energy_store.ports("serial:sim-board-1")} == {"1", "2"}
        assert [p.name for p in energy_hub.energy_store.ports(http_meter.id)] == ["Printer"]
    finally:
        simulator.stop()
    assert not (energy_hub.config.data_dir / "serial" / "sim-board-1").exists()  # the virtual board is unplugged


def test_an_uncalibrated_port_learns_its_noise_floor_from_its_low_readings(energy_hub: Any, clock: Clock) -> None:
    """60 low readings make the first estimate (a deque of readings once broke it: every reading then failed)."""
    import random

    from kiosk.protocol.payloads import EnergyReading

    meter, _ = energy_hub.registry.create("Meter A", "energy", "test")
    port = energy_hub.energy_store.add_port(meter.id, "Kettle", "test")
    rng = random.Random(5)
    start = clock()
    for n in range(400):
        power = max(0.0, rng.gauss(0.8, 0.6))
        clock.offset += 1.0  # live readings, one a second
        energy_hub.energy.reading(meter.id, EnergyReading(None, 230.0, power / 230.0, power), start + n)
    detector = energy_hub.energy._detectors[port.id]
    assert detector.rules.noise_floor_w == pytest.approx(3 * 0.6, rel=0.25)
    assert energy_hub.energy_store.notifications() == []  # sensor noise is not a phantom load
    energy_hub.energy._ports_marker = -1  # as if a port was edited: the rules are re-read, the learned floor kept
    assert energy_hub.energy.reload_ports_if_edited()
    assert detector.rules.noise_floor_w == pytest.approx(3 * 0.6, rel=0.25)
