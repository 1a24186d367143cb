"""The Admin tab's operations through the real HTTP server of a real hub (kiosk.client.admin.RemoteAdmin): devices
and tokens that really log in to the broker, commands a device really receives, firmware stored and rolled out,
settings applied, operators, the audit log, and device changes and the status pushed on the event stream."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from kiosk.client.admin import RemoteAdmin
from kiosk.client.events import EventStream
from kiosk.client.http import ApiClient
from kiosk.client.session import RemoteOperators
from kiosk.core.devices import DeviceSnapshot
from kiosk.core.operators import Operator, Role
from kiosk.core.status import HubStatus
from kiosk.protocol.answers import DeviceChanges
from kiosk.protocol.api import from_wire
from kiosk.services.api.access import local_station_token
from kiosk.services.hub import Hub
from kiosk.store.operators import OperatorDirectory
from tests.helpers import connect, wait_for

ESP32_IMAGE = bytes([0xE9]) + bytes(range(256)) * 300  # starts like an ESP32 application image


def logs_in(hub: Hub, device_id: str, token: str) -> bool:
    device = connect(hub.config["broker.port"], device_id, token)
    try:
        return device.rc == 0
    finally:
        device.close()


@pytest.fixture
def station(hub: Hub) -> ApiClient:
    token = local_station_token(hub.config.data_dir, create=False)
    assert token
    client = ApiClient(f"http://127.0.0.1:{hub.config['http.port']}", token)
    yield client
    client.close()


@pytest.fixture
def admin(hub: Hub, station: ApiClient) -> RemoteAdmin:
    directory = OperatorDirectory(hub.engine)
    directory.add("root", Role.ADMIN, "correct horse", None)
    directory.add("sam", Role.STAFF, "staff pass", Operator("root", Role.ADMIN))
    RemoteOperators(station).sign_in("root", "correct horse")
    return RemoteAdmin(station)


def test_a_device_made_over_the_api_logs_in_and_its_token_lifecycle_is_enforced(hub: Hub,
                                                                                admin: RemoteAdmin) -> None:
    made = admin.create_device("Stall W-2", "esp32", None)
    assert made.info.name == "Stall W-2" and made.token and made.broker_port == hub.config["broker.port"]
    assert json.loads(made.qr_text())["deviceId"] == made.info.id
    assert json.loads(admin.provisioning_text(made.info.id, made.token))["token"] == made.token
    assert logs_in(hub, made.info.id, made.token), "the token the API handed out logs in"
    assert made.info.id in {snap.id for snap in admin.devices()}
    new_token = admin.rotate(made.info.id, None, "lost label")
    assert new_token != made.token
    assert not logs_in(hub, made.info.id, made.token), "the old token stops working"
    assert logs_in(hub, made.info.id, new_token)
    admin.set_expiry(made.info.id, hub.clock() + 86400)
    assert admin.token_expiry(made.info.id) == pytest.approx(hub.clock() + 86400, abs=5)
    admin.revoke(made.info.id, "stolen")
    assert not logs_in(hub, made.info.id, new_token)
    assert admin.delete_device(made.info.id, keep_history=False, reason="gone") >= 0
    assert made.info.id not in {snap.id for snap in admin.devices()}
    with pytest.raises(LookupError):
        admin.rotate(made.info.id, None)
    actions = [row[2] for row in admin.audit("Stall W-2")] + [row[2] for row in admin.audit()]
    assert {"device.create", "device.token.rotate", "device.token.expiry", "device.revoke"} <= set(actions)
    assert not any(made.token in " ".join(map(str, row)) or new_token in " ".join(map(str, row))
                   for row in admin.audit(limit=2000)), "a token never reaches the audit log"


def test_bad_input_and_a_staff_session_are_refused_in_words(hub: Hub, station: ApiClient,
                                                            admin: RemoteAdmin) -> None:
    with pytest.raises(ValueError, match="name people will recognise"):
        admin.create_device("   ", "esp32", None)
    with pytest.raises(ValueError, match="kind must be one of"):
        admin.create_device("X", "toaster", None)
    with pytest.raises(ValueError, match="word like restart"):
        info, _ = hub.registry.create("Y", "esp32", "test")
        hub.device_added(info)
        admin.send_command([info.id], "rm -rf", None, 60)
    with pytest.raises(ValueError, match="cannot be changed while the kiosk runs"):
        admin.change_settings({"broker.port": 1})
    operators = RemoteOperators(station)
    operators.sign_out()
    with pytest.raises(PermissionError, match="admin tab is locked"):
        admin.operators()
    operators.sign_in("sam", "staff pass")
    with pytest.raises(PermissionError, match="sam is a staff account"):
        admin.create_device("Z", "esp32", None)
    assert any(row[1] == "sam" and row[2] == "api.refused" for row in hub.registry.audit_page("", 100))


def test_a_command_reaches_the_device_and_its_answer_is_recorded(hub: Hub, admin: RemoteAdmin) -> None:
    made = admin.create_device("Blinky", "esp32", None)
    device = connect(hub.config["broker.port"], made.info.id, made.token)
    device.subscribe(f"devices/{made.info.id}/commands", qos=1)
    device.publish(f"device/{made.info.id}/status", json.dumps({"uptime": 5}))
    wait_for(lambda: any(s.id == made.info.id and s.online.value == "online" for s in admin.devices()))
    [sent] = admin.send_command([made.info.id], "blink", {"times": 2}, 60)
    wait_for(lambda: device.messages)
    order = json.loads(device.messages[0].payload)
    assert order["id"] == sent.id and order["parameters"] == {"times": 2}
    device.publish(f"devices/{made.info.id}/ack", json.dumps({"id": sent.id, "ok": True}))
    wait_for(lambda: any(c.id == sent.id and c.state.value == "done" for c, _ in admin.commands()))
    assert [actor for c, actor in admin.commands() if c.id == sent.id] == ["root"]
    assert "default" in admin.organizations()
    device.close()


def test_firmware_is_uploaded_signed_and_rolled_out(hub: Hub, admin: RemoteAdmin) -> None:
    image = admin.upload_firmware("esp32", "2.0.0", "stall-2.0.0.bin", ESP32_IMAGE)
    assert image.size == len(ESP32_IMAGE) and image.uploaded_by == "root" and len(image.sha256) == 64
    assert len(admin.public_key()) == 64
    assert [i.id for i in admin.firmware_images()] == [image.id]
    with pytest.raises(ValueError, match="not an ESP32 application image"):
        admin.upload_firmware("esp32", "2.0.1", "x.bin", b"\x00" * 10)
    made = admin.create_device("Old", "esp32", None)
    device = connect(hub.config["broker.port"], made.info.id, made.token)
    device.publish(f"device/{made.info.id}/status", json.dumps({"fw": "1.0.0", "uptime": 3}))
    wait_for(lambda: [s.id for s in admin.out_of_date(image)] == [made.info.id])
    [job] = admin.start_update(image.id, None)
    assert job.device_id == made.info.id and job.version == "2.0.0"
    assert [row[0].id for row in admin.update_jobs()] == [job.id]
    with pytest.raises(ValueError, match="being updated"):
        admin.start_update(image.id, None)
    with pytest.raises(ValueError, match="wait until the rollout ends"):
        admin.delete_firmware(image.id)
    device.close()
    spare = admin.upload_firmware("esp32", "2.1.0", "stall-2.1.0.bin", ESP32_IMAGE + b"\x01")
    admin.delete_firmware(spare.id)
    with pytest.raises(LookupError):
        admin.delete_firmware(spare.id)


def test_a_firmware_image_over_the_limit_is_refused_before_it_is_read(hub: Hub, station: ApiClient,
                                                                      admin: RemoteAdmin) -> None:
    from kiosk.core.ota import MAX_IMAGE_BYTES

    with pytest.raises(ValueError, match="larger than the hub accepts"):
        admin.upload_firmware("esp32", "9.0.0", "huge.bin", bytes([0xE9]) + b"\x00" * MAX_IMAGE_BYTES)
    assert admin.firmware_images() == []


def test_settings_operators_and_notifications(hub: Hub, admin: RemoteAdmin) -> None:
    rows = {row.key: row for row in admin.settings()}
    assert rows["energy.tariff_per_kwh"].editable
    assert admin.change_settings({"energy.tariff_per_kwh": "0.31"}) == {"energy.tariff_per_kwh": 0.31}
    assert hub.config["energy.tariff_per_kwh"] == 0.31, "applied to the running hub at once"
    assert admin.change_settings({"energy.tariff_per_kwh": 0.31}) == {}
    admin.add_operator("kim", Role.STAFF, "Blue tulips 42")
    admin.set_role("kim", Role.ADMIN)
    admin.set_password("kim", "a new password")
    assert {o.name: o.role for o in admin.operators()}["kim"] is Role.ADMIN
    admin.disable("kim")
    assert {o.name: o.disabled for o in admin.operators()}["kim"] is True
    with pytest.raises(ValueError):
        admin.add_operator("kim", Role.STAFF, "Blue tulips 42")
    assert admin.open_notifications() == 0 and admin.notifications(True) == []
    assert admin.activity() == {"commands": 0, "updates": 0, "updates_in_flight": 0}
    assert admin.status().database_ok is True
    audited = {row[2] for row in admin.audit()}
    assert {"setting.change", "operator.add", "operator.role", "operator.password", "operator.disable"} <= audited


def test_device_changes_and_the_status_are_pushed_to_screens(hub: Hub, station: ApiClient,
                                                             admin: RemoteAdmin) -> None:
    changes: list[DeviceChanges] = []
    statuses: list[HubStatus] = []
    removed = threading.Event()

    def on_event(event: dict[str, Any]) -> None:
        if event["topic"] == "devices":
            change: DeviceChanges = from_wire(DeviceChanges, event["data"])
            changes.append(change)
            if change.removed:
                removed.set()
        elif event["topic"] == "status":
            statuses.append(from_wire(HubStatus, event["data"]))

    stream = EventStream(station.websocket_target, on_event, lambda up, why: None)
    stream.start()
    try:
        assert stream.connected.wait(5)
        made = admin.create_device("Pushed", "esp32", None)
        device = connect(hub.config["broker.port"], made.info.id, made.token)
        for n in range(50):
            device.publish(f"device/{made.info.id}/status", json.dumps({"fw": "1.0.0", "uptime": n}), qos=0)
        device.publish(f"device/{made.info.id}/status", json.dumps({"fw": "1.0.0", "uptime": 99}))
        wait_for(lambda: any(s.id == made.info.id and s.firmware == "1.0.0" for c in changes for s in c.changed))
        device_events = len(changes)
        assert device_events < 20, f"{device_events} events for 51 messages: changes are not coalesced"
        last: DeviceSnapshot = [s for c in changes for s in c.changed if s.id == made.info.id][-1]
        assert last.name == "Pushed"
        wait_for(lambda: statuses, timeout=3)
        assert statuses[-1].broker is not None and statuses[-1].broker.running
        device.close()
        admin.delete_device(made.info.id, keep_history=True, reason="test")
        assert removed.wait(3)
        assert any(made.info.id in c.removed for c in changes)
    finally:
        stream.stop()


def test_the_demonstration_starts_only_from_the_hubs_own_desk(hub: Hub, admin: RemoteAdmin) -> None:
    _, remote_token = hub.registry.create("Desk 2", "station", "test")
    remote = ApiClient(f"http://127.0.0.1:{hub.config['http.port']}", remote_token)
    try:
        with pytest.raises(PermissionError, match="only from the hub's own desk"):
            RemoteAdmin(remote).start_demo()
    finally:
        remote.close()
    assert admin.start_demo() is True
    assert admin.start_demo() is False, "a second start while it runs changes nothing"
    wait_for(lambda: len(admin.devices()) >= 3, timeout=10)


def test_a_desk_stations_code_carries_the_hubs_api_address_not_the_broker(hub: Hub, admin: RemoteAdmin) -> None:
    made = admin.create_device("Desk 2", "station", None)
    code = json.loads(made.qr_text())
    assert code == {"station": made.info.id, "token": made.token, "hub": f"http://127.0.0.1:{hub.config['http.port']}"}
    again = json.loads(admin.provisioning_text(made.info.id, made.token))
    assert again["hub"] == code["hub"] and "port" not in again
    sensor = admin.create_device("Stall 9", "stall", None)
    assert json.loads(sensor.qr_text())["port"] == hub.config["broker.port"]
