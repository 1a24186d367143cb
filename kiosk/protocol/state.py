"""The hub's derived state on MQTT (`kiosk/state/...`, retained), read by wall displays: parsing is pure and strict.

A display must never show a wrong state, so a payload that does not parse is dropped (and counted by the caller),
never guessed at.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

STALLS_FILTER = "kiosk/state/stalls/+"
HUB_TOPIC = "kiosk/state/hub"
LOCKERS_TOPIC = "kiosk/state/lockers"
STATES = ("vacant", "occupied", "no_signal", "attention")


@dataclass(frozen=True)
class StallStateMessage:
    stall_id: int
    restroom: str
    floor: str
    label: str
    position: int
    restroom_position: int
    state: str
    reason: str
    since: float
    updated: float | None


@dataclass(frozen=True)
class HubBeat:
    online: bool
    at: float
    beat_s: float


@dataclass(frozen=True)
class LockerCountsMessage:
    free: int
    in_use: int
    overdue: int
    out_of_order: int
    total: int


class StateError(ValueError):
    pass


def stall_id_of(topic: str) -> int:
    try:
        return int(topic.rsplit("/", 1)[1])
    except (IndexError, ValueError):
        raise StateError(f"not a stall state topic: {topic!r}") from None


def parse_stall_state(topic: str, payload: bytes) -> StallStateMessage | None:
    """The state of one stall, or None when the stall was removed (an empty retained payload)."""
    stall_id = stall_id_of(topic)
    if not payload:
        return None
    try:
        body = json.loads(payload)
        message = StallStateMessage(stall_id, str(body["restroom"]), str(body.get("floor", "")), str(body["label"]),
                                    int(body.get("position", 0)), int(body.get("restroom_position", 0)),
                                    str(body["state"]), str(body.get("reason", "")), float(body["since"]),
                                    None if body.get("updated") is None else float(body["updated"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise StateError(f"bad stall state on {topic}: {exc}") from None
    if message.state not in STATES or message.stall_id != int(body.get("stall", stall_id)):
        raise StateError(f"bad stall state on {topic}: state {message.state!r}")
    return message


def hub_beat_payload(online: bool, at: float, beat_s: float) -> bytes:
    """Retained on kiosk/state/hub: displays tell "hub unreachable" from "all stalls quiet"."""
    return json.dumps({"online": online, "at": round(at, 3), "beat_s": beat_s}).encode()


def parse_hub_beat(payload: bytes) -> HubBeat:
    try:
        body = json.loads(payload)
        return HubBeat(bool(body["online"]), float(body["at"]), float(body.get("beat_s", 5)))
    except (ValueError, KeyError, TypeError) as exc:
        raise StateError(f"bad hub state: {exc}") from None


def locker_counts_payload(free: int, in_use: int, overdue: int, out_of_order: int) -> bytes:
    """Retained on kiosk/state/lockers by the hub whenever a count changes."""
    return json.dumps({"free": free, "in_use": in_use, "overdue": overdue, "out_of_order": out_of_order,
                       "total": free + in_use + out_of_order}).encode()


def parse_locker_counts(payload: bytes) -> LockerCountsMessage:
    try:
        body = json.loads(payload)
        message = LockerCountsMessage(*(int(body[key]) for key in ("free", "in_use", "overdue", "out_of_order",
                                                                   "total")))
    except (ValueError, KeyError, TypeError) as exc:
        raise StateError(f"bad locker counts: {exc}") from None
    if min(message.free, message.in_use, message.overdue, message.out_of_order) < 0 or \
            message.total != message.free + message.in_use + message.out_of_order:
        raise StateError(f"bad locker counts: {payload[:80]!r}")
    return message
