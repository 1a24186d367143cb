"""Stall occupancy on the hub: readings in, state out to the GUI, the store and wall displays.

Ingest hands every stall reading (registered sensors and legacy StallSense boards) to `StallService.reading`; the
hub's ticker calls `tick` once a second for staleness, debounce and door-left-shut. Each change of what a tile shows
is:

- sent to the GUI (`events.stalls_changed`);
- published **retained** on `kiosk/state/stalls/{stall id}` (JSON below), so that wall displays follow the hub
  over MQTT without a database, on this machine or across the LAN;
- written to `stall_events` when the state itself changed (the timeline and the analytics read those).

State payload: `{"stall": 12, "restroom": "West", "floor": "G", "label": "2", "position": 2, "restroom_position": 1,
"state": "occupied", "reason": "door closed", "since": 1795360000.0, "updated": 1795360042.5}`. A removed stall's
topic is cleared (empty retained payload). Nothing in it names a person.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from kiosk.core.operators import Operator
from kiosk.core.stalls import Reading, StallBoard, StallPlace, StallRules, StallView
from kiosk.protocol.legacy import RESET_PAYLOAD, reset_topic
from kiosk.protocol.topics import STATE_PREFIX
from kiosk.services.mqtt_client import DeviceLink
from kiosk.store.devices import LEGACY_PREFIX, DeviceRegistry
from kiosk.store.stalls import StallDirectory, acting
from kiosk.store.writer import StoreWriter

log = logging.getLogger(__name__)
STALL_STATE_PREFIX = f"{STATE_PREFIX}/stalls"


def stall_topic(stall_id: int) -> str:
    return f"{STALL_STATE_PREFIX}/{stall_id}"


class LegacyBoards:
    """What the hub sends legacy StallSense boards (`stalls.legacy_stallsense`)."""

    def __init__(self, registry: DeviceRegistry, link: DeviceLink) -> None:
        self._registry = registry
        self._link = link

    def reset_wifi(self, device_id: str, actor: str | Operator) -> None:
        """Send a board its Wi-Fi reset (`N/rst` = 1): it forgets its network and reboots.

        The caller has asked for confirmation; this writes the audit row and publishes. Raises LookupError for a
        device that is not a legacy board, ConnectionError while the broker cannot be reached; PermissionError for
        an operator who is not an admin."""
        actor = acting(actor, "reset a board's Wi-Fi")
        info = self._registry.get(device_id)
        if info is None or not device_id.startswith(LEGACY_PREFIX):
            raise LookupError(f"{device_id} is not a StallSense board")
        if not self._link.connected.is_set():
            raise ConnectionError("the broker is not reachable; the reset was not sent")
        self._registry.record(actor, "stallsense.wifi_reset", device_id, f"sent {reset_topic(info.name)} = 1")
        self._link.publish(reset_topic(info.name), RESET_PAYLOAD, qos=1)


class StallEvents(Protocol):
    def stalls_changed(self, views: list[tuple[StallPlace, StallView]], complete: bool = False) -> None:
        """Tiles that changed; `complete`: this is every stall there is (after an edit), drop any other."""


class StallService:
    def __init__(self, directory: StallDirectory, writer: StoreWriter, rules: StallRules, events: StallEvents,
                 publish: Callable[[str, bytes, bool], None], interval_of: Callable[[str], float | None],
                 clock: Callable[[], float] = time.time,
                 last_seen_of: Callable[[str], float | None] = lambda _d: None) -> None:
        self._last_seen_of = last_seen_of
        self._directory = directory
        self._writer = writer
        self._events = events
        self._publish = publish
        self._clock = clock
        self._lock = threading.Lock()
        self.board = StallBoard(rules, interval_of)
        self._places: dict[int, StallPlace] = {}
        self._states: dict[int, str] = {}  # last state written to stall_events
        self._layout_version = -1

    def reload(self) -> None:
        """Read restrooms, stalls and assignments again (at start and after every edit); republish everything."""
        self._layout_version = self._directory.layout_version()
        rooms = self._directory.restrooms()
        assignments = self._directory.assignments()
        retired = self._directory.retired()
        places = {s.id: StallPlace(s.id, r.id, r.name, r.floor, s.label, s.position, r.position)
                  for r in rooms for s in r.stalls}
        now = self._clock()
        with self._lock:
            removed = set(self._places) - set(places)
            self._places = places
            self.board.configure(places, assignments, retired, self._last_seen_of)
            views = self.board.views(now)
        for stall_id in removed:
            self._publish(stall_topic(stall_id), b"", True)
        self._changed(views, complete=True)

    def reload_if_edited(self) -> bool:
        """Reload when another station or the CLI changed the layout (the hub polls this every few seconds)."""
        if self._directory.layout_version() == self._layout_version:
            return False
        self.reload()
        return True

    def reading(self, device_id: str, reading: Reading, at: float) -> None:
        with self._lock:
            view = self.board.report(device_id, reading, at)
        if view is not None:
            self._changed([view])

    def tick(self) -> None:
        with self._lock:
            views = self.board.tick(self._clock())
        if views:
            self._changed(views)

    def current(self) -> list[tuple[StallPlace, StallView]]:
        with self._lock:
            views = self.board.views(self._clock())
            return [(self._places[v.stall_id], v) for v in views if v.stall_id in self._places]

    def republish(self) -> None:
        """Every stall's state again, e.g. after the link to the broker came back (a restarted broker forgot it)."""
        with self._lock:
            views = self.board.views(self._clock())
        self._changed(views)

    def _changed(self, views: list[StallView], complete: bool = False) -> None:
        out = []
        for view in views:
            place = self._places.get(view.stall_id)
            if place is None:
                continue
            out.append((place, view))
            self._publish(stall_topic(view.stall_id), state_payload(place, view), True)
            if self._states.get(view.stall_id) != view.state.value:
                self._writer.add("stall_event", {"stall_id": view.stall_id, "ts": view.since,
                                                 "state": view.state.value, "reason": view.reason})
                self._states[view.stall_id] = view.state.value
        if out or complete:
            self._events.stalls_changed(out, complete)


def state_payload(place: StallPlace, view: StallView) -> bytes:
    return json.dumps({
        "stall": place.stall_id, "restroom": place.restroom, "floor": place.floor, "label": place.label,
        "position": place.position, "restroom_position": place.restroom_position, "state": view.state.value,
        "reason": view.reason, "since": round(view.since, 3),
        "updated": None if view.updated_at is None else round(view.updated_at, 3),
    }, separators=(",", ":")).encode()
