"""Energy readings from every road (MQTT, HTTP, USB serial) after validation: port, raw row, rollups, status, alerts.

`reading()` is called by the ingest pipeline on whichever thread delivered the reading. It resolves the port
(kiosk.store.energy), queues the raw row and the rollup buckets for the store writer, feeds the port's phantom
detector (kiosk.core.energy) and, when a port's status changes or a phantom episode is flagged, publishes it:
retained `kiosk/state/ports/{port id}` for displays and other systems, `kiosk/notifications` for alerts, and a
notification row that the app shows until someone acknowledges it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.core.devices import BACKLOG_AFTER_S
from kiosk.core.energy import (
    PhantomEpisode,
    PortDetector,
    PortReport,
    PortStatus,
    estimate_noise_floor,
    monthly_cost,
    roll_up,
)
from kiosk.protocol.payloads import EnergyReading
from kiosk.protocol.topics import STATE_PREFIX
from kiosk.store.energy import EnergyStore, PortError, PortInfo
from kiosk.store.models import AuditEntry, Port
from kiosk.store.writer import StoreWriter

log = logging.getLogger(__name__)
NOTIFICATIONS_TOPIC = "kiosk/notifications"
PORT_STATE_PREFIX = f"{STATE_PREFIX}/ports"
LIVE_KEPT_S = 600.0  # live graphs show the last minutes from memory, not from the database
ESTIMATE_EVERY = 300  # low readings between two estimates of an uncalibrated port's noise floor
LOW_READINGS_KEPT = 3600


@dataclass(frozen=True)
class PortState:
    port_id: str
    name: str
    status: PortStatus
    watts: float | None
    at: float


class EnergyService:
    def __init__(self, store: EnergyStore, writer: StoreWriter, publish: Callable[[str, bytes, bool], None],
                 tariff_per_kwh: float, currency: str = "", clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._writer = writer
        self._publish = publish
        self.tariff = tariff_per_kwh
        self.currency = currency
        self._clock = clock
        self._lock = threading.Lock()
        self._ports: dict[tuple[str, str | None], PortInfo] = {}
        self._discovered: dict[tuple[str, str | None], PortInfo] = {}  # new ports the writer has not stored yet
        self._resolving = threading.Lock()
        self._detectors: dict[str, PortDetector] = {}
        self._last_at: dict[str, float] = {}
        self._open: dict[str, int] = {}  # port id -> notification id of its open phantom episode
        self._low: dict[str, deque[float]] = {}  # an uncalibrated port's recent readings below its active threshold
        self._low_seen: dict[str, int] = {}
        self._ports_marker = store.ports_marker()
        self.states: dict[str, PortState] = {}
        self._live: dict[str, deque[tuple[float, float]]] = {}
        self._late_last: dict[str, float] = {}  # a port's previous backlog reading (energy between backlog readings)
        self._late_detectors: dict[str, PortDetector] = {}  # phantom loads within a backlog
        self._episodes: deque[tuple[str, PortInfo, PhantomEpisode]] = deque()  # to write on the ticker

    def port_of(self, device_id: str, channel: str | None) -> PortInfo:
        """A reading's port. A new channel's port is made through the store writer, in the same commit as the
        reading: a locked database then holds up the writer only, not the road the reading came in on."""
        key = (device_id, channel)
        port = self._ports.get(key)
        if port is not None:
            return port
        with self._resolving:
            port = self._ports.get(key) or self._store.find(device_id, channel)
            if port is not None:
                self._discovered.pop(key, None)
            else:
                port = self._discovered.get(key)
            if port is None:
                port, row, audit = self._store.discovered_port(device_id, channel)
                self._writer.insert_new(device_id, Port.__table__, row)
                self._writer.insert_new(device_id, AuditEntry.__table__, audit)
                self._discovered[key] = port  # until the commit makes it findable
                log.info("device %s: first reading on channel %r, new port %s", device_id, port.channel, port.id)
            self._ports[key] = port
        return port

    def owned_port(self, device_id: str, port_id: str) -> PortInfo:
        """An HTTP reading's port: it must exist and belong to the device whose token came with it."""
        port = self._store.port(port_id)
        if port is None or port.device_id != device_id:
            raise PortError(f"this device has no port {port_id[:64]!r}")
        self._ports[(device_id, port_id)] = port
        return port

    def reading(self, device_id: str, reading: EnergyReading, at: float, port: PortInfo | None = None
                ) -> PortReport:
        """A reading at `at` (the device's own time, or when it arrived). One from a backlog (older than
        BACKLOG_AFTER_S) is stored and rolled up, and looked at for phantom loads on its own (a late episode is noted
        as ended); it never moves the port's live status, which is about now."""
        port = port or self.port_of(device_id, reading.port)
        self._writer.add("energy", {"device_id": device_id, "port": port.id, "ts": at, "voltage": reading.voltage,
                                    "current": reading.current, "power": reading.power, "seq": reading.seq})
        if at < self._clock() - BACKLOG_AFTER_S:
            return self._late(port, at, reading.power)
        with self._lock:
            self._writer.rollups(roll_up([(port.id, at, reading.power)], self._last_at))
            detector = self._detectors.get(port.id)
            if detector is None:
                detector = self._detectors[port.id] = PortDetector(port.id, port.rules())
            if port.noise_floor_w is None and reading.power < port.active_w:
                self._learn_floor(port, detector, reading.power)
            before = detector.status
            report = detector.update(at, reading.power)
            live = self._live.setdefault(port.id, deque())
            live.append((at, reading.power))
            while live and live[0][0] < at - LIVE_KEPT_S:
                live.popleft()
        self._after(port, report, before, at)
        return report

    def _late(self, port: PortInfo, at: float, power: float) -> PortReport:
        """A backlog reading: its own rollups (energy flows from the backlog's previous reading, in order) and a
        detector of its own, so that a phantom load the device saw while offline is noted, not raised now."""
        with self._lock:
            if at < self._late_last.get(port.id, 0.0):  # out of order: start the backlog's chain again
                self._late_last.pop(port.id, None)
                self._late_detectors.pop(port.id, None)
            self._writer.rollups(roll_up([(port.id, at, power)], self._late_last))
            detector = self._late_detectors.get(port.id)
            if detector is None:
                live = self._detectors.get(port.id)
                detector = self._late_detectors[port.id] = PortDetector(port.id, live.rules if live else port.rules())
            report = detector.update(at, power)
            current = self._detectors.get(port.id)
            status = current.status if current is not None else PortStatus.NO_DATA
        if report.ended is not None:
            self._episodes.append(("late", port, report.ended))
        return PortReport(status, current.smoothed_w if current is not None else None)

    def _late_phantom(self, port: PortInfo, episode: PhantomEpisode) -> None:
        """A phantom load the device's backlog shows, started and ended while it was offline: kept as an ended
        notification (the admin sees it and its cost), not announced as a live alert."""
        cost = monthly_cost(episode.watts, self.tariff)
        title = f"Phantom load on {port.name}: {episode.watts:.1f} W (while offline, reported late)"
        detail = (f"{port.name} drew {episode.watts:.1f} W for {episode.duration_s / 60:.0f} min while it should "
                  f"have been idle; the device reported it later from its backlog.")
        # One transaction: a late episode is never seen open, and a failed write is retried without a twin.
        self._store.notify("phantom", port.id, title, detail, episode.watts, episode.duration_s, cost,
                           at=episode.started_at + episode.duration_s, ended_at=episode.ended_at)
        log.info("late phantom load on port %s (%s): %.1f W for %.0f min", port.id, port.name, episode.watts,
                 episode.duration_s / 60)

    def _learn_floor(self, port: PortInfo, detector: PortDetector, power: float) -> None:
        """Under the lock: an uncalibrated port's floor follows its sensor's noise (kiosk.core.energy)."""
        low = self._low.setdefault(port.id, deque(maxlen=LOW_READINGS_KEPT))
        low.append(power)
        seen = self._low_seen[port.id] = self._low_seen.get(port.id, 0) + 1
        if seen == 60 or seen % ESTIMATE_EVERY == 0:
            detector.set_rules(port.rules(estimate_noise_floor(low)))

    def reload_ports_if_edited(self) -> bool:
        """A port was added or changed (CLI, another station): forget cached ports and re-read their rules."""
        marker = self._store.ports_marker()
        if marker == self._ports_marker:
            return False
        self._ports_marker = marker
        with self._lock:
            self._ports.clear()
            for port_id, detector in self._detectors.items():
                port = self._store.port(port_id)
                if port is not None:
                    low = self._low.get(port_id)
                    estimated = estimate_noise_floor(low) if low and port.noise_floor_w is None else None
                    detector.set_rules(port.rules(estimated))
        return True

    def live(self, port_id: str, since: float) -> list[tuple[float, float]]:
        """The port's readings after `since` from the last ten minutes (for live graphs; thread-safe copy)."""
        with self._lock:
            return [(at, power) for at, power in self._live.get(port_id, ()) if at > since]

    def status(self, port_id: str) -> tuple[PortStatus, float | None]:
        with self._lock:
            detector = self._detectors.get(port_id)
            return (PortStatus.NO_DATA, None) if detector is None else (detector.status, detector.smoothed_w)

    def tick(self) -> None:
        """Once a second: phantom episodes seen since are written and announced; ports that went silent become
        NO DATA (and end their episodes)."""
        self.write_episodes()
        now = self._clock()
        with self._lock:
            reports = [(port_id, d.status, d.tick(now)) for port_id, d in self._detectors.items()]
        for port_id, before, report in reports:
            if report.status is not before or report.ended:
                port = self._store.port(port_id)
                if port is not None:
                    self._after(port, report, before, now)

    def republish(self) -> None:
        for state in list(self.states.values()):
            self._publish_state(state)

    def write_episodes(self) -> None:
        """Phantom episodes found by the roads in, written as notifications here (the hub's ticker), so that a
        reading never waits for the database. One that cannot be written now waits for the next tick."""
        while self._episodes:
            kind, port, episode = self._episodes[0]
            try:
                {"started": self._phantom_started, "ended": self._phantom_ended, "late": self._late_phantom}[kind](
                    port, episode)
            except Exception as exc:
                log.warning("could not write a phantom-load notification yet (tried again in a second): %s", exc)
                return
            self._episodes.popleft()

    def _after(self, port: PortInfo, report: PortReport, before: PortStatus, at: float) -> None:
        if report.started is not None:
            self._episodes.append(("started", port, report.started))
        if report.ended is not None:
            self._episodes.append(("ended", port, report.ended))
        if report.status is not before:
            state = PortState(port.id, port.name, report.status, report.smoothed_w, at)
            self.states[port.id] = state
            self._publish_state(state)

    def _publish_state(self, state: PortState) -> None:
        self._publish(f"{PORT_STATE_PREFIX}/{state.port_id}", json.dumps({
            "port": state.port_id, "name": state.name, "status": state.status.value,
            "watts": None if state.watts is None else round(state.watts, 2), "at": round(state.at, 3)}).encode(),
            True)

    def _phantom_started(self, port: PortInfo, episode: PhantomEpisode) -> None:
        cost = monthly_cost(episode.watts, self.tariff)
        title = f"Phantom load on {port.name}: {episode.watts:.1f} W"
        detail = (f"{port.name} has drawn {episode.watts:.1f} W for {episode.duration_s / 60:.0f} min while it "
                  f"should be idle: about {cost:.2f}{(' ' + self.currency) if self.currency else ''} a month at "
                  f"{self.tariff:g} per kWh. Switch it off at the socket, or adjust its schedule / active "
                  "threshold if this draw is expected.")
        notification = self._store.notify("phantom", port.id, title, detail, episode.watts, episode.duration_s, cost,
                                          at=episode.started_at + episode.duration_s)
        self._open[port.id] = notification
        log.info("phantom load on port %s (%s): %.1f W", port.id, port.name, episode.watts)
        self._publish(NOTIFICATIONS_TOPIC, json.dumps({
            "id": notification, "kind": "phantom", "port": port.id, "name": port.name,
            "watts": round(episode.watts, 2), "since": round(episode.started_at, 3),
            "duration_s": round(episode.duration_s), "monthly_cost": round(cost, 2), "tariff": self.tariff,
            "currency": self.currency}).encode(), False)

    def _phantom_ended(self, port: PortInfo, episode: PhantomEpisode) -> None:
        notification = self._open.pop(port.id, None)
        if notification is not None:
            self._store.update_notification(notification, episode.duration_s, episode.watts,
                                            monthly_cost(episode.watts, self.tariff), episode.ended_at)
