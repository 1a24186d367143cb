"""The wall display's only data source: the hub's retained state on MQTT. No database.

It subscribes to `kiosk/state/stalls/+` and `kiosk/state/hub` with its own login (on the hub's machine the internal
account; across the LAN a device of kind "display", which may read `kiosk/state/...` and nothing else). It decides
whether the hub is *reachable*: the link to the broker is up, the hub's retained beat says online, and a beat came
within three beat intervals. When not, the display must say so instead of showing old states as current.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

import paho.mqtt.client as mqtt

from kiosk.protocol.state import (
    HUB_TOPIC,
    LOCKERS_TOPIC,
    STALLS_FILTER,
    LockerCountsMessage,
    StallStateMessage,
    StateError,
    parse_hub_beat,
    parse_locker_counts,
    parse_stall_state,
    stall_id_of,
)
from kiosk.services.mqtt_client import BrokerAddress, close_client, new_client

log = logging.getLogger(__name__)
MISSED_BEATS = 3


class DisplayEvents(Protocol):
    def stall_state(self, stall_id: int, message: StallStateMessage | None) -> None: ...

    def hub_reachable(self, reachable: bool, detail: str) -> None: ...

    def locker_counts(self, message: LockerCountsMessage) -> None: ...


class DisplayFeed:
    def __init__(self, address: BrokerAddress, username: str, password: str, events: DisplayEvents,
                 clock: Callable[[], float] = time.time, client_id: str = "", lockers: bool = False) -> None:
        self.address = address
        self.lockers = lockers  # also follow kiosk/state/lockers (display.show_lockers)
        self._events = events
        self._clock = clock
        self._client = new_client(client_id or f"kiosk-display-{address.host}-{int(clock())}", username, password)
        if address.tls:
            self._client.tls_set()
        self._client.on_connect = self._connected
        self._client.on_disconnect = self._disconnected
        self._client.on_message = self._message
        self._lock = threading.Lock()
        self.link_up = False
        self.link_detail = "connecting to the hub"
        self.beat = None
        self.last_beat_at: float | None = None  # our clock when the last beat arrived
        self.bad_messages = 0
        self._reachable: bool | None = None

    def start(self) -> None:
        self._client.connect_async(self.address.host, self.address.port, keepalive=15)
        self._client.loop_start()

    def stop(self) -> None:
        close_client(self._client)

    def check(self) -> tuple[bool, str]:
        """Whether the hub is reachable now, and why not; call once a second (the display's timer does)."""
        with self._lock:
            now = self._clock()
            if not self.link_up:
                reachable, detail = False, self.link_detail
            elif self.beat is None:
                reachable, detail = False, "waiting for the hub"
            elif not self.beat.online:
                reachable, detail = False, "the hub has stopped"
            elif self.last_beat_at is None or now - self.last_beat_at > MISSED_BEATS * self.beat.beat_s + 1:
                reachable, detail = False, "the hub stopped answering"
            else:
                reachable, detail = True, "live"
            changed = reachable != self._reachable
            self._reachable = reachable
        if changed:
            log.info("display: hub %s (%s)", "reachable" if reachable else "UNREACHABLE", detail)
            self._events.hub_reachable(reachable, detail)
        return reachable, detail

    def _connected(self, client: mqtt.Client, _u: object, _f: object, reason: mqtt.ReasonCode, _p: object) -> None:
        if reason.is_failure:
            with self._lock:
                self.link_up, self.link_detail = False, f"the broker refused the display's login ({reason})"
            log.error("%s at %s", self.link_detail, self.address)
            return
        with self._lock:
            self.link_up, self.link_detail = True, "connected"
        client.subscribe([(STALLS_FILTER, 1), (HUB_TOPIC, 1)] + ([(LOCKERS_TOPIC, 1)] if self.lockers else []))
        log.info("display connected to %s", self.address)

    def _disconnected(self, _c: mqtt.Client, _u: object, _f: object, reason: mqtt.ReasonCode, _p: object) -> None:
        with self._lock:
            self.link_up = False
            self.link_detail = f"lost the connection to the hub's broker ({reason})"

    def _message(self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        try:
            if message.topic == HUB_TOPIC:
                beat = parse_hub_beat(message.payload)
                with self._lock:
                    self.beat, self.last_beat_at = beat, self._clock()
                return
            if message.topic == LOCKERS_TOPIC:
                self._events.locker_counts(parse_locker_counts(message.payload))
                return
            state = parse_stall_state(message.topic, message.payload)
            stall_id = state.stall_id if state else stall_id_of(message.topic)
            log.debug("display: stall %s %s", stall_id, state.state if state else "removed")
            self._events.stall_state(stall_id, state)
        except StateError as exc:
            self.bad_messages += 1
            log.warning("display ignored a message: %s", exc)
