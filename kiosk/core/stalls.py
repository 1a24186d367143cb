"""Restroom stalls: from sensor readings to what a tile shows. Pure rules, time injected.

A stall has up to three kinds of evidence, each from an assigned sensor:

- the **door** (closed / open) from a door sensor, or from a combined board's `door` key;
- **heat** (someone there / nobody) from a thermal sensor, or a combined board's `thermal` key;
- a board's own **occupied** verdict (`occupied` key) when it gives neither of the above.

Legacy StallSense boards send only `N` = 0/1; what the 1 means follows the board's type (`N/id`): a door board's 1
is "door closed", a thermal board's 1 is "heat seen".

Fusion, in this order:

1. no sensor assigned, or any assigned sensor silent for about three of its reports -> NO SIGNAL
   (a stale stall is never shown as vacant, and not as occupied either: nobody knows);
2. the door is open -> VACANT;
3. the door is closed and heat is seen -> OCCUPIED;
4. the door is closed, no heat for `door_left_shut_s` -> ATTENTION ("door left shut"); for less -> OCCUPIED
   (someone who just went in may not show on the thermal sensor yet);
5. the door is closed and there is no thermal sensor -> OCCUPIED;
6. no door evidence: heat -> OCCUPIED, no heat -> VACANT; else the board's own verdict.

Each input is debounced: the first change is taken at once (so the display responds immediately), but a change
within `debounce_s` of the previous one must hold for `debounce_s` before it counts. A flapping reed switch then
moves the tile at most once per `debounce_s`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum


class StallsError(ValueError):
    """A change to restrooms, stalls or sensors that cannot be made; the message says why, in words for the desk."""


class StallState(str, Enum):
    VACANT = "vacant"
    OCCUPIED = "occupied"
    NO_SIGNAL = "no_signal"
    ATTENTION = "attention"


class SensorRole(str, Enum):
    DOOR = "door"
    THERMAL = "thermal"
    COMBINED = "combined"


LEGACY_TYPES = {
    "com.StallSense.DoorSensor": SensorRole.DOOR,
    "com.StallSense.ThermalSensor": SensorRole.THERMAL,
}


@dataclass(frozen=True)
class StallRules:
    debounce_s: float = 2.0
    door_left_shut_s: float = 600.0
    missed_reports: float = 3.0  # a sensor is silent after about this many missed reports
    report_interval_s: float = 10.0  # until a sensor's own interval is known (legacy boards: every 10 s)


@dataclass(frozen=True)
class Reading:
    """One sensor report, already parsed: any of the three may be None."""

    occupied: bool | None = None
    door_closed: bool | None = None
    heat: bool | None = None


class Debounced:
    """One boolean input with leading-edge debounce (see the module docstring)."""

    def __init__(self) -> None:
        self.value: bool | None = None
        self.changed_at = float("-inf")
        self._pending: bool | None = None
        self._pending_since = 0.0

    def feed(self, value: bool, now: float, debounce_s: float) -> bool:
        """A new sample; returns whether the accepted value changed."""
        if value == self.value:
            self._pending = None
            return False
        if self.value is None or (self._pending is None and now - self.changed_at >= debounce_s):
            return self._accept(value, now)
        if self._pending != value:
            self._pending, self._pending_since = value, now
        return self.settle(now, debounce_s)

    def settle(self, now: float, debounce_s: float) -> bool:
        if self._pending is not None and now - self._pending_since >= debounce_s:
            return self._accept(self._pending, now)
        return False

    def _accept(self, value: bool, now: float) -> bool:
        self.value, self.changed_at, self._pending = value, now, None
        return True


@dataclass
class SensorSlot:
    device_id: str
    role: SensorRole
    last_seen: float | None = None


@dataclass(frozen=True)
class StallView:
    """What a tile shows, and what the hub publishes for wall displays."""

    stall_id: int
    state: StallState
    reason: str
    since: float  # when this state began
    updated_at: float | None  # the newest report from any of the stall's sensors
    door_closed: bool | None = None
    heat: bool | None = None


@dataclass
class Stall:
    stall_id: int
    rules: StallRules
    sensors: dict[str, SensorSlot] = field(default_factory=dict)
    door: Debounced = field(default_factory=Debounced)
    heat: Debounced = field(default_factory=Debounced)
    verdict: Debounced = field(default_factory=Debounced)
    retired: str = ""  # the name of a revoked sensor still assigned here, when no other sensor watches the stall
    _view: StallView | None = None

    def report(self, device_id: str, reading: Reading, now: float) -> None:
        slot = self.sensors.get(device_id)
        if slot is None:
            return
        slot.last_seen = now
        debounce = self.rules.debounce_s
        door, heat, occupied = reading.door_closed, reading.heat, reading.occupied
        if slot.role is SensorRole.DOOR and door is None:
            door, occupied = occupied, None  # a legacy door board's 1 means "closed"
        elif slot.role is SensorRole.THERMAL and heat is None:
            heat, occupied = occupied, None
        if door is not None:
            self.door.feed(door, now, debounce)
        if heat is not None:
            self.heat.feed(heat, now, debounce)
        if occupied is not None:
            self.verdict.feed(occupied, now, debounce)

    def view(self, now: float, interval_of: Callable[[str], float | None]) -> StallView:
        """The stall's state now; `since` is kept while the state stays the same."""
        for signal in (self.door, self.heat, self.verdict):
            signal.settle(now, self.rules.debounce_s)
        state, reason = self._decide(now, interval_of)
        seen = [s.last_seen for s in self.sensors.values() if s.last_seen is not None]
        updated = max(seen) if seen else None
        previous = self._view
        since = previous.since if previous is not None and previous.state is state else now
        self._view = StallView(self.stall_id, state, reason, since, updated, self.door.value, self.heat.value)
        return self._view

    def _decide(self, now: float, interval_of: Callable[[str], float | None]) -> tuple[StallState, str]:
        """The state and a short, stable reason (it is compared to detect changes, so no running times in it)."""
        if not self.sensors:
            if self.retired:
                return StallState.NO_SIGNAL, f"sensor {self.retired} revoked: assign another"
            return StallState.NO_SIGNAL, "no sensor assigned"
        for slot in self.sensors.values():
            if slot.last_seen is None:
                return StallState.NO_SIGNAL, f"{slot.role.value} sensor has not reported yet"
            interval = interval_of(slot.device_id) or self.rules.report_interval_s
            if now - slot.last_seen > self.rules.missed_reports * interval + 1.0:
                return StallState.NO_SIGNAL, f"{slot.role.value} sensor silent"
        door, heat = self.door.value, self.heat.value
        if door is False:
            return StallState.VACANT, "door open"
        if door is True:
            if heat is True:
                return StallState.OCCUPIED, "door closed, someone inside"
            if heat is False:
                shut_for = now - max(self.door.changed_at, self.heat.changed_at)
                if shut_for >= self.rules.door_left_shut_s:
                    return StallState.ATTENTION, "door left shut"
                return StallState.OCCUPIED, "door closed"
            return StallState.OCCUPIED, "door closed"
        if heat is not None:
            return (StallState.OCCUPIED, "someone inside") if heat else (StallState.VACANT, "nobody inside")
        if self.verdict.value is not None:
            return (StallState.OCCUPIED, "sensor: occupied") if self.verdict.value else (StallState.VACANT,
                                                                                          "sensor: vacant")
        return StallState.NO_SIGNAL, "no reading yet"


class StallBoard:
    """Every stall's fusion; the ingest side reports readings, a ticker asks for what changed."""

    def __init__(self, rules: StallRules, interval_of: Callable[[str], float | None] = lambda _d: None) -> None:
        self.rules = rules
        self._interval_of = interval_of
        self._stalls: dict[int, Stall] = {}
        self._sensor_stall: dict[str, int] = {}
        self._published: dict[int, StallView] = {}

    def configure(self, stalls: Iterable[int], sensors: Iterable[tuple[str, int, SensorRole]],
                  retired: dict[int, str] | None = None,
                  last_seen_of: Callable[[str], float | None] = lambda _d: None) -> None:
        """Set the stalls and sensor assignments (device id, stall id, role); keeps what each stall knew.
        `retired`: stall -> a revoked sensor's name; `last_seen_of`: when a sensor new to the board (after a hub
        restart) was last heard from, so it is "silent since", not "has not reported yet"."""
        wanted = set(stalls)
        for stall_id in list(self._stalls):
            if stall_id not in wanted:
                del self._stalls[stall_id]
                self._published.pop(stall_id, None)
        for stall_id in wanted:
            self._stalls.setdefault(stall_id, Stall(stall_id, self.rules))
        assigned: dict[int, dict[str, SensorRole]] = {s: {} for s in wanted}
        self._sensor_stall = {}
        for device_id, stall_id, role in sensors:
            if stall_id in wanted:
                assigned[stall_id][device_id] = role
                self._sensor_stall[device_id] = stall_id
        for stall_id, roles in assigned.items():
            stall = self._stalls[stall_id]
            old = stall.sensors
            stall.sensors = {d: SensorSlot(d, r, old[d].last_seen if d in old and old[d].role is r
                                           else last_seen_of(d)) for d, r in roles.items()}
            stall.retired = (retired or {}).get(stall_id, "")

    def stall_of(self, device_id: str) -> int | None:
        return self._sensor_stall.get(device_id)

    def report(self, device_id: str, reading: Reading, now: float) -> StallView | None:
        """A sensor's reading; returns the stall's new view if what a tile shows changed."""
        stall_id = self._sensor_stall.get(device_id)
        if stall_id is None:
            return None
        self._stalls[stall_id].report(device_id, reading, now)
        return self._refresh(stall_id, now)

    def tick(self, now: float) -> list[StallView]:
        """Once a second: staleness, debounce expiry and door-left-shut; returns the views that changed."""
        return [v for v in (self._refresh(s, now) for s in list(self._stalls)) if v is not None]

    def views(self, now: float) -> list[StallView]:
        self.tick(now)
        return [self._published[s] for s in sorted(self._published)]

    def _refresh(self, stall_id: int, now: float) -> StallView | None:
        view = self._stalls[stall_id].view(now, self._interval_of)
        old = self._published.get(stall_id)
        self._published[stall_id] = view
        if old is None or (old.state, old.reason, old.updated_at) != (view.state, view.reason, view.updated_at):
            return view
        return None


# --- what screens show (built by kiosk.store.stalls and kiosk.services.stalls) ----------------------------------


@dataclass(frozen=True)
class StallPlace:
    """Where a stall is, for tiles and displays."""

    stall_id: int
    restroom_id: int
    restroom: str
    floor: str
    label: str
    position: int
    restroom_position: int


@dataclass(frozen=True)
class SensorInfo:
    device_id: str
    name: str
    kind: str
    role: SensorRole | None  # None: not assigned to a stall (a pending sensor)
    stall_id: int | None
    model: str | None
    ip: str | None
    revoked: bool


@dataclass(frozen=True)
class StallInfo:
    id: int
    restroom_id: int
    label: str
    position: int
    sensors: tuple[SensorInfo, ...]


@dataclass(frozen=True)
class RestroomInfo:
    id: int
    name: str
    floor: str
    position: int
    stalls: tuple[StallInfo, ...]
