"""What the broker does with clients that are old, too new, misbehaving or guessing: answered, counted, logged."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from sqlalchemy.orm import Session

from kiosk.store.models import DeviceRejection
from tests.helpers import connect, connect_packet, read_packet, subscribe_packet, wait_for


def port(hub: Any) -> int:
    return hub.config["broker.port"]


def raw(hub: Any) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port(hub)), timeout=5)


def mqtt31_connect(client_id: str, username: str, password: str) -> bytes:
    """A CONNECT as MQTT 3.1 clients send it (protocol name MQIsdp, level 3)."""
    def utf8(text: str) -> bytes:
        return len(text.encode()).to_bytes(2, "big") + text.encode()
    body = utf8("MQIsdp") + bytes([3, 0xC2]) + (60).to_bytes(2, "big") + utf8(client_id) + utf8(username) \
        + utf8(password)
    return bytes([0x10, len(body)]) + body


def rejection(hub: Any, device_id: str, reason: str) -> Any:
    with Session(hub.engine) as session:
        return session.get(DeviceRejection, (device_id, reason))


def test_an_mqtt_3_1_client_is_served(hub: Any) -> None:
    info, token = hub.registry.create("Old Arduino", "sensor", "test")
    sock = raw(hub)
    sock.sendall(mqtt31_connect("arduino-1", info.id, token))
    kind, _flags, body = read_packet(sock)
    assert (kind, body) == (2, b"\x00\x00")  # CONNACK accepted
    sock.sendall(subscribe_packet(1, f"devices/{info.id}/commands", 1))
    assert read_packet(sock)[0] == 9  # SUBACK
    sock.close()
    device = connect(port(hub), info.id, token, protocol=mqtt.MQTTv31)  # paho's own MQTT 3.1
    assert device.rc == 0
    device.publish(f"devices/{info.id}/datastream", json.dumps({"value": 21.5}))
    wait_for(lambda: hub.ingest.accepted >= 1)
    device.close()


def test_an_mqtt_5_client_gets_its_refusal_at_once_counted_and_logged(hub: Any,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    info, token = hub.registry.create("New board", "sensor", "test")
    answered = threading.Event()
    reasons: list[Any] = []
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="v5-board", protocol=mqtt.MQTTv5)
    client.username_pw_set(info.id, token)

    def on_connect(_c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        reasons.append(reason)
        answered.set()

    client.on_connect = on_connect
    started = time.monotonic()
    client.connect("127.0.0.1", port(hub))
    client.loop_start()
    try:
        assert answered.wait(3), "no CONNACK for MQTT 5"
        assert time.monotonic() - started < 2
        assert reasons[0].value == 0x84  # Unsupported Protocol Version
    finally:
        client.loop_stop()
        client.disconnect()
    sock = raw(hub)
    packet = bytearray(connect_packet("c-v9", info.id, token))
    packet[8] = 9
    sock.sendall(bytes(packet))
    assert read_packet(sock) == (2, 0, b"\x00\x01")
    sock.close()
    # Counted right after the CONNACK went out: wait for the count, not only for the answer.
    wait_for(lambda: hub.broker.stats().unsupported_protocols == {"MQTT 5": 1, "'MQTT' level 9": 1})
    ours = [r for r in caplog.records if r.name.startswith("kiosk") and "unsupported protocol version" in r.message]
    assert len(ours) == 2  # once per version per minute
    metrics = hub.metrics()
    assert 'kiosk_broker_refused_connections_total{reason="unsupported protocol version (MQTT 5)"} 1' in metrics


def test_publishes_the_acl_refuses_are_counted_on_the_device_that_made_them(hub: Any) -> None:
    a, token_a = hub.registry.create("Sensor A", "sensor", "test")
    b, _token_b = hub.registry.create("Sensor B", "sensor", "test")
    device = connect(port(hub), a.id, token_a)
    for topic in (f"devices/{b.id}/datastream", "kiosk/state/stalls/1", "$SYS/broker/uptime"):
        device.client.publish(topic, b'{"value": 1}', qos=1).wait_for_publish(5)  # acknowledged all the same
    device.publish(f"devices/{a.id}/commands", b'{"command": "restart"}')  # its own to-device topic
    found = wait_for(lambda: (r := rejection(hub, a.id, "not_allowed")) and r.count == 3 and r)
    assert "$SYS/broker/uptime" in found.last_detail
    wait_for(lambda: rejection(hub, a.id, "unknown_topic"))
    assert rejection(hub, b.id, "not_allowed") is None and rejection(hub, b.id, "unknown_topic") is None
    snap = wait_for(lambda: (s := hub.ingest.tracker.get(a.id)) and s.rejected == 4 and s)
    assert snap.last_reject_reason in ("not_allowed", "unknown_topic")
    device.close()


def test_refused_logins_under_many_names_log_one_line_a_minute_and_each_at_debug(
        hub: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="kiosk.services.broker.gatekeeper")
    for n in range(8):  # fewer than the free failures: none is slowed down
        sock = raw(hub)
        sock.sendall(connect_packet(f"guess-{n}", f"no-such-device-{n}", "x"))
        assert read_packet(sock)[2] == b"\x00\x05"
        sock.close()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "refused MQTT login" in r.message]
    debug = [r for r in caplog.records if r.levelno == logging.DEBUG and "refused MQTT login" in r.message]
    assert len(warnings) == 1 and len(debug) == 8
    assert "no-such-device-7" in debug[-1].message


def test_guessing_is_slowed_down_and_a_good_device_is_not(hub: Any) -> None:
    info, token = hub.registry.create("Sensor G", "sensor", "test")
    free = hub.config["security.login_free_failures"]
    for n in range(free):
        sock = raw(hub)
        sock.sendall(connect_packet(f"g-{n}", info.id, f"guess-{n}"))
        assert read_packet(sock)[2] == b"\x00\x05"
        sock.close()
    sock = raw(hub)
    started = time.monotonic()
    sock.sendall(connect_packet("g-late", info.id, "guess-late"))
    assert read_packet(sock)[2] == b"\x00\x05"
    assert time.monotonic() - started >= 0.9  # the eleventh failure waited its hold
    sock.close()
    started = time.monotonic()
    good = connect(port(hub), info.id, token)  # the right token is answered at once
    assert good.rc == 0 and time.monotonic() - started < 0.9
    good.close()
    assert wait_for(lambda: hub.broker.stats().slowed_logins == 1)
    assert "kiosk_broker_logins_slowed_total 1" in hub.metrics()
