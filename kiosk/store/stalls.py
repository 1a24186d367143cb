"""Restrooms, their stalls and which sensor watches which stall; the stall timeline and occupancy figures.

Every change is an audit row (who, what, why). Reads return frozen dataclasses that can cross threads.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kiosk.core.operators import Operator, Role, require
from kiosk.core.stalls import RestroomInfo, SensorInfo, SensorRole, StallInfo, StallsError
from kiosk.core.words import plural, shown
from kiosk.store.devices import LEGACY_KIND, write_audit
from kiosk.store.models import AuditEntry, Device, Restroom, Stall, StallEvent, StallReading, StallSensor

STALL_SENSOR_KINDS = (LEGACY_KIND, "stall", "esp32")


def acting(actor: str | Operator, what: str) -> str:
    """The audit name of whoever edits: an operator (the GUI) must be an admin; a plain name is an internal caller
    (the demo, the hub itself, tests)."""
    if isinstance(actor, Operator):
        require(actor, Role.ADMIN, what)
        return actor.name
    return actor


class StallDirectory:
    def __init__(self, engine: Engine, clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._clock = clock

    def _session(self) -> Session:
        return Session(self._engine, expire_on_commit=False)

    # --- reading ------------------------------------------------------------------------------------------------

    def restrooms(self) -> list[RestroomInfo]:
        with self._session() as session:
            sensors: dict[int, list[SensorInfo]] = {}
            for link, device in session.execute(select(StallSensor, Device).join(Device)):
                sensors.setdefault(link.stall_id, []).append(_sensor(device, link))
            stalls: dict[int, list[StallInfo]] = {}
            for stall in session.scalars(select(Stall).order_by(Stall.position, Stall.id)):
                stalls.setdefault(stall.restroom_id, []).append(StallInfo(
                    stall.id, stall.restroom_id, stall.label, stall.position,
                    tuple(sorted(sensors.get(stall.id, []), key=lambda s: s.device_id))))
            return [RestroomInfo(r.id, r.name, r.floor, r.position, tuple(stalls.get(r.id, [])))
                    for r in session.scalars(select(Restroom).order_by(Restroom.position, Restroom.id))]

    def assignments(self) -> list[tuple[str, int, SensorRole]]:
        """(device id, stall id, role) for every assigned sensor that is not revoked."""
        with self._session() as session:
            rows = session.execute(select(StallSensor.device_id, StallSensor.stall_id, StallSensor.role)
                                   .join(Device).where(Device.revoked_at.is_(None)))
            return [(d, s, SensorRole(r)) for d, s, r in rows]

    def retired(self) -> dict[int, str]:
        """Stall id -> the name of a revoked sensor still assigned to it (the tile says which, not only "no
        sensor")."""
        with self._session() as session:
            rows = session.execute(select(StallSensor.stall_id, Device.name).join(Device)
                                   .where(Device.revoked_at.is_not(None)))
            return {stall_id: name for stall_id, name in rows}

    def sensors(self) -> list[SensorInfo]:
        """Every device that can watch a stall, assigned or pending."""
        with self._session() as session:
            links = {link.device_id: link for link in session.scalars(select(StallSensor))}
            devices = session.scalars(select(Device).where(Device.kind.in_(STALL_SENSOR_KINDS))
                                      .order_by(Device.created_at))
            return [_sensor(d, links.get(d.id)) for d in devices]

    def pending(self) -> list[SensorInfo]:
        return [s for s in self.sensors() if s.stall_id is None and not s.revoked]

    def layout_version(self) -> int:
        """Changes whenever restrooms, stalls or assignments change, from any station or the CLI (cheap to poll)."""
        with self._session() as session:
            return session.scalar(select(func.max(AuditEntry.id)).where(
                AuditEntry.action.like("restroom.%") | AuditEntry.action.like("stall.%")
                | AuditEntry.action.in_(("device.revoke", "device.token.rotate")))) or 0

    # --- changing -----------------------------------------------------------------------------------------------

    def add_restroom(self, name: str, floor: str, actor: str | Operator) -> int:
        actor = acting(actor, "edit restrooms")
        name, floor = name.strip(), floor.strip()
        if not name:
            raise StallsError("A restroom needs a name.")
        now = self._clock()
        with self._session() as session, session.begin():
            if session.scalar(select(Restroom.id).where(Restroom.name == name)) is not None:
                raise StallsError(f"There is already a restroom called {name!r}.")
            position = (session.scalar(select(func.max(Restroom.position))) or 0) + 1
            room = Restroom(name=name, floor=floor, position=position)
            session.add(room)
            session.flush()
            write_audit(session, now, actor, "restroom.add", str(room.id), f"name={name!r} floor={floor!r}")
            return room.id

    def edit_restroom(self, restroom_id: int, name: str, floor: str, actor: str | Operator) -> None:
        actor = acting(actor, "edit restrooms")
        name, floor = name.strip(), floor.strip()
        if not name:
            raise StallsError("A restroom needs a name.")
        now = self._clock()
        with self._session() as session, session.begin():
            room = _require(session, Restroom, restroom_id, "restroom")
            if session.scalar(select(Restroom.id).where(Restroom.name == name, Restroom.id != restroom_id)):
                raise StallsError(f"There is already a restroom called {name!r}.")
            detail = f"name {shown(room.name)} -> {shown(name)}, floor {shown(room.floor)} -> {shown(floor)}"
            room.name, room.floor = name, floor
            write_audit(session, now, actor, "restroom.edit", str(restroom_id), detail)

    def remove_restroom(self, restroom_id: int, actor: str | Operator) -> None:
        actor = acting(actor, "edit restrooms")
        now = self._clock()
        with self._session() as session, session.begin():
            room = _require(session, Restroom, restroom_id, "restroom")
            stall_ids = list(session.scalars(select(Stall.id).where(Stall.restroom_id == restroom_id)))
            if stall_ids:
                session.execute(delete(StallSensor).where(StallSensor.stall_id.in_(stall_ids)))
                session.execute(delete(Stall).where(Stall.id.in_(stall_ids)))
            session.delete(room)
            write_audit(session, now, actor, "restroom.remove", str(restroom_id),
                   f"name={room.name!r}, {plural(len(stall_ids), 'stall')}; their sensors are pending again")

    def add_stall(self, restroom_id: int, label: str, actor: str | Operator) -> int:
        actor = acting(actor, "edit stalls")
        label = label.strip()
        if not label:
            raise StallsError("A stall needs a label, e.g. \"1\" or \"Accessible\".")
        now = self._clock()
        with self._session() as session, session.begin():
            room = _require(session, Restroom, restroom_id, "restroom")
            if session.scalar(select(Stall.id).where(Stall.restroom_id == restroom_id, Stall.label == label)):
                raise StallsError(f"{room.name} already has a stall {label!r}.")
            position = (session.scalar(select(func.max(Stall.position)).where(Stall.restroom_id == restroom_id))
                        or 0) + 1
            stall = Stall(restroom_id=restroom_id, label=label, position=position)
            session.add(stall)
            session.flush()
            write_audit(session, now, actor, "stall.add", str(stall.id), f"{room.name} / {label}")
            return stall.id

    def remove_stall(self, stall_id: int, actor: str | Operator) -> None:
        actor = acting(actor, "edit stalls")
        now = self._clock()
        with self._session() as session, session.begin():
            stall = _require(session, Stall, stall_id, "stall")
            session.execute(delete(StallSensor).where(StallSensor.stall_id == stall_id))
            session.delete(stall)
            write_audit(session, now, actor, "stall.remove", str(stall_id), f"label={stall.label!r}")

    def assign(self, device_id: str, stall_id: int, role: SensorRole, actor: str | Operator) -> None:
        """Let a sensor watch a stall as door, thermal or combined sensor (moving it if it watched another)."""
        actor = acting(actor, "assign sensors")
        now = self._clock()
        with self._session() as session, session.begin():
            device = _require(session, Device, device_id, "sensor")
            stall = _require(session, Stall, stall_id, "stall")
            if device.revoked_at is not None:
                raise StallsError(f"{device.name} is revoked; restore it before assigning it.")
            taken = session.scalar(select(StallSensor).where(StallSensor.stall_id == stall_id,
                                                             StallSensor.role == role.value,
                                                             StallSensor.device_id != device_id))
            if taken is not None and role is not SensorRole.COMBINED:
                raise StallsError(f"Stall {stall.label} already has a {role.value} sensor; unassign it first.")
            link = session.get(StallSensor, device_id)
            if link is None:
                session.add(StallSensor(device_id=device_id, stall_id=stall_id, role=role.value))
            else:
                link.stall_id, link.role = stall_id, role.value
            try:
                session.flush()
            except IntegrityError as exc:  # pragma: no cover - guarded above; the database has the last word
                raise StallsError(f"Could not assign {device.name}: {exc.orig}") from exc
            write_audit(session, now, actor, "stall.sensor.assign", device_id, f"stall={stall_id} role={role.value}")

    def unassign(self, device_id: str, actor: str | Operator) -> None:
        actor = acting(actor, "assign sensors")
        now = self._clock()
        with self._session() as session, session.begin():
            link = session.get(StallSensor, device_id)
            if link is None:
                return
            session.delete(link)
            write_audit(session, now, actor, "stall.sensor.unassign", device_id, f"stall={link.stall_id}")

    def recent_readings(self, device_ids: list[str], limit: int = 20) -> list[tuple[float, str, str]]:
        """(time, device id, what it said) of the newest stall readings of these sensors, newest first."""
        if not device_ids:
            return []
        with self._session() as session:
            rows = session.execute(select(StallReading.ts, StallReading.device_id, StallReading.occupied,
                                          StallReading.door, StallReading.thermal)
                                   .where(StallReading.device_id.in_(device_ids))
                                   .order_by(StallReading.ts.desc()).limit(limit)).all()
        out = []
        for ts, device_id, occupied, door, thermal in rows:
            parts = [f"door {door}" if door else "", "" if thermal is None else ("heat" if thermal else "no heat"),
                     "" if occupied is None else ("occupied" if occupied else "vacant")]
            out.append((ts, device_id, ", ".join(p for p in parts if p) or "empty reading"))
        return out

    # --- history ------------------------------------------------------------------------------------------------

    def timeline(self, stall_id: int, since: float, until: float) -> list[tuple[float, str, str]]:
        """(time, state, reason) of each change in [since, until), preceded by the state in force at `since`."""
        with self._session() as session:
            before = session.execute(select(StallEvent.ts, StallEvent.state, StallEvent.reason)
                                     .where(StallEvent.stall_id == stall_id, StallEvent.ts < since)
                                     .order_by(StallEvent.ts.desc()).limit(1)).first()
            rows = session.execute(select(StallEvent.ts, StallEvent.state, StallEvent.reason)
                                   .where(StallEvent.stall_id == stall_id, StallEvent.ts >= since,
                                          StallEvent.ts < until).order_by(StallEvent.ts, StallEvent.id)).all()
            out = [(since, before[1], before[2])] if before else []
            return out + [(ts, state, reason) for ts, state, reason in rows]

    def events(self, since: float, until: float) -> list[tuple[int, float, str]]:
        """(stall id, time, state) of every change in [since, until), plus each stall's state at `since`."""
        with self._session() as session:
            latest = (select(StallEvent.stall_id, func.max(StallEvent.ts).label("ts"))
                      .where(StallEvent.ts < since).group_by(StallEvent.stall_id).subquery())
            opening = session.execute(select(StallEvent.stall_id, StallEvent.state)
                                      .join(latest, (latest.c.stall_id == StallEvent.stall_id)
                                            & (latest.c.ts == StallEvent.ts))).all()
            rows = session.execute(select(StallEvent.stall_id, StallEvent.ts, StallEvent.state)
                                   .where(StallEvent.ts >= since, StallEvent.ts < until)
                                   .order_by(StallEvent.ts, StallEvent.id)).all()
            return [(s, since, state) for s, state in opening] + [(s, ts, state) for s, ts, state in rows]


def _sensor(device: Device, link: StallSensor | None) -> SensorInfo:
    return SensorInfo(device.id, device.name, device.kind, SensorRole(link.role) if link else None,
                      link.stall_id if link else None, device.model, device.ip, device.revoked_at is not None)


def _require(session: Session, model: type, key: object, what: str):  # type: ignore[no-untyped-def]
    row = session.get(model, key)
    if row is None:
        raise StallsError(f"That {what} no longer exists (it may have been removed at another station).")
    return row
