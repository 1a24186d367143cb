"""What the kiosk knows about each device while it runs: counters, last seen, last rejection, online state.

Pure Python with an injected clock, so that "offline after N seconds" is tested without waiting.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import Enum

from kiosk.protocol.payloads import Heartbeat, Reason, StatusReport

KINDS = ("stall", "energy", "esp32", "sensor")  # devices that report (and take firmware)
SCREEN_KINDS = ("station", "display")  # logins of screens: a second desk (the API), a wall display (MQTT, read-only)

# A reading whose own time is this much older than now comes from a device's backlog (it buffered while offline):
# it is stored at its time and rolled up, but it is history, not news (no live stall state, no live phantom alert).
BACKLOG_AFTER_S = 120.0


class Online(str, Enum):
    NEVER = "never seen"
    ONLINE = "online"
    OFFLINE = "offline"  # the device said so (status "offline", e.g. its last will, or going to sleep)
    NO_SIGNAL = "no signal"  # it stopped reporting: silent for about three of its usual reports


@dataclass(frozen=True)
class DeviceInfo:
    """A registered device as the store knows it (no secrets)."""

    id: str
    name: str
    kind: str
    organization: str
    created_at: float
    revoked: bool = False


@dataclass(frozen=True)
class DeviceSnapshot:
    """Everything the Devices view shows about one device, frozen so it can cross threads."""

    id: str
    name: str
    kind: str
    last_seen: float | None
    received: int
    rejected: int
    last_reject_reason: str | None
    last_reject_detail: str | None
    battery: float | None
    signal: float | None
    firmware: str | None
    ip: str | None
    online: Online
    revoked: bool = False
    report_interval_s: float | None = None  # learned from the device's own rhythm; None until known
    mac: str | None = None
    uptime_s: float | None = None  # as last reported, at uptime_at
    uptime_at: float | None = None


MISSED_REPORTS = 3  # a device is offline after missing about this many of its usual reports
BURST_GAP_S = 1.0  # readings closer than this belong to one report (a meter sends all its ports at once)
GAPS_KEPT = 9


def usual_interval(gaps: list[float]) -> float | None:
    """A device's usual report interval: the median of its recent gaps, ignoring gaps inside a burst."""
    real = sorted(g for g in gaps if g >= BURST_GAP_S)
    if len(real) < 2:
        return None
    return real[len(real) // 2]


class DeviceTracker:
    """Live state of every known device; the device worker owns it (one thread).

    A device is marked offline when it has been silent for about three of its usual report intervals (learned from
    its own rhythm); until its rhythm is known, after `offline_after_s`.
    """

    def __init__(self, clock: Callable[[], float], offline_after_s: float) -> None:
        self._clock = clock
        self.offline_after_s = offline_after_s
        self._devices: dict[str, DeviceSnapshot] = {}
        self._gaps: dict[str, list[float]] = {}

    def load(self, snapshots: list[DeviceSnapshot]) -> None:
        self._devices = {s.id: s for s in snapshots}

    def __contains__(self, device_id: str) -> bool:
        return device_id in self._devices

    def get(self, device_id: str) -> DeviceSnapshot | None:
        return self._devices.get(device_id)

    def all(self) -> list[DeviceSnapshot]:
        return list(self._devices.values())

    def upsert(self, info: DeviceInfo) -> DeviceSnapshot:
        old = self._devices.get(info.id)
        if old is None:
            snap = DeviceSnapshot(info.id, info.name, info.kind, None, 0, 0, None, None, None, None, None, None,
                                  Online.NEVER, info.revoked)
        else:
            snap = replace(old, name=info.name, kind=info.kind, revoked=info.revoked)
        self._devices[info.id] = snap
        return snap

    def remove(self, device_id: str) -> None:
        self._devices.pop(device_id, None)

    def accepted(self, device_id: str, message: object) -> DeviceSnapshot:
        old = self._devices[device_id]
        now = self._clock()
        interval = self._learn(device_id, old.last_seen, now, old.report_interval_s)
        # The hot path (every reading): build the snapshot directly, dataclasses.replace costs three times more.
        snap = DeviceSnapshot(old.id, old.name, old.kind, now, old.received + 1, old.rejected,
                              old.last_reject_reason, old.last_reject_detail, old.battery, old.signal, old.firmware,
                              old.ip, Online.ONLINE, old.revoked, interval, old.mac, old.uptime_s, old.uptime_at)
        if isinstance(message, StatusReport):
            snap = replace(snap, battery=_keep(message.battery, snap.battery),
                           signal=_keep(message.signal, snap.signal),
                           firmware=message.firmware or snap.firmware, ip=message.ip or snap.ip,
                           mac=message.mac or snap.mac,
                           online=Online.OFFLINE if message.status == "offline" else Online.ONLINE)
            if message.uptime_s is not None:
                snap = replace(snap, uptime_s=message.uptime_s, uptime_at=now)
        elif isinstance(message, Heartbeat):
            snap = replace(snap, signal=_keep(message.signal, snap.signal),
                           firmware=message.firmware or snap.firmware, ip=message.ip or snap.ip,
                           mac=message.mac or snap.mac)
            if message.uptime_s is not None:
                snap = replace(snap, uptime_s=message.uptime_s, uptime_at=now)
        self._devices[device_id] = snap
        return snap

    def present(self, device_id: str, online: Online, now: float, quiet: bool = False) -> DeviceSnapshot:
        """A screen (station, display) connected to the hub's API (`online` ONLINE, last seen `now`) or gone from
        it (OFFLINE). `quiet`: only keep its last-seen time fresh, so it never counts as silent while connected."""
        old = self._devices[device_id]
        snap = replace(old, last_seen=now if online is Online.ONLINE else old.last_seen, online=online)
        self._devices[device_id] = snap
        return snap

    def rejected(self, device_id: str, reason: Reason, detail: str, count: int = 1) -> DeviceSnapshot:
        """Count rejected messages; a device that sent them is still alive, so last seen moves too."""
        old = self._devices[device_id]
        snap = replace(old, last_seen=self._clock(), rejected=old.rejected + count, last_reject_reason=reason.value,
                       last_reject_detail=detail, online=Online.ONLINE)
        self._devices[device_id] = snap
        return snap

    def _learn(self, device_id: str, last_seen: float | None, now: float, known: float | None) -> float | None:
        if last_seen is None:
            return known
        gap = now - last_seen
        if gap < BURST_GAP_S:
            return known
        gaps = self._gaps.setdefault(device_id, [])
        gaps.append(gap)
        del gaps[:-GAPS_KEPT]
        return usual_interval(gaps)

    def silence_limit(self, snap: DeviceSnapshot) -> float:
        """How long this device may be silent before it is shown offline."""
        if snap.report_interval_s is None:
            return self.offline_after_s
        return MISSED_REPORTS * snap.report_interval_s + BURST_GAP_S

    def expire(self) -> list[DeviceSnapshot]:
        """Mark devices silent for too long as "no signal"; returns the ones that changed."""
        now = self._clock()
        changed = []
        for snap in self._devices.values():
            if snap.online is Online.ONLINE and snap.last_seen is not None and \
                    now - snap.last_seen > self.silence_limit(snap):
                changed.append(replace(snap, online=Online.NO_SIGNAL))
        for snap in changed:
            self._devices[snap.id] = snap
        return changed


def _keep(new: float | None, old: float | None) -> float | None:
    return old if new is None else new


class LogLimiter:
    """Lets one log line through per key per interval, counting what it held back."""

    def __init__(self, clock: Callable[[], float], interval_s: float = 60.0) -> None:
        self._clock = clock
        self._interval_s = interval_s
        self._last: dict[tuple[str, ...], float] = {}
        self._held: dict[tuple[str, ...], int] = {}

    def allow(self, *key: str) -> tuple[bool, int]:
        """Returns (may log now, how many were held back since the last line for this key)."""
        now = self._clock()
        last = self._last.get(key)
        if last is not None and now - last < self._interval_s:
            self._held[key] = self._held.get(key, 0) + 1
            return False, 0
        self._last[key] = now
        return True, self._held.pop(key, 0)


@dataclass(frozen=True)
class ProvisionedDevice:
    """A new device and its token: the one moment the token exists in clear (shown once, never stored or logged)."""

    info: DeviceInfo
    token: str
    broker_host: str
    broker_port: int
    hub_url: str = ""  # a desk station's: the hub's API (http://HOST:PORT); "" for everything that logs in to MQTT

    def qr_text(self) -> str:
        """What the QR code carries: everything a provisioning app needs to configure the device."""
        return provisioning_text(self.info.id, self.token, self.broker_host, self.broker_port, self.hub_url)


def provisioning_text(device_id: str, token: str, host: str, port: int, hub_url: str = "") -> str:
    """The QR's JSON: a device's id, token and the hub's broker address; a desk station's token and the hub's API
    address instead (a station never logs in to the broker)."""
    if hub_url:
        return json.dumps({"station": device_id, "token": token, "hub": hub_url}, separators=(",", ":"))
    return json.dumps({"deviceId": device_id, "token": token, "host": host, "port": port}, separators=(",", ":"))


@dataclass(frozen=True)
class SerialBoardInfo:
    """A USB board the hub has seen (`kiosk serial list`): its key, the device its readings go to, where and what."""

    key: str  # its hello id, else its USB serial number, else path-NAME
    device_id: str
    path: str
    firmware: str | None
    last_seen: float
