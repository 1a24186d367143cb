"""Ports, rollups and notifications in the database (raw readings are written by the store writer).

Ports are created by an admin (`kiosk port add DEVICE_ID --name "Desk lamp"`, the admin tab) or, for a reading that
names a channel the device has no port for yet, automatically ("Port 2 of Meter A"), so that no good reading is
lost while nobody has set the port up. HTTP readings must name an existing port (DESIGN.md section 5).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from kiosk.core.energy import (
    BASELINE_PERCENTILE,
    MAX_GAP_S,
    TIERS,
    Bucket,
    NotificationInfo,
    PortInfo,
    Schedule,
    Series,
    calibrate_noise_floor,
    choose_tier,
)
from kiosk.core.words import shown
from kiosk.store.devices import write_audit
from kiosk.store.models import AuditEntry, Device, EnergyReading, EnergyRollup, Notification, Port


class PortError(ValueError):
    """A port that cannot be created or found; the message says why."""


class EnergyStore:
    def __init__(self, engine: Engine, clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._clock = clock

    def _session(self) -> Session:
        return Session(self._engine, expire_on_commit=False)

    # --- ports ----------------------------------------------------------------------------------------------------

    def add_port(self, device_id: str, name: str, actor: str, channel: str | None = None, active_w: float = 10.0,
                 schedule: str = "") -> PortInfo:
        name = name.strip()
        if not name:
            raise PortError("A port needs a name, e.g. \"Desk lamp\".")
        if active_w <= 0:
            raise PortError("The active threshold must be above 0 W.")
        try:
            Schedule.parse(schedule)
        except ValueError as exc:
            raise PortError(f"schedule: {exc}") from None
        now = self._clock()
        with self._session() as session, session.begin():
            device = session.get(Device, device_id)
            if device is None:
                raise PortError(f"There is no device {device_id!r} (`kiosk device list` shows them).")
            if session.scalar(select(Port.id).where(Port.device_id == device_id, Port.name == name)):
                raise PortError(f"{device.name} already has a port called {name!r}.")
            if channel is not None and session.scalar(select(Port.id).where(Port.device_id == device_id,
                                                                            Port.channel == channel)):
                raise PortError(f"{device.name} already has a port on channel {channel!r}.")
            port = Port(id=str(uuid.uuid4()), device_id=device_id, name=name, channel=channel, created_at=now,
                        active_w=active_w, noise_floor_w=None, phantom_after_s=900.0, schedule=schedule)
            session.add(port)
            write_audit(session, now, actor, "port.add", port.id, f"{device_id} {name!r} channel {channel!r}")
            return _info(port)

    def resolve(self, device_id: str, channel: str | None) -> PortInfo:
        """The port a device's reading belongs to: its channel's port (or the port whose id it names); with no
        channel, the device's only port. A channel seen for the first time gets a new port, named after it."""
        found = self.find(device_id, channel)
        if found is not None:
            return found
        port, row, audit = self.discovered_port(device_id, channel)
        with self._session() as session, session.begin():
            session.add(Port(**row))
            session.add(AuditEntry(**audit))
        return port

    def find(self, device_id: str, channel: str | None) -> PortInfo | None:
        """The port a reading belongs to (as `resolve`), if it exists; only reads."""
        with self._session() as session:
            ports = list(session.scalars(select(Port).where(Port.device_id == device_id)))
        if channel is None and len(ports) == 1:
            return _info(ports[0])
        label = channel if channel is not None else "1"
        return next((_info(p) for p in ports if p.channel == label or p.id == label), None)

    def discovered_port(self, device_id: str, channel: str | None) -> tuple[PortInfo, dict[str, Any],
                                                                           dict[str, Any]]:
        """A new port for a channel seen for the first time: its info, its row and its audit row, for the store
        writer to insert (the road in does not wait for the database)."""
        label = channel if channel is not None else "1"
        with self._session() as session:
            device_name = session.scalar(select(Device.name).where(Device.id == device_id))
        name = f"Port {label}" if device_name is None else f"Port {label} of {device_name}"[:80]
        now = self._clock()
        row = {"id": str(uuid.uuid4()), "device_id": device_id, "name": name, "channel": label, "created_at": now,
               "active_w": 10.0, "noise_floor_w": None, "phantom_after_s": 900.0, "schedule": ""}
        audit = {"ts": now, "actor": "kiosk", "action": "port.discovered", "target": row["id"],
                 "detail": f"{device_id}: first reading on channel {label!r}"}
        return PortInfo(row["id"], device_id, name, label, 10.0, None, 900.0, ""), row, audit

    def port(self, port_id: str) -> PortInfo | None:
        with self._session() as session:
            row = session.get(Port, port_id)
            return None if row is None else _info(row)

    def ports(self, device_id: str | None = None) -> list[PortInfo]:
        query = select(Port).order_by(Port.device_id, Port.name)
        if device_id is not None:
            query = query.where(Port.device_id == device_id)
        with self._session() as session:
            return [_info(p) for p in session.scalars(query)]

    def edit_port(self, port_id: str, actor: str, name: str | None = None, active_w: float | None = None,
                  schedule: str | None = None, phantom_after_s: float | None = None) -> PortInfo:
        """Change what is given (a running hub uses it within 5 s); audited with the old and new values."""
        if name is not None and not name.strip():
            raise PortError("A port needs a name.")
        if active_w is not None and active_w <= 0:
            raise PortError("The active threshold must be above 0 W.")
        if phantom_after_s is not None and phantom_after_s < 60:
            raise PortError("Phantom load needs at least a minute to be told from a passing draw.")
        if schedule is not None:
            try:
                Schedule.parse(schedule)
            except ValueError as exc:
                raise PortError(f"schedule: {exc}") from None
        with self._session() as session, session.begin():
            port = session.get(Port, port_id)
            if port is None:
                raise PortError(f"There is no port {port_id!r} (`kiosk port list`).")
            before = _info(port)
            if name is not None:
                port.name = name.strip()
            if active_w is not None:
                port.active_w = active_w
            if schedule is not None:
                port.schedule = schedule.strip()
            if phantom_after_s is not None:
                port.phantom_after_s = phantom_after_s
            after = _info(port)
            changes = ", ".join(f"{field} {shown(getattr(before, field))} -> {shown(getattr(after, field))}"
                                for field in ("name", "active_w", "schedule", "phantom_after_s")
                                if getattr(before, field) != getattr(after, field))
            write_audit(session, self._clock(), actor, "port.edit", port_id, changes or "no change")
            return after

    def ports_marker(self) -> int:
        """Changes whenever a port is added or changed, from any station or the CLI (cheap to poll)."""
        with self._session() as session:
            return session.scalar(select(func.max(AuditEntry.id)).where(AuditEntry.action.like("port.%"))) or 0

    def calibrate(self, port_id: str, minutes: float, actor: str) -> float:
        """Set the noise floor from the last `minutes` of readings, taken with the load unplugged."""
        now = self._clock()
        powers = [p for _, p in self.readings(port_id, now - minutes * 60, now + 1)]
        try:
            floor = calibrate_noise_floor(powers)
        except ValueError as exc:
            raise PortError(f"{exc} (found {len(powers)} in the last {minutes:g} min)") from None
        self.set_noise_floor(port_id, floor, actor)
        return floor

    def set_noise_floor(self, port_id: str, floor_w: float | None, actor: str) -> None:
        with self._session() as session, session.begin():
            port = session.get(Port, port_id)
            if port is None:
                raise PortError(f"There is no port {port_id!r}.")
            port.noise_floor_w = floor_w
            write_audit(session, self._clock(), actor, "port.noise_floor", port_id,
                        "estimated" if floor_w is None else f"{floor_w:.2f} W")

    # --- readings and rollups -------------------------------------------------------------------------------------

    def readings(self, port_id: str, since: float, until: float) -> list[tuple[float, float]]:
        with self._engine.connect() as connection:
            return [(ts, power) for ts, power in connection.execute(
                select(EnergyReading.ts, EnergyReading.power).where(
                    EnergyReading.port == port_id, EnergyReading.ts >= since, EnergyReading.ts < until)
                .order_by(EnergyReading.ts))]

    def rollups(self, port_id: str, tier: str, since: float, until: float) -> list[tuple[float, Bucket]]:
        with self._engine.connect() as connection:
            return [(start, Bucket(count, minimum, maximum, total, energy)) for start, count, minimum, maximum, total,
                    energy in connection.execute(
                        select(EnergyRollup.start, EnergyRollup.count, EnergyRollup.minimum, EnergyRollup.maximum,
                               EnergyRollup.total, EnergyRollup.energy_wh)
                        .where(EnergyRollup.port == port_id, EnergyRollup.tier == tier,
                               EnergyRollup.start >= since, EnergyRollup.start < until)
                        .order_by(EnergyRollup.start))]

    def series(self, port_id: str, since: float, until: float) -> Series:
        """What a graph of [since, until) shows: raw readings for short spans, else the fitting rollup tier
        (kiosk.core.energy.choose_tier), as x (bucket middle), mean, min and max, and the energy in the span."""
        tier = choose_tier(until - since)
        if tier == "raw":
            points = self.readings(port_id, since, until)
            xs = [at for at, _ in points]
            values = [p for _, p in points]
            wh = sum(b[1] * min(b[0] - a[0], MAX_GAP_S) for a, b in zip(points, points[1:])) / 3600
            return Series("raw", xs, values, values, values, wh / 1000)
        rows = self.rollups(port_id, tier, since - TIERS[tier], until)
        half = TIERS[tier] / 2
        return Series(tier, [start + half for start, _ in rows], [b.mean for _, b in rows],
                      [b.minimum for _, b in rows], [b.maximum for _, b in rows],
                      sum(b.energy_wh for start, b in rows if start >= since) / 1000)

    def prune(self, raw_before: float | None, minute_before: float | None, chunk: int = 10_000,
              pause: Callable[[], None] = lambda: None) -> tuple[int, int]:
        """Delete raw readings and minute rollups older than the cut-offs (None: keep), port by port through the
        (port, ts) index, `chunk` rows per transaction with `pause()` between them so that the store writer is never
        held up for long. Returns (raw rows, minute rollups) deleted."""
        deleted = [0, 0]
        with self._engine.connect() as connection:
            ports = [row[0] for row in connection.exec_driver_sql("SELECT DISTINCT port FROM energy_rollups")]
        jobs = []
        if raw_before is not None:
            jobs.append((0, "DELETE FROM energy_readings WHERE id IN (SELECT id FROM energy_readings WHERE port = ? "
                            "AND ts < ? LIMIT ?)", raw_before))
        if minute_before is not None:
            jobs.append((1, "DELETE FROM energy_rollups WHERE rowid IN (SELECT rowid FROM energy_rollups WHERE "
                            "port = ? AND tier = 'minute' AND start < ? LIMIT ?)", minute_before))
        for which, statement, before in jobs:
            for port in ports:
                while True:
                    with self._engine.begin() as connection:
                        gone = connection.exec_driver_sql(statement, (port, before, chunk)).rowcount
                    deleted[which] += gone
                    if gone < chunk:
                        break
                    pause()
        return deleted[0], deleted[1]

    def baseline_w(self, port_id: str, since: float, until: float) -> float | None:
        """The port's always-on draw over [since, until): the BASELINE_PERCENTILE of its per-minute means, found
        by SQLite (count, then the two neighbouring values), not by loading up to 2,880 rows per port into Python
        on the GUI thread every 10 s. Same interpolation as kiosk.core.energy.percentile."""
        window = "FROM energy_rollups WHERE port = ? AND tier = 'minute' AND start >= ? AND start < ?"
        with self._engine.connect() as connection:
            count = connection.exec_driver_sql(f"SELECT count(*) {window}", (port_id, since, until)).scalar() or 0
            if not count:
                return None
            rank = (count - 1) * BASELINE_PERCENTILE / 100
            low = int(rank)
            values = [row[0] for row in connection.exec_driver_sql(
                f"SELECT total / count AS mean {window} ORDER BY mean LIMIT 2 OFFSET ?",
                (port_id, since, until, low))]
        if len(values) == 1:
            return values[0]
        return values[0] + (values[1] - values[0]) * (rank - low)

    def kwh_per_day(self, port_id: str, since: float, until: float) -> list[tuple[float, float]]:
        return [(start, bucket.energy_wh / 1000) for start, bucket in self.rollups(port_id, "day", since, until)]

    # --- notifications --------------------------------------------------------------------------------------------

    def reading_id(self, device_id: str, port_id: str, seq: str | None, at: float | None = None) -> int | None:
        """A stored reading's row id (the HTTP API answers it): by the device's seq, else by port and time."""
        query = select(EnergyReading.id).where(EnergyReading.device_id == device_id, EnergyReading.port == port_id)
        if seq is not None:
            query = query.where(EnergyReading.seq == seq)
        elif at is not None:
            query = query.where(EnergyReading.ts == at)
        else:
            return None
        with self._session() as session:
            return session.scalar(query.order_by(EnergyReading.id.desc()).limit(1))

    def notify(self, kind: str, subject: str, title: str, detail: str, watts: float | None = None,
               duration_s: float | None = None, monthly_cost: float | None = None, at: float | None = None,
               ended_at: float | None = None) -> int:
        """A notification, created `at` (the moment the readings showed it; default now); one about something
        already over is written with its `ended_at` in the same transaction."""
        with self._session() as session, session.begin():
            row = Notification(created_at=self._clock() if at is None else at, kind=kind, subject=subject,
                               title=title, detail=detail, watts=watts, duration_s=duration_s,
                               monthly_cost=monthly_cost, ended_at=ended_at)
            session.add(row)
            session.flush()
            return row.id

    def update_notification(self, notification_id: int, duration_s: float, watts: float,
                            monthly_cost: float, ended_at: float | None = None) -> None:
        with self._session() as session, session.begin():
            row = session.get(Notification, notification_id)
            if row is not None:
                row.duration_s, row.watts, row.monthly_cost, row.ended_at = duration_s, watts, monthly_cost, ended_at

    def acknowledge(self, notification_id: int, actor: str) -> None:
        now = self._clock()
        with self._session() as session, session.begin():
            row = session.get(Notification, notification_id)
            if row is None:
                raise LookupError(f"no notification {notification_id}")
            if row.acknowledged_at is None:
                row.acknowledged_at, row.acknowledged_by = now, actor
                write_audit(session, now, actor, "notification.ack", str(notification_id), row.title)

    def notifications(self, open_only: bool = True, limit: int = 200) -> list[NotificationInfo]:
        query = select(Notification).order_by(Notification.created_at.desc()).limit(limit)
        if open_only:
            query = query.where(Notification.acknowledged_at.is_(None))
        with self._session() as session:
            return [NotificationInfo(n.id, n.created_at, n.kind, n.subject, n.title, n.detail, n.watts,
                                     n.duration_s, n.monthly_cost, n.ended_at, n.acknowledged_at,
                                     n.acknowledged_by) for n in session.scalars(query)]

    def open_count(self) -> int:
        with self._session() as session:
            return session.scalar(select(func.count()).select_from(Notification).where(
                Notification.acknowledged_at.is_(None))) or 0

    def unended(self, kind: str) -> dict[str, int]:
        """Notifications of a kind whose condition has not ended yet: subject -> id (the newest per subject)."""
        with self._session() as session:
            rows = session.execute(select(Notification.subject, Notification.id).where(
                Notification.kind == kind, Notification.ended_at.is_(None)).order_by(Notification.id))
            return {subject: notification_id for subject, notification_id in rows}

    def unacknowledged(self, kind: str) -> dict[str, int]:
        """Notifications of a kind nobody acknowledged yet, ended or not: subject -> id (the newest per subject)."""
        with self._session() as session:
            rows = session.execute(select(Notification.subject, Notification.id).where(
                Notification.kind == kind, Notification.acknowledged_at.is_(None)).order_by(Notification.id))
            return {subject: notification_id for subject, notification_id in rows}

    def reopen(self, notification_id: int, title: str, detail: str) -> bool:
        """The condition is back before anyone acknowledged its notice: the same notice goes on (no new row).
        False if someone acknowledged it meanwhile (then make a new one)."""
        with self._session() as session, session.begin():
            row = session.get(Notification, notification_id)
            if row is None or row.acknowledged_at is not None:
                return False
            row.ended_at, row.title, row.detail = None, title[:200], detail
            return True

    @staticmethod
    def notification_ended(notification_id: int, at: float) -> Any:
        """The statement `end_notification` runs (without a new title), for the store writer."""
        table = Notification.__table__
        return table.update().where(table.c.id == notification_id, table.c.ended_at.is_(None)).values(ended_at=at)

    def end_notification(self, notification_id: int, at: float, title: str | None = None) -> None:
        """The condition is over (the device is back, no locker is overdue): kept until acknowledged."""
        with self._session() as session, session.begin():
            row = session.get(Notification, notification_id)
            if row is not None and row.ended_at is None:
                row.ended_at = at
                if title is not None:
                    row.title = title[:200]

    def retitle(self, notification_id: int, title: str, detail: str) -> None:
        with self._session() as session, session.begin():
            row = session.get(Notification, notification_id)
            if row is not None:
                row.title, row.detail = title[:200], detail


def upsert_rollups(connection: Connection, buckets: dict[tuple[str, str, float], Bucket]) -> None:
    """Merge buckets into energy_rollups (in the caller's transaction): counts, sums and energy add up, min and
    max widen."""
    if not buckets:
        return
    statement = sqlite_insert(EnergyRollup)
    statement = statement.on_conflict_do_update(
        index_elements=[EnergyRollup.port, EnergyRollup.tier, EnergyRollup.start],
        set_={"count": EnergyRollup.count + statement.excluded.count,
              "minimum": func.min(EnergyRollup.minimum, statement.excluded.minimum),
              "maximum": func.max(EnergyRollup.maximum, statement.excluded.maximum),
              "total": EnergyRollup.total + statement.excluded.total,
              "energy_wh": EnergyRollup.energy_wh + statement.excluded.energy_wh})
    connection.execute(statement, [{"port": port, "tier": tier, "start": start, "count": b.count,
                                 "minimum": b.minimum, "maximum": b.maximum, "total": b.total,
                                 "energy_wh": b.energy_wh} for (port, tier, start), b in buckets.items()])


def _info(port: Port) -> PortInfo:
    return PortInfo(port.id, port.device_id, port.name, port.channel, port.active_w, port.noise_floor_w,
                    port.phantom_after_s, port.schedule)
