"""What the hub says about itself: the status every screen shows (once a second), `GET /api/v1/health` and
`GET /metrics` (Prometheus text). It reads its collaborators' counters and changes nothing.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Engine, text

from kiosk.core.status import BrokerStats, HubStatus
from kiosk.protocol.metrics import Metric, render

RATE_WINDOW_S = 10.0  # broker rates are averaged over this long, like the ingest rate


@dataclass
class Monitored:
    """The parts whose state the hub reports (handed in by the hub; None where the hub runs without one)."""

    config: Any
    engine: Engine
    writer: Any  # kiosk.store.writer.StoreWriter
    ingest: Any  # kiosk.services.ingest.Ingest
    broker: Any  # BrokerProcess / InProcessBroker, None with an external broker
    link: Any  # kiosk.services.mqtt_client.DeviceLink
    link_detail: Callable[[], str]
    http: Any  # kiosk.services.http.HttpServer or None
    http_refusals: Any
    journal_reader: Any  # kiosk.services.journal_reader.JournalReader or None
    locker_service: Any
    serial: Any  # kiosk.services.serial_worker.SerialWorker or None
    energy: Any  # kiosk.services.energy.EnergyService
    energy_store: Any
    api: Any  # kiosk.services.api.HubApi or None


class Monitoring:
    def __init__(self, parts: Monitored) -> None:
        self._p = parts
        self._broker_samples: deque[tuple[float, int, int]] = deque()

    def status(self) -> HubStatus:
        health = self._p.writer.health()
        ingest = self._p.ingest.tick_stats()
        broker = self._p.broker.stats() if self._p.broker else None
        rate_in, rate_out = self._broker_rates(broker)
        journal_ok, journal = self.journal_health(broker)
        ok, error = health.ok and journal_ok, health.last_error or (journal or {}).get("error")
        http = self._p.http
        return HubStatus(self._p.broker is not None, broker, self._p.link.connected.is_set(), self._p.link_detail(),
                         ingest,
                         self._p.config.database_label, ok, error, self.backlog(), rate_in, rate_out, journal,
                         self._p.ingest.duplicates, self._p.http_refusals.snapshot(),
                         http.throttle.slowed + http.throttle.refused_unchecked if http else 0,
                         http.open_connections() if http else 0)

    def _broker_rates(self, broker: BrokerStats | None) -> tuple[float, float]:
        """Messages per second into and out of the broker, averaged over the last 10 s (as the ingest rate)."""
        if broker is None:
            return 0.0, 0.0
        now = time.monotonic()
        samples = self._broker_samples
        if samples and broker.messages_in < samples[-1][1]:  # the broker restarted: its counters did too
            samples.clear()
        samples.append((now, broker.messages_in, broker.messages_out))
        while len(samples) > 2 and now - samples[0][0] > RATE_WINDOW_S:
            samples.popleft()
        first = samples[0]
        if now <= first[0]:
            return 0.0, 0.0
        return (broker.messages_in - first[1]) / (now - first[0]), (broker.messages_out - first[2]) / (now - first[0])

    def metrics(self) -> str:
        """`GET /metrics`: the hub's counters and gauges in Prometheus text format (kiosk.protocol.metrics)."""
        broker = self._p.broker.stats() if self._p.broker else None
        writer = self._p.writer.health()
        ingest = self._p.ingest.tick_stats()
        counts = self._p.locker_service.counts
        serial = self._p.serial.stats() if self._p.serial else []
        statuses: dict[str, int] = {}
        for state in self._p.energy.states.values():
            statuses[state.status.value] = statuses.get(state.status.value, 0) + 1
        metrics = [
            Metric("kiosk_broker_up", "gauge", "1 when the embedded broker runs.").add(
                None if broker is None else broker.running and broker.responding),
            Metric("kiosk_broker_clients", "gauge", "Connected MQTT clients.").add(broker and broker.connected),
            Metric("kiosk_broker_sessions", "gauge", "Sessions the broker holds.").add(broker and broker.sessions),
            Metric("kiosk_broker_messages_received_total", "counter", "Messages into the broker.").add(
                broker and broker.messages_in),
            Metric("kiosk_broker_messages_sent_total", "counter", "Messages out of the broker.").add(
                broker and broker.messages_out),
            Metric("kiosk_broker_memory_bytes", "gauge", "Resident memory of the broker process.").add(
                broker and broker.memory_bytes),
            Metric("kiosk_broker_uptime_seconds", "gauge", "Seconds since the broker started.").add(
                broker and broker.uptime_s),
            Metric("kiosk_broker_refused_logins_total", "counter", "Refused MQTT logins by reason."),
            Metric("kiosk_broker_refused_connections_total", "counter", "Connections refused before a login (an "
                   "unsupported protocol version), by reason."),
            Metric("kiosk_broker_refused_publishes_total", "counter", "Publishes acknowledged and dropped (the "
                   "device may not use the topic), by reason.").add(
                broker and broker.refused_publish_total),
            Metric("kiosk_broker_logins_slowed_total", "counter", "Failed MQTT logins answered late (repeated "
                   "failures from one address or name).").add(broker and broker.slowed_logins),
            Metric("kiosk_http_refused_total", "counter", "Refused HTTP requests by reason (wrong token, unknown "
                   "port, too large, timeout, too many connections, ...)."),
            Metric("kiosk_http_tokens_slowed_total", "counter", "Wrong HTTP device tokens answered late.").add(
                self._p.http and self._p.http.throttle.slowed + self._p.http.throttle.refused_unchecked),
            Metric("kiosk_messages_accepted_total", "counter", "Device messages accepted.").add(ingest.accepted),
            Metric("kiosk_messages_rejected_total", "counter", "Device messages rejected.").add(ingest.rejected),
            Metric("kiosk_readings_duplicate_total", "counter", "Readings sent again with a seq already stored "
                   "(not stored twice).").add(self._p.ingest.duplicates),
            Metric("kiosk_messages_per_second", "gauge", "Accepted message rate, last 10 s.").add(ingest.per_second),
            Metric("kiosk_database_up", "gauge", "1 while database writes work.").add(writer.ok),
            Metric("kiosk_database_backlog_rows", "gauge", "Readings taken in and not yet in the database (writer "
                   "and journal).").add(self.backlog()),
            Metric("kiosk_database_rows_refused_total", "counter", "Rows the database would not store "
                   "(rejected as cannot_store).").add(writer.poison_rows),
            Metric("kiosk_journal_behind_entries", "gauge", "Acknowledged device messages in the journal and not "
                   "yet in the database.").add(None if self._p.journal_reader is None else
                                               self._p.journal_reader.progress().behind),
            Metric("kiosk_journal_write_failures_total", "counter", "Failed journal commits (retried; "
                   "acknowledgements wait).").add(broker.journal.failures if broker and broker.journal else None),
            Metric("kiosk_journal_resent_copies_total", "counter", "Re-sent copies (DUP) of journaled messages, "
                   "acknowledged and left out.").add(broker.journal.resent_copies if broker and broker.journal
                                                    else None),
            Metric("kiosk_database_commits_total", "counter", "Store writer commits.").add(writer.commits),
            Metric("kiosk_database_write_failures_total", "counter", "Failed commits (retried).").add(writer.failures),
            Metric("kiosk_device_worker_connected", "gauge", "1 while the hub's MQTT link is up.").add(
                self._p.link.connected.is_set()),
            Metric("kiosk_serial_port_open", "gauge", "1 while a USB serial port is open."),
            Metric("kiosk_serial_lines_total", "counter", "Lines read from a USB serial port."),
            Metric("kiosk_serial_lines_dropped_total", "counter", "Lines dropped: too long or over the flood limit."),
            Metric("kiosk_lockers", "gauge", "Lockers by state."),
            Metric("kiosk_energy_ports", "gauge", "Energy ports by status (those that reported)."),
            Metric("kiosk_notifications_open", "gauge", "Notifications not yet acknowledged.").add(
                self._p.energy_store.open_count()),
        ]
        by_name = {m.name: m for m in metrics}
        for reason, count in (broker.refused_logins if broker else {}).items():
            by_name["kiosk_broker_refused_logins_total"].add(count, reason=reason)
        for reason, count in self._p.http_refusals.snapshot().items():
            by_name["kiosk_http_refused_total"].add(count, reason=reason)
        for version, count in (broker.unsupported_protocols if broker else {}).items():
            by_name["kiosk_broker_refused_connections_total"].add(
                count, reason=f"unsupported protocol version ({version})")
        for port in serial:
            by_name["kiosk_serial_port_open"].add(port.open, path=port.path, board=port.board)
            by_name["kiosk_serial_lines_total"].add(port.lines, path=port.path, board=port.board)
            by_name["kiosk_serial_lines_dropped_total"].add(port.overlong + port.flood_dropped, path=port.path,
                                                            board=port.board)
        if counts is not None:
            for state, value in (("free", counts.free), ("in_use", counts.in_use), ("overdue", counts.overdue),
                                 ("out_of_order", counts.out_of_order)):
                by_name["kiosk_lockers"].add(value, state=state)
        for status, value in statuses.items():
            by_name["kiosk_energy_ports"].add(value, status=status)
        return render(metrics)

    def backlog(self) -> int:
        """Readings taken in and not yet in the database: held by the writer, or acknowledged and still only in
        the broker's journal."""
        behind = self._p.journal_reader.progress().behind if self._p.journal_reader is not None else 0
        return self._p.writer.backlog() + behind

    def journal_health(self, broker: BrokerStats | None) -> tuple[bool, dict[str, Any] | None]:
        """The journal as health reports it; not ok when the broker cannot write it or the hub cannot read it."""
        if self._p.journal_reader is None:
            return True, None
        progress = self._p.journal_reader.progress()
        stats = broker.journal if broker is not None else None
        error = progress.error or (stats.last_error if stats is not None else None)
        return error is None, {
            "ok": error is None, "error": error, "last_seq": progress.last_seq, "stored_seq": progress.stored_seq,
            "behind": progress.behind, "holding": progress.holding,
            "waiting_for_disk": stats.waiting if stats is not None else None,
            "write_failures": stats.failures if stats is not None else None,
            "resent_copies": stats.resent_copies if stats is not None else None,
            "synchronous": self._p.config.broker.journal_sync}

    def health(self) -> tuple[bool, dict[str, Any]]:
        writer = self._p.writer.health()
        try:
            with self._p.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            db_ok, db_error = writer.ok, writer.last_error
        except Exception as exc:
            db_ok, db_error = False, str(exc)[:200]
        broker = self._p.broker.stats() if self._p.broker else None
        worker_ok = self._p.link.connected.is_set()
        journal_ok, journal = self.journal_health(broker)
        healthy = db_ok and worker_ok and journal_ok and (broker is None or (broker.running and broker.responding))
        body = {
            "status": "ok" if healthy else "degraded",
            "broker": {"embedded": broker is not None, "running": broker.running if broker else None,
                       "responding": broker.responding if broker else None,
                       "connected": broker.connected if broker else None,
                       "sessions": broker.sessions if broker else None,
                       "retained": broker.retained if broker else None,
                       "messages_in": broker.messages_in if broker else None,
                       "messages_out": broker.messages_out if broker else None,
                       "memory_bytes": broker.memory_bytes if broker else None,
                       "uptime_s": round(broker.uptime_s, 1) if broker else None,
                       "refused_logins": broker.refused_logins if broker else None,
                       "refused_connections": broker.unsupported_protocols if broker else None,
                       "refused_publishes": broker.refused_publish_total if broker else None,
                       "logins_slowed": broker.slowed_logins if broker else None},
            "http": {"refused": self._p.http_refusals.snapshot(),
                     "tokens_slowed": self._p.http.throttle.slowed + self._p.http.throttle.refused_unchecked
                     if self._p.http else None,
                     "open_connections": self._p.http.open_connections() if self._p.http else None},
            "api": self._p.api.stats() if self._p.api is not None else None,
            "database": {"ok": db_ok, "error": db_error, "backlog": self.backlog(), "commits": writer.commits,
                         "held_by_writer": writer.backlog, "rows_refused": writer.poison_rows},
            "journal": journal,
            "device_worker": {"connected": worker_ok, "broker": str(self._p.link.address),
                              "detail": self._p.link_detail(), "accepted": self._p.ingest.accepted,
                              "rejected": self._p.ingest.rejected, "duplicates": self._p.ingest.duplicates,
                              "serial": [asdict(port) for port in self._p.serial.stats()] if self._p.serial else None},
        }
        return body["status"] == "ok", body
