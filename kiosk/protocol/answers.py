"""The records the hub's API answers with, shared by the hub (kiosk.services.api) and its clients (kiosk.client):
one definition, so the two sides cannot drift apart. Records that are the store's own (LockerState, MemberInfo,
Series...) live in kiosk.core; these exist only to carry an answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kiosk.core.devices import DeviceSnapshot
from kiosk.core.lockers import Assignment, HistoryRow, LockerCounts, LockerState
from kiosk.core.operators import Operator
from kiosk.core.stalls import StallPlace, StallView


@dataclass(frozen=True)
class LockerChange:
    """What one operation changed: the assignments it made or ended, and the lockers as the board now shows them.
    The same object is the `lockers` event's data."""

    action: str
    by: str
    assignments: list[Assignment] = field(default_factory=list)
    lockers: list[LockerState] = field(default_factory=list)
    members: bool = False  # the roster changed (a member added, edited or imported)
    counts: LockerCounts | None = None
    seq: int = 0  # the event that announced it (a screen applies a locker's state only if newer than its own)


@dataclass(frozen=True)
class HistoryPage:
    rows: list[HistoryRow]
    more: bool  # more rows match than a page holds (exports have no limit)


@dataclass(frozen=True)
class RosterImported:
    added: int


@dataclass(frozen=True)
class SessionOpened:
    """`token` goes in the X-Kiosk-Session header of the calls this operator makes from this station."""

    token: str
    id: str
    operator: Operator
    idle_s: float
    max_age_s: float


@dataclass(frozen=True)
class HubInfo:
    api: int
    version: str
    hub: str  # changes at every start of the hub
    needs_first_admin: bool


@dataclass(frozen=True)
class StallTile:
    place: StallPlace
    view: StallView


@dataclass(frozen=True)
class Created:
    id: int


@dataclass(frozen=True)
class SettingRow:
    """A setting an admin may change while the hub runs: its value now, where that comes from, whether it may be
    changed from a screen (not when the environment or the command line set it). kiosk.config.setting(key) says
    its type, range and help."""

    key: str
    value: Any
    source: str
    editable: bool


@dataclass(frozen=True)
class DeviceChanges:
    """The `devices` event: devices whose live state changed, and devices an admin deleted."""

    changed: list[DeviceSnapshot]
    removed: list[str]
