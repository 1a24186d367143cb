"""Commands through the real hub and broker to real paho devices: sent, acknowledged, effect seen; queued for an
offline device and sent when it is back; organisation broadcasts; expiry with injected time; rights and audit."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kiosk.core.commands import CommandState
from kiosk.core.operators import Operator, Role
from kiosk.services.admin import AdminInputError
from kiosk.services.commands import CommandService
from kiosk.store.commands import CommandLog
from kiosk.store.db import open_store
from tests.helpers import OffsetClock, connect, wait_for

ADMIN = Operator("ada", Role.ADMIN)


def online_device(hub: Any, name: str = "ESP32 hall", uptime: float = 3600) -> tuple[Any, Any]:
    info, token = hub.registry.create(name, "esp32", "test")
    hub.device_added(info)
    device = connect(hub.config["broker.port"], info.id, token)
    device.client.subscribe(f"devices/{info.id}/commands", qos=1)
    device.client.subscribe("organizations/default/broadcast", qos=1)
    assert device.suback.wait(3)
    device.publish(f"device/{info.id}/status", json.dumps({"uptime": uptime, "fw": "1.0.0"}))
    wait_for(lambda: (s := hub.ingest.tracker.get(info.id)) is not None and s.uptime_s == uptime)
    return info, device


def state(hub: Any, command_id: str) -> CommandState:
    return next(c.state for c, _ in hub.commands.recent() if c.id == command_id)


def test_a_restart_is_sent_acknowledged_and_done_when_the_device_comes_back(hub: Any) -> None:
    info, device = online_device(hub)
    [command] = hub.commands.send(ADMIN, [info.id], "restart", {"delay_s": 1}, ttl_s=60)
    assert command.state is CommandState.SENT and command.uptime_before == pytest.approx(3600, abs=5)
    wait_for(lambda: device.messages)
    body = json.loads(device.messages[0].payload)
    assert body["id"] == command.id and body["command"] == "restart" and body["parameters"] == {"delay_s": 1}
    device.publish(f"devices/{info.id}/ack", json.dumps({"id": command.id, "ok": True, "detail": "restarting"}))
    wait_for(lambda: state(hub, command.id) is CommandState.ACKNOWLEDGED)
    device.publish(f"device/{info.id}/status", json.dumps({"uptime": 4, "fw": "1.0.0"}))
    wait_for(lambda: state(hub, command.id) is CommandState.DONE)
    done = next(c for c, actor in hub.commands.recent() if c.id == command.id)
    assert [s for _, s, _ in done.history] == ["queued", "sent", "acknowledged", "done"]
    assert hub.ingest.tracker.get(info.id).rejected == 0  # the hub's own publish, heard back, is no rejection
    assert ("ada", "device.command", info.id) in [(a.actor, a.action, a.target) for a in hub.registry.audit()]
    assert hub.commands.open_count() == 0
    device.close()


def test_a_refusal_fails_the_command_with_the_devices_reason(hub: Any) -> None:
    info, device = online_device(hub)
    [command] = hub.commands.send(ADMIN, [info.id], "restart")
    wait_for(lambda: device.messages)
    device.publish(f"devices/{info.id}/ack", json.dumps({"id": command.id, "ok": False, "detail": "flashing"}))
    wait_for(lambda: state(hub, command.id) is CommandState.FAILED)
    assert hub.commands.recent()[0][0].detail == "flashing"
    device.close()


def test_a_command_for_an_offline_device_waits_and_goes_out_when_it_is_back(hub: Any) -> None:
    info, token = hub.registry.create("Sleepy", "esp32", "test")
    hub.device_added(info)
    [command] = hub.commands.send(ADMIN, [info.id], "blink", {"times": 3})
    assert command.state is CommandState.QUEUED
    device = connect(hub.config["broker.port"], info.id, token)
    device.client.subscribe(f"devices/{info.id}/commands", qos=1)
    assert device.suback.wait(3)
    device.publish(f"device/{info.id}/status", json.dumps({"uptime": 10}))
    wait_for(lambda: device.messages)
    assert json.loads(device.messages[0].payload)["id"] == command.id
    # The hub records "sent" once its publish returns, which may be after the device already has it.
    wait_for(lambda: state(hub, command.id) is CommandState.SENT)
    device.publish(f"devices/{info.id}/ack", json.dumps({"id": command.id, "ok": True}))
    wait_for(lambda: state(hub, command.id) is CommandState.DONE)  # no visible effect to wait for
    device.close()


def test_a_broadcast_reaches_the_organisation_and_collects_answers(hub: Any) -> None:
    first, device_a = online_device(hub, "A")
    second, device_b = online_device(hub, "B")
    command = hub.commands.broadcast(ADMIN, "default", "sync_clock", {"tz": "Europe/Vienna"}, ttl_s=30)
    wait_for(lambda: device_a.messages and device_b.messages)
    assert json.loads(device_b.messages[0].payload)["command"] == "sync_clock"
    device_a.publish(f"devices/{first.id}/ack", json.dumps({"id": command.id, "ok": True}))
    wait_for(lambda: state(hub, command.id) is CommandState.ACKNOWLEDGED)
    assert ("ada", "organization.broadcast", "default") in [(a.actor, a.action, a.target)
                                                            for a in hub.registry.audit()]
    device_a.close()
    device_b.close()


def test_staff_and_bad_input_are_refused(hub: Any) -> None:
    info, _token = hub.registry.create("X", "esp32", "test")
    hub.device_added(info)
    with pytest.raises(PermissionError):
        hub.commands.send(Operator("sam", Role.STAFF), [info.id], "restart")
    with pytest.raises(PermissionError):
        hub.commands.broadcast(Operator("sam", Role.STAFF), "default", "restart")
    with pytest.raises(AdminInputError, match="word"):
        hub.commands.send(ADMIN, [info.id], "rm -rf")
    with pytest.raises(AdminInputError, match="JSON object"):
        hub.commands.send(ADMIN, [info.id], "restart", [1, 2])
    with pytest.raises(AdminInputError, match="Not a live device"):
        hub.commands.send(ADMIN, ["no-such-device"], "restart")
    with pytest.raises(AdminInputError, match="time-to-live"):
        hub.commands.send(ADMIN, [info.id], "restart", ttl_s=1)
    assert hub.commands.recent() == []


def test_commands_expire_after_their_time_to_live_and_survive_a_restart(tmp_path: Any) -> None:
    from kiosk.core.devices import DeviceInfo, DeviceTracker

    engine = open_store(f"sqlite:///{tmp_path / 'k.db'}")
    clock = OffsetClock()
    tracker = DeviceTracker(clock, 60)
    tracker.upsert(DeviceInfo("dev-1", "D", "esp32", "default", clock()))
    published: list[str] = []
    audit: list[tuple] = []

    def make() -> CommandService:
        service = CommandService(CommandLog(engine), lambda topic, body: published.append(topic) or True,
                                 tracker.get, lambda *row: audit.append(row), clock)
        service.load()
        return service

    service = make()
    [command] = service.send(ADMIN, ["dev-1"], "restart", ttl_s=60)
    assert command.state is CommandState.QUEUED and published == []  # never seen: offline
    restarted = make()  # the hub restarts: the queued command is still open
    assert restarted.open_count() == 1
    clock.offset += 61
    restarted.tick()
    expired = restarted.recent()[0][0]
    assert expired.state is CommandState.EXPIRED and expired.detail == "the device stayed offline"
    assert restarted.open_count() == 0
    assert audit[0][:3] == ("ada", "device.command", "dev-1")
