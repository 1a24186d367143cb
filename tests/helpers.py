"""Helpers shared by tests: free ports, real paho clients that wait on CONNACK, condition polling."""

from __future__ import annotations

import random
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt

from kiosk.services.mqtt_client import close_client

_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A port free on 127.0.0.1, below the kernel's ephemeral range (32768-60999 here).

    Asking the kernel for port 0 returns an ephemeral port, the same range outgoing client connections use: with
    hundreds of paho connections per run, one could take it before the broker binds, and the start fails.
    """
    rng = random.Random()
    for _ in range(1000):
        port = rng.randint(20000, 32000)
        if port in _HANDED_OUT:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    raise RuntimeError("no free port between 20000 and 32000")


def wait_for(predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.01) -> Any:
    """Poll a condition (for things that emit no signal: another process, a database row); fail on timeout."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        pause.wait(interval)


@dataclass
class Device:
    """A real paho client as a device would use it; events are recorded so tests can wait on them."""

    client: mqtt.Client
    connack: threading.Event = field(default_factory=threading.Event)
    disconnected: threading.Event = field(default_factory=threading.Event)
    suback: threading.Event = field(default_factory=threading.Event)
    rc: Any = None
    granted: list[Any] = field(default_factory=list)
    messages: list[mqtt.MQTTMessage] = field(default_factory=list)
    got_message: threading.Event = field(default_factory=threading.Event)

    def publish(self, topic: str, payload: bytes | str, qos: int = 1) -> None:
        info = self.client.publish(topic, payload, qos=qos)
        if qos:
            info.wait_for_publish(5)

    def subscribe(self, topic: str, qos: int = 0) -> list[Any]:
        self.suback.clear()
        self.client.subscribe(topic, qos)
        assert self.suback.wait(5), "no SUBACK"
        return self.granted

    def close(self) -> None:
        close_client(self.client)


def connect(port: int, username: str | None, password: str | None, client_id: str = "",
            wait: bool = True, clean_session: bool = True, protocol: int = mqtt.MQTTv311) -> Device:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol,
                         clean_session=clean_session)
    device = Device(client)
    if username is not None:
        client.username_pw_set(username, password)

    def on_connect(_c: Any, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        device.rc = rc
        device.connack.set()

    def on_disconnect(_c: Any, _u: Any, _f: Any, _rc: Any, _p: Any) -> None:
        device.disconnected.set()

    def on_subscribe(_c: Any, _u: Any, _mid: Any, granted: Any, _p: Any) -> None:
        device.granted = list(granted)
        device.suback.set()

    def on_message(_c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        device.messages.append(message)
        device.got_message.set()

    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.reconnect_delay_set(60, 120)  # tests see one connection attempt, not paho's retries
    client.connect("127.0.0.1", port, keepalive=30)
    client.loop_start()
    if wait:
        assert device.connack.wait(5), "no CONNACK within 5 s"
    return device


class RecordingEvents:
    """HubEvents that keep what they were told, with events to wait on."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.devices: dict[str, Any] = {}
        self.statuses: list[Any] = []
        self.stalls: dict[int, Any] = {}  # stall id -> (place, view)
        self.changed = threading.Event()
        self.locker_changes = 0
        self.removed: list[str] = []

    def device_changed(self, snapshot: Any) -> None:
        with self.lock:
            self.devices[snapshot.id] = snapshot
        self.changed.set()

    def hub_status(self, status: Any) -> None:
        with self.lock:
            self.statuses.append(status)

    def lockers_changed(self) -> None:
        with self.lock:
            self.locker_changes += 1

    def device_removed(self, device_id: str) -> None:
        with self.lock:
            self.devices.pop(device_id, None)
            self.removed.append(device_id)

    def stalls_changed(self, views: Any, complete: bool = False) -> None:
        with self.lock:
            if complete:
                self.stalls.clear()
            for place, view in views:
                self.stalls[place.stall_id] = (place, view)


def _utf8(text: str) -> bytes:
    data = text.encode()
    return len(data).to_bytes(2, "big") + data


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def connect_packet(client_id: str, username: str | None = None, password: str | None = None,
                   keepalive: int = 60, clean: bool = True, will: tuple[str, str] | None = None) -> bytes:
    """A raw MQTT 3.1.1 CONNECT packet, for tests that need to misbehave below paho."""
    flags = ((0x02 if clean else 0) | (0x80 if username is not None else 0) | (0x40 if password is not None else 0)
             | (0x04 if will else 0))
    body = _utf8("MQTT") + bytes([4, flags]) + keepalive.to_bytes(2, "big") + _utf8(client_id)
    if will:
        body += _utf8(will[0]) + _utf8(will[1])
    if username is not None:
        body += _utf8(username)
    if password is not None:
        body += _utf8(password)
    return bytes([0x10]) + _remaining_length(len(body)) + body


def publish_packet(topic: str, payload: bytes) -> bytes:
    """A raw QoS 0 PUBLISH packet."""
    body = _utf8(topic) + payload
    return bytes([0x30]) + _remaining_length(len(body)) + body


def closed_by_peer(sock: socket.socket, timeout: float) -> bool:
    """Whether the other end closes the connection within the timeout (reading and dropping what arrives)."""
    sock.settimeout(timeout)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if sock.recv(4096) == b"":
                return True
    except (socket.timeout, TimeoutError):
        return False
    except OSError:
        return True
    return False


def subscribe_packet(packet_id: int, topic: str, qos: int) -> bytes:
    body = packet_id.to_bytes(2, "big") + _utf8(topic) + bytes([qos])
    return bytes([0x82]) + _remaining_length(len(body)) + body


def read_packet(sock: socket.socket) -> tuple[int, int, bytes]:
    """One MQTT packet from a raw socket: (packet type, fixed-header flags, body)."""
    def exactly(n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data

    first = exactly(1)[0]
    length, shift = 0, 0
    while True:
        byte = exactly(1)[0]
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    return first >> 4, first & 0x0F, exactly(length)


class OffsetClock:
    """A hub's clock: real time until a test moves it forward (`offset` seconds)."""

    def __init__(self) -> None:
        import time

        self._time = time.time
        self.offset = 0.0

    def __call__(self) -> float:
        return self._time() + self.offset
