"""The device worker's MQTT side: one paho client subscribed to every device topic family.

Works the same against the embedded broker or an external one (`broker.url`). paho's network thread delivers
messages straight into the ingest pipeline; reconnecting after a broker restart is paho's job (with back-off).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlparse

import paho.mqtt.client as mqtt

from kiosk.protocol.topics import CONTROL_REVOKE, INGEST_SUBSCRIPTIONS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool = False

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        """mqtt://host:port or mqtts://host:port; a bare host:port is taken as mqtt://."""
        parsed = urlparse(url if "://" in url else f"mqtt://{url}")
        if parsed.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
            raise ValueError(f"broker URL {url!r}: use mqtt://host:port or mqtts://host:port")
        if not parsed.hostname:
            raise ValueError(f"broker URL {url!r} has no host")
        tls = parsed.scheme in ("mqtts", "ssl")
        return cls(parsed.hostname, parsed.port or (8883 if tls else 1883), tls)

    def __str__(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def new_client(client_id: str, username: str | None = None, password: str | None = None) -> mqtt.Client:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311,
                         clean_session=True)
    if username:
        client.username_pw_set(username, password)
    client.reconnect_delay_set(min_delay=1, max_delay=30)
    return client


def close_client(client: mqtt.Client) -> None:
    """Disconnect, stop the network thread and close paho's wake-up socket pair.

    paho 2.2 opens that pair in `loop_start` and closes it only in `__del__`; a client caught in a reference cycle
    (callbacks bound to their owner) is then finalised after its sockets and Python warns of unclosed sockets.
    """
    client.disconnect()
    client.loop_stop()
    reset = getattr(client, "_reset_sockets", None)
    if reset is not None:
        reset(sockpair_only=True)


class DeviceLink:
    """Subscribes to device topics and hands each message to `on_message(topic, payload)`.

    Args:
        on_message: called on paho's thread for every device message.
        on_control: called with the device id when the hub is told to drop a revoked device.
        on_connection: called with (connected, reason) whenever the link goes up or down.
    """

    def __init__(self, address: BrokerAddress, username: str, password: str,
                 on_message: Callable[[str, bytes], object], on_control: Callable[[str], None],
                 on_connection: Callable[[bool, str], None], extra_subscriptions: tuple[str, ...] = (),
                 will: tuple[str, bytes] | None = None, device_topics: bool = True) -> None:
        self.address = address
        # Without device topics (the embedded broker's journal brings those) the link only publishes and hears
        # the control topic.
        self._device_topics = (*INGEST_SUBSCRIPTIONS, *extra_subscriptions) if device_topics else ()
        self._on_message = on_message
        self._on_control = on_control
        self._on_connection = on_connection
        self._client = new_client(f"kiosk-hub-{socket.gethostname()}-{os.getpid()}", username, password)
        # Back within 5 s of a broker restart (paho's default back-off reached 30 s after a few restarts, and
        # health stayed degraded that long).
        self._client.reconnect_delay_set(min_delay=1, max_delay=5)
        if address.tls:
            self._client.tls_set()
        if will is not None:
            self._client.will_set(will[0], will[1], qos=1, retain=True)
        self._client.on_connect = self._connected
        self._client.on_disconnect = self._disconnected
        self._client.on_message = self._message
        self.connected = threading.Event()
        self.last_error: str | None = None

    def start(self) -> None:
        self._client.connect_async(self.address.host, self.address.port, keepalive=30)
        self._client.loop_start()

    def stop(self) -> None:
        close_client(self._client)

    def publish(self, topic: str, payload: bytes | str, qos: int = 0, retain: bool = False) -> bool:
        """Hand a message to paho; False when it could not be queued (not connected)."""
        return self._client.publish(topic, payload, qos=qos, retain=retain).rc == mqtt.MQTT_ERR_SUCCESS

    def _connected(self, client: mqtt.Client, _userdata: object, _flags: object, reason: mqtt.ReasonCode,
                   _props: object) -> None:
        if reason.is_failure:
            self.last_error = f"broker refused the hub's login: {reason}"
            log.error("%s (%s)", self.last_error, self.address)
            self._on_connection(False, self.last_error)
            return
        client.subscribe([(topic, 0) for topic in self._device_topics] + [(CONTROL_REVOKE, 1)])
        self.last_error = None
        self.connected.set()
        log.info("device worker connected to %s", self.address)
        self._on_connection(True, "connected")

    def _disconnected(self, _client: mqtt.Client, _userdata: object, _flags: object, reason: mqtt.ReasonCode,
                      _props: object) -> None:
        self.connected.clear()
        if reason.value != 0:
            self.last_error = f"lost the broker connection: {reason}"
            log.warning("%s; reconnecting", self.last_error)
        self._on_connection(False, self.last_error or "disconnected")

    def _message(self, _client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage) -> None:
        if message.topic == CONTROL_REVOKE:
            self._on_control(message.payload.decode("utf-8", "replace").strip())
            return
        try:
            self._on_message(message.topic, message.payload)
        except Exception:  # the network thread must survive any bug in a handler
            log.exception("device message on %s could not be handled", message.topic)


def publish_once(address: BrokerAddress, username: str, password: str, topic: str, payload: str,
                 timeout: float = 5.0) -> bool:
    """Connect, publish one QoS 1 message, disconnect; False when the broker cannot be reached in time."""
    client = new_client(f"kiosk-cli-{os.getpid()}", username, password)
    done = threading.Event()
    client.on_publish = lambda *_args: done.set()
    try:
        client.connect(address.host, address.port, keepalive=10)
    except OSError:
        return False
    client.loop_start()
    try:
        client.publish(topic, payload, qos=1)
        return done.wait(timeout)
    finally:
        close_client(client)


