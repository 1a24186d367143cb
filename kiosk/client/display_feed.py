"""The wall display's data through the hub's API: the stall tiles (`GET /stalls`, then the `stalls` events) and the
locker counts, read with this machine's station token or a display's own token (kind `display`, which the API
lets read the stalls and the counts and nothing else: no member's name reaches a display).

The hub is *reachable* while the event stream is up (the hub pings it every 10 s; 35 s of silence, a refused
token or a closed connection count as gone); when not, the display says so instead of showing old states as
current. It reports to the same DisplayEvents as the MQTT feed (kiosk.services.display_feed) it replaces.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Protocol

from kiosk.client.events import EventStream
from kiosk.client.http import ApiClient, HubUnreachable
from kiosk.core.lockers import LockerCounts
from kiosk.core.stalls import StallPlace, StallView
from kiosk.protocol.answers import StallTile
from kiosk.protocol.api import ApiError, from_wire
from kiosk.protocol.state import LockerCountsMessage, StallStateMessage

log = logging.getLogger(__name__)


class DisplayEvents(Protocol):
    def stall_state(self, stall_id: int, message: StallStateMessage | None) -> None: ...

    def hub_reachable(self, reachable: bool, detail: str) -> None: ...

    def locker_counts(self, message: LockerCountsMessage) -> None: ...


def stall_message(place: StallPlace, view: StallView) -> StallStateMessage:
    return StallStateMessage(place.stall_id, place.restroom, place.floor, place.label, place.position,
                             place.restroom_position, view.state.value, view.reason, view.since, view.updated_at)


def counts_message(counts: LockerCounts) -> LockerCountsMessage:
    return LockerCountsMessage(counts.free, counts.in_use, counts.overdue, counts.out_of_order, counts.total)


class ApiDisplayFeed:
    def __init__(self, client: ApiClient, events: DisplayEvents, lockers: bool = False) -> None:
        self.client = client
        self.lockers = lockers  # also follow the locker counts (display.show_lockers)
        self._events = events
        self._lock = threading.Lock()
        self._stream = EventStream(client.websocket_target, self._event, self._state)
        self._shown: set[int] = set()
        self._up = False
        self._detail = "connecting to the hub"
        self._reachable: bool | None = None
        self.bad_messages = 0

    def start(self) -> None:
        self._stream.start()

    def stop(self) -> None:
        self._stream.stop()
        self.client.close()

    def check(self) -> tuple[bool, str]:
        """Whether the hub is reachable now, and why not; call once a second (the display's timer does)."""
        with self._lock:
            reachable, detail = self._up, ("live" if self._up else self._detail)
            changed = reachable != self._reachable
            self._reachable = reachable
        if changed:
            log.info("display: hub %s (%s)", "reachable" if reachable else "UNREACHABLE", detail)
            self._events.hub_reachable(reachable, detail)
        return reachable, detail

    # --- the stream's thread --------------------------------------------------------------------------------------

    def _state(self, connected: bool, detail: str) -> None:
        with self._lock:
            if not connected:
                self._up, self._detail = False, detail
        # up only after the hello and the first read: see _event

    def _event(self, event: dict[str, Any]) -> None:
        topic = event.get("topic")
        data = event.get("data") or {}
        try:
            if topic == "hello":
                self._read_all()
                with self._lock:
                    self._up = True
            elif topic == "stalls":
                self._show(from_wire(list[StallTile], data.get("tiles") or []), bool(data.get("complete")))
            elif topic == "lockers" and self.lockers:
                counts = data.get("counts")
                self._counts(from_wire(LockerCounts, counts) if counts else None)
        except ApiError as exc:
            self.bad_messages += 1
            log.warning("display ignored an event from the hub: %s", exc)
        except HubUnreachable as exc:
            with self._lock:
                self._up, self._detail = False, str(exc)

    def _read_all(self) -> None:
        tiles: list[StallTile] = self.client.get("/stalls", list[StallTile])
        self._show(tiles, complete=True)
        if self.lockers:
            self._counts(None)

    def _show(self, tiles: list[StallTile], complete: bool) -> None:
        for tile in tiles:
            log.debug("display: stall %s %s", tile.place.stall_id, tile.view.state.value)
            self._events.stall_state(tile.place.stall_id, stall_message(tile.place, tile.view))
        ids = {tile.place.stall_id for tile in tiles}
        if complete:
            for gone in self._shown - ids:
                self._events.stall_state(gone, None)
            self._shown = ids
        else:
            self._shown |= ids

    def _counts(self, counts: LockerCounts | None) -> None:
        if counts is None:  # a change made elsewhere: read them
            counts = self.client.get("/lockers/counts", LockerCounts)
        self._events.locker_counts(counts_message(counts))
