"""Stall occupancy end to end: a legacy StallSense board and a registered sensor drive a stall through the hub."""

import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from kiosk.config import Config
from kiosk.core.stalls import SensorRole, StallState
from kiosk.services.hub import Hub
from kiosk.services.stalls import stall_topic
from kiosk.store.devices import legacy_device_id
from tests.helpers import OffsetClock, RecordingEvents, connect, connect_packet, read_packet, wait_for

Clock = OffsetClock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def legacy_hub(config: Config, events: RecordingEvents, clock: Clock) -> Iterator[Hub]:
    hub = Hub(config.with_overrides(stalls__legacy_stallsense=True), events, clock)
    hub.start()
    assert hub.link.connected.wait(5)
    yield hub
    hub.stop()


def shown(events: RecordingEvents, stall_id: int) -> StallState | None:
    with events.lock:
        entry = events.stalls.get(stall_id)
    return entry[1].state if entry else None


def retained_state(hub: Hub, stall_id: int, state: str) -> dict[str, Any]:
    """What a wall display that connects now gets for this stall: the retained state, or (if the hub's publish is
    still on its way through the broker) that state right after it."""
    watcher = connect(hub.config["broker.port"], hub.internal.username, hub.internal.password)
    watcher.subscribe(stall_topic(stall_id), 1)
    try:
        message = wait_for(lambda: next((m for m in watcher.messages if json.loads(m.payload)["state"] == state),
                                        None))
    finally:
        watcher.close()
    return json.loads(message.payload)


def test_a_legacy_board_is_registered_pending_then_drives_its_stall(legacy_hub: Hub, events: RecordingEvents,
                                                                   clock: Clock) -> None:
    port = legacy_hub.config["broker.port"]
    board = connect(port, None, None, client_id="Stall3")  # anonymous, client id = its name, as on the wall
    assert board.rc == 0
    board.subscribe("Stall3/rst", 1)
    assert board.suback.wait(5) and board.granted[0].value == 1
    board.client.publish("Stall3/id", "com.StallSense.DoorSensor", qos=1)
    board.client.publish("Stall3/ip", "10.1.2.3", qos=1)
    board.client.publish("Stall3", "0", qos=1)
    device_id = legacy_device_id("Stall3")
    wait_for(lambda: [(s.device_id, s.model, s.ip) for s in legacy_hub.stall_directory.pending()]
             == [(device_id, "com.StallSense.DoorSensor", "10.1.2.3")])

    room = legacy_hub.stall_directory.add_restroom("West", "G", "admin")
    stall = legacy_hub.stall_directory.add_stall(room, "1", "admin")
    legacy_hub.stall_directory.assign(device_id, stall, SensorRole.DOOR, "admin")
    legacy_hub.stalls_edited()
    assert shown(events, stall) is StallState.NO_SIGNAL  # assigned, not heard from since

    board.client.publish("Stall3", "0", qos=1)
    wait_for(lambda: shown(events, stall) is StallState.VACANT)
    state = retained_state(legacy_hub, stall, "vacant")
    assert (state["restroom"], state["label"], state["floor"]) == ("West", "1", "G")

    clock.offset += 5  # past the debounce time
    board.client.publish("Stall3", "1", qos=1)
    wait_for(lambda: shown(events, stall) is StallState.OCCUPIED)
    assert retained_state(legacy_hub, stall, "occupied")["reason"] == "door closed"

    clock.offset += 40  # more than three missed 10 s reports: the ticker must say so
    wait_for(lambda: shown(events, stall) is StallState.NO_SIGNAL, timeout=3)
    assert retained_state(legacy_hub, stall, "no_signal")["reason"] == "door sensor silent"

    legacy_hub.legacy_boards.reset_wifi(device_id, "admin")
    wait_for(lambda: any(m.topic == "Stall3/rst" and m.payload == b"1" for m in board.messages))
    assert [e.action for e in legacy_hub.registry.audit()][-1] == "stallsense.wifi_reset"
    wait_for(lambda: [s for _t, s, _r in legacy_hub.stall_directory.timeline(stall, 0, clock() + 1)]
             == ["no_signal", "vacant", "occupied", "no_signal"])  # the day's timeline, from stall_events
    board.close()


def test_a_legacy_board_may_use_only_its_own_topics(legacy_hub: Hub) -> None:
    port = legacy_hub.config["broker.port"]
    watcher = connect(port, legacy_hub.internal.username, legacy_hub.internal.password)
    watcher.subscribe("#", 0)
    assert watcher.suback.wait(5)
    board = connect(port, None, None, client_id="Stall4")
    board.subscribe("Stall5/rst", 1)
    assert board.suback.wait(5) and board.granted[0].value == 0x80  # another board's reset: refused
    for topic in ("Stall5", "devices/x/datastream", "kiosk/state/stalls/1"):
        board.client.publish(topic, "1", qos=1)
    board.client.publish("Stall4", "1", qos=1)  # its own: passes, and arrives after the refused ones
    wait_for(lambda: any(m.topic == "Stall4" for m in watcher.messages))
    assert [m.topic for m in watcher.messages if not m.topic.startswith("kiosk/state/")] == ["Stall4"]
    assert not any(m.topic == "kiosk/state/stalls/1" for m in watcher.messages)
    board.close()
    watcher.close()


def test_without_legacy_mode_anonymous_boards_are_refused(hub: Hub) -> None:
    board = connect(hub.config["broker.port"], None, None, client_id="Stall3")
    assert board.rc != 0
    board.close()
    assert hub.stall_directory.pending() == []


def test_a_revoked_legacy_board_can_no_longer_connect(legacy_hub: Hub) -> None:
    port = legacy_hub.config["broker.port"]
    board = connect(port, None, None, client_id="Stall6")
    board.client.publish("Stall6", "0", qos=1)
    device_id = legacy_device_id("Stall6")
    wait_for(lambda: legacy_hub.registry.get(device_id) is not None)
    legacy_hub.registry.revoke(device_id, "admin")
    legacy_hub.device_revoked(device_id)
    assert board.disconnected.wait(5), "the revoked board's live connection was not dropped"
    board.close()
    again = connect(port, None, None, client_id="Stall6")
    assert again.rc != 0
    again.close()


def legacy_login(port: int, name: str, source: str = "127.0.0.1") -> int:
    """A raw anonymous CONNECT from `source` (any 127.x address reaches the loopback broker); the return code."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0))
    try:
        sock.sendall(connect_packet(name))
        return read_packet(sock)[2][1]
    finally:
        sock.close()


def test_legacy_mode_admits_only_so_many_pending_boards(config: Config, events: RecordingEvents) -> None:
    hub = Hub(config.with_overrides(stalls__legacy_stallsense=True, stalls__legacy_max_pending=3), events)
    hub.start()
    try:
        port = hub.config["broker.port"]
        boards = [connect(port, None, None, client_id=f"Cap{n}") for n in range(3)]
        assert all(b.rc == 0 for b in boards)
        assert legacy_login(port, "Cap3") == 5  # a fourth new name, before the first three were even stored
        for board in boards:
            board.client.publish(board.client._client_id.decode(), "0", qos=1).wait_for_publish(5)
        wait_for(lambda: len(hub.stall_directory.pending()) == 3)
        assert legacy_login(port, "Cap4") == 5
        assert legacy_login(port, "Cap0") == 0  # a board that is already pending comes back
        assert wait_for(lambda: hub.broker.stats().refused_logins.get("too many pending boards") == 2)
        room = hub.stall_directory.add_restroom("East", "1", "admin")
        hub.stall_directory.assign(legacy_device_id("Cap1"), hub.stall_directory.add_stall(room, "1", "admin"),
                                   SensorRole.DOOR, "admin")
        assert legacy_login(port, "Cap4") == 0  # one was assigned: there is room for a new one
        for board in boards:
            board.close()
    finally:
        hub.stop()


def test_an_assigned_board_is_admitted_only_from_its_pinned_address(legacy_hub: Hub) -> None:
    port = legacy_hub.config["broker.port"]
    board = connect(port, None, None, client_id="Pin1")
    board.client.publish("Pin1", "0", qos=1).wait_for_publish(5)
    device_id = legacy_device_id("Pin1")
    wait_for(lambda: legacy_hub.registry.get(device_id) is not None)
    assert legacy_login(port, "Pin1", source="127.0.0.2") == 0  # pending boards may move (DHCP)
    room = legacy_hub.stall_directory.add_restroom("West", "G", "admin")
    legacy_hub.stall_directory.assign(device_id, legacy_hub.stall_directory.add_stall(room, "1", "admin"),
                                      SensorRole.DOOR, "admin")
    assert legacy_login(port, "Pin1", source="127.0.0.3") == 0  # the first login after the assignment pins
    assert legacy_login(port, "Pin1", source="127.0.0.4") == 5  # an impostor elsewhere is refused
    assert legacy_login(port, "Pin1", source="127.0.0.3") == 0
    assert wait_for(lambda: legacy_hub.broker.stats().refused_logins.get("board name used from another address"))
    legacy_hub.registry.repair_legacy(device_id, "admin")  # the board really moved
    assert legacy_login(port, "Pin1", source="127.0.0.4") == 0
    assert legacy_login(port, "Pin1", source="127.0.0.3") == 5
    assert [e.action for e in legacy_hub.registry.audit()][-3:] == [
        "device.legacy.pin", "device.legacy.repair", "device.legacy.pin"]
    board.close()


def test_a_registered_sensor_with_a_token_drives_its_stall(legacy_hub: Hub, events: RecordingEvents,
                                                            clock: Clock) -> None:
    hub = legacy_hub  # legacy mode changes nothing for registered sensors; this hub has the movable clock
    info, token = hub.registry.create("Stall sensor W-1", "stall", "admin")
    room = hub.stall_directory.add_restroom("West", "G", "admin")
    stall = hub.stall_directory.add_stall(room, "1", "admin")
    hub.stall_directory.assign(info.id, stall, SensorRole.COMBINED, "admin")
    hub.stalls_edited()
    sensor = connect(hub.config["broker.port"], info.id, token)
    topic = f"devices/{info.id}/datastream"
    sensor.client.publish(topic, json.dumps({"door": "closed", "thermal": True}), qos=1)
    wait_for(lambda: shown(events, stall) is StallState.OCCUPIED)
    clock.offset += 5
    sensor.client.publish(topic, json.dumps({"door": "open", "thermal": False}), qos=1)
    wait_for(lambda: shown(events, stall) is StallState.VACANT)
    clock.offset += 40  # silent for more than three 10 s reports
    wait_for(lambda: shown(events, stall) is StallState.NO_SIGNAL, timeout=3)
    sensor.close()


def test_a_display_login_may_only_read_the_hubs_state(hub: Hub) -> None:
    info, token = hub.registry.create("Lobby display", "display", "admin")
    room = hub.stall_directory.add_restroom("West", "G", "admin")
    stall = hub.stall_directory.add_stall(room, "1", "admin")
    hub.stalls_edited()
    display = connect(hub.config["broker.port"], info.id, token)
    display.subscribe("kiosk/state/stalls/+", 1)
    assert display.suback.wait(5) and display.granted[0].value == 1
    wait_for(lambda: any(m.topic == stall_topic(stall) for m in display.messages))
    display.suback.clear()
    display.subscribe("devices/#", 0)
    assert display.suback.wait(5) and display.granted[0].value == 0x80
    watcher = connect(hub.config["broker.port"], hub.internal.username, hub.internal.password)
    watcher.subscribe("kiosk/state/stalls/+", 1)
    wait_for(lambda: watcher.messages)
    display.client.publish(stall_topic(stall), b'{"state": "vacant"}', qos=1)  # a display cannot fake a state
    display.client.publish("kiosk/state/hub", b"", qos=1)
    hub.stalls_edited()  # something that does publish, to know the refused ones had their chance to arrive
    wait_for(lambda: len(watcher.messages) >= 2)
    assert all(json.loads(m.payload).get("restroom") == "West" for m in watcher.messages)
    display.close()
    watcher.close()


def test_kiosk_device_list_shows_pending_boards_with_type_and_ip(legacy_hub: Hub, tmp_path: Any) -> None:
    import subprocess
    import sys
    from pathlib import Path

    board = connect(legacy_hub.config["broker.port"], None, None, client_id="Stall8")
    board.client.publish("Stall8/id", "com.StallSense.ThermalSensor", qos=1)
    board.client.publish("Stall8/ip", "10.9.8.7", qos=1)
    wait_for(lambda: [(s.model, s.ip) for s in legacy_hub.stall_directory.pending()]
             == [("com.StallSense.ThermalSensor", "10.9.8.7")])
    board.close()
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-m", "kiosk", "--data-dir", str(legacy_hub.config.data_dir),
                             "--config-dir", str(tmp_path / "none"), "device", "list"], cwd=root,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "StallSense boards waiting to be assigned" in result.stdout
    line = next(line for line in result.stdout.splitlines() if line.strip().startswith("Stall8"))
    assert "thermal" in line and "10.9.8.7" in line


def test_a_stall_whose_sensor_was_revoked_names_it(hub: Hub, events: RecordingEvents) -> None:
    info, _ = hub.registry.create("Door W-2", "stall", "test")
    hub.device_added(info)
    room = hub.stall_directory.add_restroom("West", "G", "admin")
    stall = hub.stall_directory.add_stall(room, "2", "admin")
    hub.stall_directory.assign(info.id, stall, SensorRole.DOOR, "admin")
    hub.stalls_edited()
    hub.registry.revoke(info.id, "test")
    hub.device_revoked(info.id)
    view = {v.stall_id: v for v in hub.stalls.board.views(time.time())}[stall]
    assert (view.state, view.reason) == (StallState.NO_SIGNAL, "sensor Door W-2 revoked: assign another")
