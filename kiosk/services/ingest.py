"""The ingest pipeline: envelope -> protocol parse -> core device state -> store writer -> events.

Every road into the kiosk hands what a device sent to `Ingest.take` as an `Envelope`: MQTT messages (live from the
hub's subscription, or late from the broker's journal) with their topic and raw payload, a USB board's reading and
an HTTP reading with the device already known (by its board mapping, by its token) and the body already decoded.
`take` never raises for bad input: a rejection is counted per device and reason, written to the store, logged at
most once a minute per device and reason, and shown in the Devices view; what it says is in the returned `Taken`.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from kiosk.core.devices import BACKLOG_AFTER_S, DeviceInfo, DeviceSnapshot, DeviceTracker, LogLimiter, Online
from kiosk.core.stalls import Reading
from kiosk.core.status import IngestStats
from kiosk.protocol import payloads
from kiosk.protocol.legacy import LegacyAddress, LegacyState, LegacyType, parse_legacy, parse_legacy_topic
from kiosk.protocol.payloads import Reason, Rejected
from kiosk.protocol.topics import DEVICE_PREFIXES, TO_DEVICE_CHANNELS, Channel, TopicError, parse_device_topic
from kiosk.store.devices import DeviceRegistry, legacy_device_id
from kiosk.store.writer import StoreWriter

log = logging.getLogger(__name__)
UNKNOWN_RECHECK_S = 10.0
RATE_WINDOW_TICKS = 10  # messages per second are averaged over the last ten ticks
RECENT_KEPT = 20  # messages per device kept in memory for the admin's detail pane


class IngestEvents(Protocol):
    """What the ingest pipeline reports; the GUI bridge and the headless logger implement it."""

    def device_changed(self, snapshot: DeviceSnapshot) -> None: ...


@dataclass(frozen=True)
class TimeWindow:
    """How far a reading's own time (`ts`) may be from the kiosk's clock."""

    max_past_s: float = 7 * 86400
    max_future_s: float = 300.0

    def check(self, at: float, now: float) -> None:
        if at < now - self.max_past_s:
            raise Rejected(Reason.OUT_OF_RANGE, f"its time ('ts') is {_ago(now - at)} in the past; readings up to "
                                                f"{_ago(self.max_past_s)} old are kept (ingest.max_past_s)")
        if at > now + self.max_future_s:
            raise Rejected(Reason.OUT_OF_RANGE, f"its time ('ts') is {_ago(at - now)} ahead of the kiosk's clock; "
                                                f"at most {_ago(self.max_future_s)} is taken (ingest.max_future_s)")


def _ago(seconds: float) -> str:
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:.1f} days"
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.0f} min" if seconds >= 120 else f"{seconds:.0f} s"


SEQS_KEPT = 1024  # recent reading ids (`seq`) remembered per device, to drop a reading sent twice


class Road(Enum):
    """How a message came in."""

    MQTT = "mqtt"  # live, from the hub's subscription (the hub's own orders to devices, heard back, are ignored)
    JOURNAL = "journal"  # from the embedded broker's journal: acknowledged to the device, not stored yet
    SERIAL = "serial"  # a USB board's reading line, for the device the board is mapped to
    HTTP = "http"  # `POST /api/sensor/reading`, for the device its token names, on a port it owns


@dataclass(frozen=True)
class Envelope:
    """One message from a device, as every road hands it in.

    MQTT and the journal carry `topic` and the raw `payload` (the device is named by the topic); USB serial and
    HTTP carry `device_id` and a decoded `body` (one energy reading), HTTP also the `port` it was checked to own."""

    road: Road
    topic: str = ""
    payload: bytes = b""
    device_id: str = ""
    body: dict[str, Any] | None = None
    port: Any = None  # kiosk.core.energy.PortInfo of an HTTP reading
    at: float | None = None  # when it arrived, if not now (a message read late from the journal)
    mark: float | None = None  # a benchmark's send time, carried to the store's commit


@dataclass(frozen=True)
class Taken:
    """What became of an envelope: accepted, or the rejection (counted and logged already); `result` is what the
    energy service reported for an energy reading that came with a body (HTTP answers with it)."""

    accepted: bool
    rejected: Rejected | None = None
    result: Any = None
    at: float | None = None  # the reading's time: its own, or when it arrived
    message: Any = None  # the reading as parsed (kiosk.protocol.payloads.EnergyReading)


NOTHING = Taken(False)


class Ingest:
    def __init__(self, registry: DeviceRegistry, writer: StoreWriter, events: IngestEvents, max_payload_bytes: int,
                 offline_after_s: float, clock: Callable[[], float] = time.time,
                 on_stall: Callable[[str, Reading, float], None] | None = None,
                 on_energy: Callable[[str, payloads.EnergyReading, float, Any], Any] | None = None,
                 on_accepted: Callable[[str, Any, DeviceSnapshot], None] | None = None,
                 window: TimeWindow = TimeWindow(), legacy: bool = False) -> None:
        self._registry = registry
        self._legacy = legacy  # legacy StallSense boards publish on their own names (stalls.legacy_stallsense)
        self._window_rule = window
        self._seqs: dict[str, OrderedDict[str, None]] = {}
        self.duplicates = 0
        self._on_stall = on_stall
        self._on_energy = on_energy  # writes energy rows itself (by port), with rollups and phantom detection
        self._on_accepted = on_accepted  # every accepted message (command answers, uptimes: the command service)
        self._legacy_details: dict[str, str | None] = {}  # a legacy board's type, as last written
        self._writer = writer
        self._events = events
        self._max_bytes = max_payload_bytes
        self._clock = clock
        self._lock = threading.Lock()
        self._screens_seen: set[str] = set()  # stations and displays on the event stream at the last tick
        self._offline_after_s = offline_after_s
        self.tracker = DeviceTracker(clock, offline_after_s)
        self._limiter = LogLimiter(clock)
        self._unknown_checked: dict[str, float] = {}
        self._errors_seen: set[tuple[str, str, int]] = set()
        self.accepted = 0
        self.rejected = 0
        self.unknown_devices = 0
        self._rate_count = 0
        self._rate_since = clock()
        self._last_rate = 0.0
        self._window: deque[tuple[int, float]] = deque(maxlen=RATE_WINDOW_TICKS)
        # Each device's latest messages for the admin's detail pane: (time, accepted, message or (reason, detail)),
        # described only when someone looks (kiosk.protocol.payloads.describe).
        self._recent: dict[str, deque[tuple[float, bool, Any]]] = {}

    def load(self) -> list[DeviceSnapshot]:
        with self._lock:
            self.tracker.load(self._registry.snapshots(self._offline_after_s))
            return self.tracker.all()

    def device_registered(self, info: DeviceInfo) -> None:
        with self._lock:
            snap = self.tracker.upsert(info)
            self._unknown_checked.pop(info.id, None)
        self._events.device_changed(snap)

    def set_offline_after(self, seconds: float) -> None:
        """A device whose rhythm is not known yet is offline after this long (changed at run time)."""
        with self._lock:
            self._offline_after_s = seconds
            self.tracker.offline_after_s = seconds

    def device_removed(self, device_id: str) -> None:
        with self._lock:
            self.tracker.remove(device_id)
            self._unknown_checked.pop(device_id, None)
            self._recent.pop(device_id, None)

    def _remember(self, device_id: str, now: float, accepted: bool, what: Any) -> None:
        recent = self._recent.get(device_id)
        if recent is None:
            recent = self._recent[device_id] = deque(maxlen=RECENT_KEPT)
        recent.append((now, accepted, what))

    def recent(self, device_id: str) -> list[tuple[float, bool, str]]:
        """The device's latest messages since the hub started, newest first: (time, accepted, what)."""
        with self._lock:
            items = list(self._recent.get(device_id, ()))
        return [(ts, ok, payloads.describe(what) if ok else f"rejected, {what[0].value.replace('_', ' ')}: {what[1]}")
                for ts, ok, what in reversed(items)]

    def take(self, envelope: Envelope) -> Taken:
        """The one entry point: a message from any road. Never raises: bad input is counted and logged as its
        reason, a failure of the hub's own as `internal_error` (logged with its traceback the first time)."""
        if envelope.body is not None:
            return self._take_reading(envelope)
        topic = envelope.topic
        parts = topic.split("/")
        if envelope.road is Road.MQTT and len(parts) == 3 and (parts[0], parts[2]) in TO_DEVICE_CHANNELS:
            return NOTHING  # the hub's own commands and OTA orders, heard back through its subscription
        if parts[0] in DEVICE_PREFIXES or not self._legacy:
            try:
                return Taken(self._handle(topic, envelope.payload, envelope.mark, envelope.at))
            except Exception as exc:
                self.internal_error(_topic_device(topic), exc)
                return NOTHING
        try:
            return Taken(self._handle_legacy(topic, envelope.payload, envelope.mark, envelope.at))
        except Exception as exc:
            self.internal_error(legacy_device_id(topic.split("/")[0][:64] or "?"), exc)
            return NOTHING

    def handle(self, topic: str, payload: bytes, mark: float | None = None, at: float | None = None) -> bool:
        """An MQTT message (see `take`); whether it was accepted."""
        return self.take(Envelope(Road.MQTT, topic, payload, at=at, mark=mark)).accepted

    def _handle(self, topic: str, payload: bytes, mark: float | None, at: float | None) -> bool:
        now = self._clock() if at is None else at
        with self._lock:
            self._rate_count += 1
            try:
                where = parse_device_topic(topic)
            except TopicError as exc:
                device_id = topic.split("/")[1] if topic.count("/") >= 2 else "?"
                self._known(device_id, now)  # counted on the device even when this is its first message
                self._reject(device_id, Reason.UNKNOWN_TOPIC, str(exc), now)
                return False
            if not self._known(where.device_id, now):
                self.unknown_devices += 1
                revoked = where.device_id in self.tracker
                detail = (f"device {where.device_id[:64]} is revoked" if revoked else
                          f"no registered device has id {where.device_id[:64]!r}")
                self._reject(where.device_id, Reason.UNKNOWN_DEVICE, detail, now)
                return False
            try:
                items = (payloads.parse_datastream(payload, self._max_bytes) if where.channel is Channel.DATASTREAM
                         else [payloads.parse(where.channel, payload, self._max_bytes)])
            except Rejected as exc:
                self._reject(where.device_id, exc.reason, exc.detail, now)
                return False
            taken = self._take(where.device_id, items, now)
        for message, snap in taken:
            self._deliver(where.device_id, message, snap, now, mark)
        return bool(taken)

    def _take(self, device_id: str, items: list[Any], now: float) -> list[tuple[Any, DeviceSnapshot]]:
        """Under the lock: each reading of a message checked for its time and id, counted on the device."""
        taken = []
        for item in items:
            try:
                if isinstance(item, Rejected):
                    raise item
                if getattr(item, "at", None) is not None:
                    self._window_rule.check(item.at, now)
            except Rejected as exc:
                self._reject(device_id, exc.reason, exc.detail, now)
                continue
            if getattr(item, "seq", None) is not None and self._seen(device_id, item, now):
                self.duplicates += 1  # the device sent it again (it did not hear it was kept): not stored twice
                continue
            snap = self.tracker.accepted(device_id, item)
            self.accepted += 1
            self._remember(device_id, now, True, item)
            taken.append((item, snap))
        return taken

    def _seen(self, device_id: str, reading: Any, now: float) -> bool:
        """Whether this reading's id came from the device before (and remember it if not): the device's recent ids
        are in memory; for a backlog reading (a re-sent backlog may reach further back) the database is asked too,
        so that its rollups are not counted twice."""
        seq = reading.seq
        seen = self._seqs.get(device_id)
        if seen is None:
            seen = self._seqs[device_id] = OrderedDict()
        if seq in seen:
            seen.move_to_end(seq)
            return True
        seen[seq] = None
        if len(seen) > SEQS_KEPT:
            seen.popitem(last=False)
        late = reading.at is not None and reading.at < now - BACKLOG_AFTER_S
        return late and self._registry.reading_stored(_TABLE_OF[type(reading)], device_id, seq)

    def _deliver(self, device_id: str, message: Any, snap: DeviceSnapshot, now: float, mark: float | None) -> None:
        """An accepted reading to the store and the services. A reading with its own time is stored at that time;
        one from a backlog (older than BACKLOG_AFTER_S) is history, not news: it does not move a stall's state."""
        at = getattr(message, "at", None) or now
        if isinstance(message, payloads.EnergyReading) and self._on_energy is not None:
            self._on_energy(device_id, message, at, None)
        else:
            row = _row(message, device_id, at)
            if row is not None:
                self._writer.add(row[0], row[1], mark)
        self._writer.device_state(snap)
        self._events.device_changed(snap)
        if self._on_accepted is not None:
            self._on_accepted(device_id, message, snap)
        fresh = at >= self._clock() - BACKLOG_AFTER_S  # not `now`: a replayed journal entry is old news too
        if isinstance(message, payloads.StallReading) and self._on_stall is not None and fresh:
            door = None if message.door is None else message.door == "closed"
            self._on_stall(device_id, Reading(message.occupied, door, message.thermal), at)

    def _take_reading(self, envelope: Envelope) -> Taken:
        """An energy reading that came with a known device and a decoded body (USB serial, HTTP): validated like an
        MQTT one, counted on the device, then handed to the energy service."""
        try:
            return self._handle_energy(envelope.device_id, envelope.body or {}, envelope.port)
        except Rejected as exc:
            return Taken(False, exc)
        except Exception as exc:
            self.internal_error(envelope.device_id, exc)
            return Taken(False, Rejected(Reason.INTERNAL_ERROR, "the kiosk could not handle this reading"))

    def _handle_energy(self, device_id: str, body: dict[str, Any], port: Any) -> Taken:
        now = self._clock()
        with self._lock:
            self._rate_count += 1
            if not self._known(device_id, now):
                self._reject(device_id, Reason.UNKNOWN_DEVICE, f"no registered device has id {device_id[:64]!r}", now)
                raise Rejected(Reason.UNKNOWN_DEVICE, "unknown or revoked device")
            try:
                message = payloads.timed_energy_reading(body)
                if message.at is not None:
                    self._window_rule.check(message.at, now)
            except Rejected as exc:
                self._reject(device_id, exc.reason, exc.detail, now)
                raise
            if message.seq is not None and self._seen(device_id, message, now):
                self.duplicates += 1
                raise Rejected(Reason.DUPLICATE, f"reading {message.seq!r} was stored before")
            snap = self.tracker.accepted(device_id, message)
            self.accepted += 1
            self._remember(device_id, now, True, message)
        at = message.at or now
        result = self._on_energy(device_id, message, at, port) if self._on_energy is not None else None
        self._writer.device_state(snap)
        self._events.device_changed(snap)
        return Taken(True, None, result, at, message)

    def reject(self, device_id: str, reason: Reason, detail: str, count: int = 1) -> None:
        """Bad messages that came another way (a USB board's garbled line, an HTTP reading, publishes the broker
        refused): counted and logged like MQTT ones."""
        now = self._clock()
        with self._lock:
            self._rate_count += count
            self._known(device_id, now)
            self._reject(device_id, reason, detail, now, count)

    def _handle_legacy(self, topic: str, payload: bytes, mark: float | None, at: float | None) -> bool:
        now = self._clock() if at is None else at
        with self._lock:
            self._rate_count += 1
            try:
                where = parse_legacy_topic(topic)
            except TopicError as exc:
                self._reject(topic.split("/")[0][:64] or "?", Reason.UNKNOWN_TOPIC, str(exc), now)
                return False
            device_id = legacy_device_id(where.name)
            if device_id not in self.tracker:
                info = self._registry.get(device_id)
                if info is None:  # a new board: made by the store writer, in the commit of its first reading
                    info, rows = self._registry.discovered_legacy(where.name)
                    for table, row in rows:
                        self._writer.insert_new(device_id, table, row)
                    log.info("new StallSense board %r: pending until an admin assigns it to a stall", where.name)
                self.tracker.upsert(info)
            if self.tracker.get(device_id).revoked:  # type: ignore[union-attr]
                self._reject(device_id, Reason.UNKNOWN_DEVICE, f"StallSense board {where.name!r} is revoked", now)
                return False
            try:
                message = parse_legacy(where.field, payload)
            except Rejected as exc:
                self._reject(device_id, exc.reason, exc.detail, now)
                return False
            if isinstance(message, LegacyState):
                reading: payloads.DeviceMessage = payloads.StallReading(message.occupied, None, None)
            else:
                reading = payloads.Heartbeat(None, None, None, message.ip if isinstance(message, LegacyAddress)
                                             else None)
            snap = self.tracker.accepted(device_id, reading)
            self.accepted += 1
            self._remember(device_id, now, True, reading)
        if isinstance(message, LegacyType):
            self._remember_model(device_id, message.model)
        row = _row(reading, device_id, now)
        if row is not None:
            self._writer.add(row[0], row[1], mark)
        self._writer.device_state(snap)
        self._events.device_changed(snap)
        if isinstance(message, LegacyState) and self._on_stall is not None:
            self._on_stall(device_id, Reading(occupied=message.occupied), now)
        return True

    def _remember_model(self, device_id: str, model: str) -> None:
        """A board's type goes to the registry when it changes. (Its IP travels with the device state, which the
        store writer saves: writing it here too raced that save and could put back an older value.)"""
        if device_id not in self._legacy_details:
            self._legacy_details[device_id] = self._registry.details(device_id)[0]
        if self._legacy_details[device_id] != model:
            self._writer.statement(device_id, self._registry.details_changed(device_id, model=model))
            self._legacy_details[device_id] = model

    def _known(self, device_id: str, now: float) -> bool:
        if device_id in self.tracker:
            return not self.tracker.get(device_id).revoked  # type: ignore[union-attr]
        checked = self._unknown_checked.get(device_id)
        if checked is not None and now - checked < UNKNOWN_RECHECK_S:
            return False
        info = self._registry.get(device_id)
        if info is None:
            if len(self._unknown_checked) > 10_000:
                self._unknown_checked.clear()
            self._unknown_checked[device_id] = now
            return False
        self.tracker.upsert(info)
        return not info.revoked

    def internal_error(self, device_id: str, exc: Exception) -> None:
        """The hub failed on a message: count it like a rejection; the first of each kind is logged with its
        traceback, later ones as the usual once-a-minute line."""
        where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
        kind = (type(exc).__name__, where.filename if where else "", where.lineno if where else 0)
        detail = f"{type(exc).__name__}: {str(exc)[:200]}"
        if kind not in self._errors_seen:
            self._errors_seen.add(kind)
            log.error("could not handle a message from device %s (counted as internal_error from now on)",
                      device_id[:64], exc_info=exc)
        try:
            with self._lock:
                self._reject(device_id, Reason.INTERNAL_ERROR, detail, self._clock())
        except Exception:
            log.exception("could not even count a failed message")

    def _reject(self, device_id: str, reason: Reason, detail: str, now: float, count: int = 1) -> None:
        self.rejected += count
        snap = None
        if device_id in self.tracker:
            snap = self.tracker.rejected(device_id, reason, detail, count)
            self._remember(device_id, now, False, (reason, detail))
            self._writer.device_state(snap)
        self._writer.rejection(device_id[:64], reason.value, detail, now, count)
        log.debug("rejected message from device %s: %s: %s", device_id[:64], reason.value, detail)
        may_log, held = self._limiter.allow(device_id, reason.value)
        if may_log:
            more = f" ({held} more since the last report)" if held else ""
            log.warning("rejected message from device %s: %s: %s%s", device_id[:64], reason.value, detail, more)
        if snap is not None:
            self._events.device_changed(snap)

    def tick(self) -> list[DeviceSnapshot]:
        """Once a second: mark silent devices offline and measure the message rate."""
        now = self._clock()
        with self._lock:
            changed = self.tracker.expire()
            self._window.append((self._rate_count, max(now - self._rate_since, 1e-6)))
            self._last_rate = sum(c for c, _ in self._window) / sum(t for _, t in self._window)
            self._rate_count = 0
            self._rate_since = now
        for snap in changed:
            self._events.device_changed(snap)
        return changed

    def screens_connected(self, connected: set[str]) -> list[DeviceSnapshot]:
        """Stations and wall displays speak to the hub over its API, not MQTT: one that follows the event stream is
        online (last seen now); one that closed it said goodbye (offline, not "no signal": a display switched off
        for the night raises no notice). Once a second, from the devices job; returns the ones that changed."""
        now = self._clock()
        changed = []
        with self._lock:
            for device_id in connected | self._screens_seen:
                snap = self.tracker.get(device_id)
                if snap is None:
                    continue
                online = Online.ONLINE if device_id in connected else Online.OFFLINE
                if snap.online is not online or (online is Online.ONLINE and now - (snap.last_seen or 0) >= 30):
                    changed.append(self.tracker.present(device_id, online, now))
                elif online is Online.ONLINE:
                    self.tracker.present(device_id, online, now, quiet=True)
            self._screens_seen = set(connected)
        for snap in changed:
            self._events.device_changed(snap)
        return changed

    def tick_stats(self) -> IngestStats:
        return IngestStats(self.accepted, self.rejected, self.unknown_devices, self._last_rate)


_TABLE_OF = {payloads.EnergyReading: "energy", payloads.Telemetry: "telemetry", payloads.StallReading: "stall"}


def _topic_device(topic: str) -> str:
    parts = topic.split("/")
    return parts[1][:64] if len(parts) >= 3 and parts[1] else "?"


def _row(message: payloads.DeviceMessage, device_id: str, now: float) -> tuple[str, dict[str, Any]] | None:
    if isinstance(message, payloads.EnergyReading):
        return "energy", {"device_id": device_id, "port": message.port, "ts": now, "voltage": message.voltage,
                          "current": message.current, "power": message.power, "seq": message.seq}
    if isinstance(message, payloads.Telemetry):
        number = message.value if isinstance(message.value, float) else None
        text = message.value if isinstance(message.value, str) else None
        return "telemetry", {"device_id": device_id, "ts": now, "data_id": message.telemetry_data_id,
                             "value_num": number, "value_text": text, "urgent": message.urgent, "seq": message.seq}
    if isinstance(message, payloads.StallReading):
        return "stall", {"device_id": device_id, "ts": now, "occupied": message.occupied, "door": message.door,
                         "thermal": message.thermal, "seq": message.seq}
    if isinstance(message, payloads.LogLine):
        return "log", {"device_id": device_id, "ts": now, "level": message.level, "text": message.text}
    return None
