"""The auth matrix and topic ACL of the embedded broker, with real paho clients on a free loopback port."""

import time
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from tests.helpers import Device, connect, wait_for

NOT_AUTHORIZED = 5  # MQTT 3.1.1 CONNACK return code


def port(hub: Any) -> int:
    return hub.config["broker.port"]


def refused(device: Device) -> bool:
    return device.rc.is_failure and device.rc.value in (NOT_AUTHORIZED, 0x87)


def test_a_device_with_its_token_connects(hub: Any) -> None:
    info, token = hub.registry.create("Stall W-2", "stall", "test")
    device = connect(port(hub), info.id, token)
    assert device.rc == 0
    device.close()


@pytest.mark.parametrize("case", ["wrong token", "unknown id", "no credentials", "expired", "revoked"])
def test_bad_credentials_get_connack_5(hub: Any, case: str) -> None:
    expires = time.time() - 1 if case == "expired" else None
    info, token = hub.registry.create("Stall W-2", "stall", "test", expires_at=expires)
    if case == "revoked":
        hub.registry.revoke(info.id, "test")
    username, password = {
        "wrong token": (info.id, "not-the-token"),
        "unknown id": ("00000000-0000-0000-0000-000000000000", token),
        "no credentials": (None, None),
    }.get(case, (info.id, token))
    device = connect(port(hub), username, password)
    assert refused(device), f"{case}: got {device.rc}"
    device.close()
    reason = {"wrong token": "wrong token", "unknown id": "unknown device", "no credentials": "no credentials",
              "expired": "token expired", "revoked": "device revoked"}[case]
    stats = hub.broker.stats()
    assert stats.refused_logins.get(reason) == 1
    assert stats.connected == 1  # only the hub's own client: a failed login is not a connected client


def test_revoking_a_connected_device_drops_its_session(hub: Any) -> None:
    info, token = hub.registry.create("Stall W-2", "stall", "test")
    device = connect(port(hub), info.id, token)
    assert device.rc == 0
    hub.registry.revoke(info.id, "test")
    hub.device_revoked(info.id)
    assert device.disconnected.wait(3), "the revoked device is still connected"
    device.close()
    again = connect(port(hub), info.id, token)
    assert refused(again)  # and it cannot come back
    again.close()


def test_an_expired_token_is_dropped_by_the_periodic_sweep(hub: Any) -> None:
    info, token = hub.registry.create("Meter", "energy", "test", expires_at=time.time() + 2)
    device = connect(port(hub), info.id, token)
    assert device.rc == 0
    assert device.disconnected.wait(10), "a device whose token expired stayed connected"
    device.close()


def test_a_device_may_not_publish_to_another_devices_topics(hub: Any) -> None:
    a, a_token = hub.registry.create("A", "energy", "test")
    b, _ = hub.registry.create("B", "energy", "test")
    observer = connect(port(hub), hub.internal.username, hub.internal.password)
    observer.subscribe("devices/#", 1)
    device = connect(port(hub), a.id, a_token)
    device.publish(f"devices/{b.id}/datastream", '{"value": 1}')
    device.publish(f"devices/{a.id}/datastream", '{"value": 2}')
    wait_for(lambda: any(m.topic == f"devices/{a.id}/datastream" for m in observer.messages))
    assert [m.topic for m in observer.messages] == [f"devices/{a.id}/datastream"]
    for client in (device, observer):
        client.close()


def test_a_device_may_not_subscribe_to_another_devices_topics(hub: Any) -> None:
    a, a_token = hub.registry.create("A", "energy", "test")
    b, _ = hub.registry.create("B", "energy", "test")
    device = connect(port(hub), a.id, a_token)
    assert device.subscribe(f"devices/{b.id}/commands")[0].is_failure
    assert device.subscribe("devices/+/commands")[0].is_failure
    assert device.subscribe("#")[0].is_failure
    assert not device.subscribe(f"devices/{a.id}/commands", 1)[0].is_failure
    assert not device.subscribe("organizations/default/broadcast")[0].is_failure
    device.close()


def test_a_device_receives_its_commands(hub: Any) -> None:
    a, a_token = hub.registry.create("A", "esp32", "test")
    device = connect(port(hub), a.id, a_token)
    device.subscribe(f"devices/{a.id}/commands", 1)
    hub.link.publish(f"devices/{a.id}/commands", '{"command": "restart"}', qos=1)
    assert device.got_message.wait(5)
    assert device.messages[0].payload == b'{"command": "restart"}'
    device.close()


def test_the_internal_password_file_is_private(hub: Any) -> None:
    path = hub.config.data_dir / "internal-broker-password"
    assert path.stat().st_mode & 0o777 == 0o600
    assert len(path.read_text().strip()) >= 32


def test_anonymous_clients_cannot_read_anything(hub: Any) -> None:
    client = connect(port(hub), None, None)
    assert refused(client)
    client.close()
    assert isinstance(client.client, mqtt.Client)


def test_refused_logins_are_logged_once_a_minute_per_user_and_reason(hub: Any,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    info, _token = hub.registry.create("Stall W-2", "stall", "test")
    for _ in range(5):
        device = connect(port(hub), info.id, "stale-token")
        assert refused(device)
        device.close()
    assert hub.broker.stats().refused_logins == {"wrong token": 5}
    assert caplog.text.count("refused MQTT login") == 1
    assert "stale-token" not in caplog.text  # and the password itself never
