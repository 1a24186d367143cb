"""Device registry: create devices, issue / rotate / revoke tokens, check credentials, list what the views show.

Each call opens its own short session, so any thread may use it; only the store writer writes readings.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.orm import Session

from kiosk.core.devices import DeviceInfo, DeviceSnapshot, Online
from kiosk.core.tokens import hash_token, new_token
from kiosk.store.models import (
    AuditEntry,
    Device,
    DeviceCommand,
    DeviceLog,
    DeviceRejection,
    DeviceToken,
    EnergyReading,
    EnergyRollup,
    FirmwareHistory,
    Notification,
    OtaJob,
    Port,
    SerialBoard,
    StallReading,
    StallSensor,
    Telemetry,
)

# Rows that record a device's history, by device id (a purge removes them; a retirement keeps them).
_DEVICE_HISTORY: tuple[Any, ...] = (EnergyReading.id, Telemetry.id, StallReading.id, DeviceLog.id,
                                     DeviceRejection.last_at, DeviceCommand.created_at, OtaJob.id, FirmwareHistory.id)


class LegacyAdmission(Enum):
    ADMITTED = "admitted"
    REVOKED = "revoked"
    FULL = "too many pending boards"
    MOVED = "from another address"


class LoginFailure(str, Enum):
    UNKNOWN_DEVICE = "unknown device"
    BAD_TOKEN = "wrong token"
    EXPIRED = "token expired"
    REVOKED = "device revoked"
    NO_CREDENTIALS = "no credentials"


@dataclass(frozen=True)
class LoginResult:
    device: DeviceInfo | None
    failure: LoginFailure | None


class DeviceNotFound(LookupError):
    pass


LEGACY_KIND = "stallsense"
LEGACY_PREFIX = "stallsense:"
SERIAL_PREFIX = "serial:"
LOG_LINES_KEPT = 1000  # per device (device/{id}/logs)
PURGE_CHUNK = 10_000


def legacy_device_id(name: str) -> str:
    """Legacy StallSense boards have no registered id: theirs is derived from the name they connect with."""
    return LEGACY_PREFIX + name


class DeviceRegistry:
    def __init__(self, engine: Engine, clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._clock = clock

    @property
    def engine(self) -> Engine:
        return self._engine

    def _session(self) -> Session:
        return Session(self._engine, expire_on_commit=False)

    def create(self, name: str, kind: str, actor: str, organization: str = "default",
               expires_at: float | None = None) -> tuple[DeviceInfo, str]:
        """Register a device; returns it with its token, the only time the token exists in clear."""
        now = self._clock()
        device = Device(id=str(uuid.uuid4()), name=name, kind=kind, organization=organization, created_at=now,
                        messages_received=0, messages_rejected=0)
        token = new_token()
        with self._session() as session, session.begin():
            session.add(device)
            session.flush()
            session.add(DeviceToken(device_id=device.id, token_hash=hash_token(token), created_at=now,
                                    expires_at=expires_at))
            write_audit(session, now, actor, "device.create", device.id, f"name={name!r} kind={kind}")
        return _info(device), token

    def rotate(self, device_id: str, actor: str, expires_at: float | None = None, reason: str = "") -> str:
        """A new token; every older token of the device stops working."""
        now = self._clock()
        token = new_token()
        with self._session() as session, session.begin():
            device = self._require(session, device_id)
            session.execute(update(DeviceToken).where(DeviceToken.device_id == device_id,
                                                      DeviceToken.revoked_at.is_(None)).values(revoked_at=now))
            session.add(DeviceToken(device_id=device_id, token_hash=hash_token(token), created_at=now,
                                    expires_at=expires_at))
            device.revoked_at = None
            write_audit(session, now, actor, "device.token.rotate", device_id, reason[:200])
        return token

    def revoke(self, device_id: str, actor: str, reason: str = "") -> None:
        now = self._clock()
        with self._session() as session, session.begin():
            device = self._require(session, device_id)
            device.revoked_at = now
            session.execute(update(DeviceToken).where(DeviceToken.device_id == device_id,
                                                      DeviceToken.revoked_at.is_(None)).values(revoked_at=now))
            write_audit(session, now, actor, "device.revoke", device_id, reason[:200])

    def set_expiry(self, device_id: str, expires_at: float | None, actor: str) -> None:
        """Change when the device's live token stops working (None: never)."""
        now = self._clock()
        with self._session() as session, session.begin():
            self._require(session, device_id)
            changed = session.execute(update(DeviceToken).where(DeviceToken.device_id == device_id,
                                                                DeviceToken.revoked_at.is_(None))
                                      .values(expires_at=expires_at)).rowcount
            if not changed:
                raise DeviceNotFound("the device has no live token: rotate it to issue a new one")
            when = "never" if expires_at is None else time.strftime("%Y-%m-%d %H:%M", time.localtime(expires_at))
            write_audit(session, now, actor, "device.token.expiry", device_id, f"expires {when}")

    def retire(self, device_id: str, actor: str, reason: str = "") -> None:
        """Delete a device but keep its history: no token, no longer listed or accepted, its readings, ports and
        energy history stay (and keep its name)."""
        now = self._clock()
        with self._session() as session, session.begin():
            device = self._require(session, device_id)
            device.retired_at = now
            device.revoked_at = device.revoked_at or now
            session.execute(update(DeviceToken).where(DeviceToken.device_id == device_id,
                                                      DeviceToken.revoked_at.is_(None)).values(revoked_at=now))
            session.execute(delete(StallSensor).where(StallSensor.device_id == device_id))
            write_audit(session, now, actor, "device.delete", device_id,
                        f"name={device.name!r}, history kept" + (f"; {reason}" if reason else ""))

    def purge(self, device_id: str, actor: str, reason: str = "", chunk: int = PURGE_CHUNK,
              progress: Callable[[int], None] = lambda rows: None) -> int:
        """Delete a device and everything recorded about it, in chunks of `chunk` rows per transaction (a year of
        readings must not hold the database for minutes); `progress` gets the rows deleted so far. The device is
        retired first, so it stops at once even if this is interrupted; calling again finishes the job."""
        with self._session() as session:
            device = self._require(session, device_id)
            name = device.name
            ports = list(session.scalars(select(Port.id).where(Port.device_id == device_id)))
        if device.retired_at is None:
            self.retire(device_id, actor, "removing its history")
        deleted = 0
        jobs = [(column, column.table.c.device_id == device_id) for column in _DEVICE_HISTORY]
        jobs += [(EnergyRollup.start, EnergyRollup.port == port) for port in ports]
        if ports:
            jobs.append((Notification.id, Notification.subject.in_(ports)))
        for order, where in jobs:
            while True:
                with self._session() as session, session.begin():
                    # Oldest first, `chunk` rows per transaction, by a column every backend can order.
                    cutoff = session.scalar(select(order).where(where).order_by(order).offset(chunk - 1).limit(1))
                    last = where if cutoff is None else where & (order <= cutoff)
                    count = session.execute(delete(order.table).where(last)).rowcount
                deleted += count
                progress(deleted)
                if cutoff is None:
                    break
        with self._session() as session, session.begin():
            session.execute(delete(Device).where(Device.id == device_id))  # tokens, ports, sensors: cascade
            write_audit(session, self._clock(), actor, "device.purge", device_id,
                        f"name={name!r}, {deleted:,} rows of history removed" + (f"; {reason}" if reason else ""))
        return deleted

    def ensure_legacy(self, name: str) -> tuple[DeviceInfo, bool]:
        """The device row of a legacy StallSense board, created (pending, without a token) on first contact."""
        device_id = legacy_device_id(name)
        now = self._clock()
        with self._session() as session, session.begin():
            device = session.get(Device, device_id)
            if device is not None:
                return _info(device), False
            device = Device(id=device_id, name=name, kind=LEGACY_KIND, organization="default", created_at=now,
                            messages_received=0, messages_rejected=0)
            session.add(device)
            write_audit(session, now, "hub", "device.legacy.discover", device_id, f"name={name!r}")
        return _info(device), True

    def discovered_legacy(self, name: str) -> tuple[DeviceInfo, list[tuple[Any, dict[str, Any]]]]:
        """A new legacy board's device (pending, no token) and the rows the store writer inserts for it."""
        now = self._clock()
        device_id = legacy_device_id(name)
        row = {"id": device_id, "name": name, "kind": LEGACY_KIND, "organization": "default", "created_at": now,
               "messages_received": 0, "messages_rejected": 0}
        audit = {"ts": now, "actor": "hub", "action": "device.legacy.discover", "target": device_id,
                 "detail": f"name={name!r}"}
        info = DeviceInfo(device_id, name, LEGACY_KIND, "default", now, False)
        return info, [(Device.__table__, row), (AuditEntry.__table__, audit)]

    def reading_stored(self, table: str, device_id: str, seq: str) -> bool:
        """Whether the device's reading with this id is in the table ("energy", "telemetry" or "stall")."""
        model = {"energy": EnergyReading, "telemetry": Telemetry, "stall": StallReading}[table]
        with self._session() as session:
            return session.scalar(select(model.id).where(model.device_id == device_id, model.seq == seq)
                                  .limit(1)) is not None

    def serial_board_device(self, key: str) -> str | None:
        """The device a known USB board's readings go to; None for a board never seen (only reads)."""
        with self._session() as session:
            return session.scalar(select(SerialBoard.device_id).where(SerialBoard.key == key))

    def discovered_serial_board(self, key: str, path: str, firmware: str | None
                                ) -> tuple[DeviceInfo, list[tuple[Any, dict[str, Any]]]]:
        """A board seen for the first time: its own device (`serial:KEY`, kind energy, no token) and the rows the
        store writer inserts for it."""
        now = self._clock()
        device_id = SERIAL_PREFIX + key
        name = f"USB board {key}"[:120]
        rows: list[tuple[Any, dict[str, Any]]] = [
            (Device.__table__, {"id": device_id, "name": name, "kind": "energy", "organization": "default",
                                "created_at": now, "messages_received": 0, "messages_rejected": 0}),
            (SerialBoard.__table__, {"key": key, "device_id": device_id, "path": path[:200], "firmware": firmware,
                                     "first_seen": now, "last_seen": now}),
            (AuditEntry.__table__, {"ts": now, "actor": "hub", "action": "serial.discover", "target": device_id,
                                    "detail": f"board {key!r} on {path}"})]
        return DeviceInfo(device_id, name, "energy", "default", now, False), rows

    def serial_board_seen(self, key: str, path: str, firmware: str | None) -> Any:
        """The statement that records where and with what firmware a known board was seen (for the writer)."""
        values: dict[str, Any] = {"last_seen": self._clock(), "path": path[:200]}
        if firmware is not None:
            values["firmware"] = firmware
        return update(SerialBoard).where(SerialBoard.key == key).values(**values)

    def details_changed(self, device_id: str, model: str | None = None, ip: str | None = None) -> Any | None:
        """The statement `set_details` runs, for the store writer; None when nothing is given."""
        values = {k: v for k, v in (("model", model), ("ip", ip)) if v is not None}
        return update(Device).where(Device.id == device_id).values(**values) if values else None

    def ensure_serial_board(self, key: str, path: str, firmware: str | None = None) -> tuple[str, bool]:
        """The device a USB-serial board's readings belong to: the one an admin mapped it to, or a device of its
        own (`serial:KEY`, kind energy, no token: it cannot log in over the network) made on first contact."""
        now = self._clock()
        with self._session() as session, session.begin():
            board = session.get(SerialBoard, key)
            if board is not None:
                board.last_seen, board.path = now, path[:200]
                if firmware is not None:
                    board.firmware = firmware
                return board.device_id, False
            device_id = SERIAL_PREFIX + key
            if session.get(Device, device_id) is None:
                session.add(Device(id=device_id, name=f"USB board {key}"[:120], kind="energy",
                                   organization="default", created_at=now, messages_received=0,
                                   messages_rejected=0))
                session.flush()
            session.add(SerialBoard(key=key, device_id=device_id, path=path[:200], firmware=firmware,
                                    first_seen=now, last_seen=now))
            write_audit(session, now, "hub", "serial.discover", device_id, f"board {key!r} on {path}")
            return device_id, True

    def map_serial_board(self, key: str, device_id: str, actor: str) -> None:
        """Send a board's readings to another device (e.g. the meter registered for that room)."""
        with self._session() as session, session.begin():
            board = session.get(SerialBoard, key)
            if board is None:
                raise DeviceNotFound(f"no USB board {key!r} has been seen (`kiosk serial list`)")
            if session.get(Device, device_id) is None:
                raise DeviceNotFound(f"no device with id {device_id}")
            before, board.device_id = board.device_id, device_id
            write_audit(session, self._clock(), actor, "serial.map", key, f"{before} -> {device_id}")

    def device_logs(self, device_id: str, limit: int = 200) -> list[tuple[float, str, str]]:
        """The device's newest log lines (`device/{id}/logs`), newest first: (time, level, text)."""
        with self._session() as session:
            return [(ts, level, text) for ts, level, text in session.execute(
                select(DeviceLog.ts, DeviceLog.level, DeviceLog.text).where(DeviceLog.device_id == device_id)
                .order_by(DeviceLog.ts.desc(), DeviceLog.id.desc()).limit(limit))]

    def prune_logs(self, keep_per_device: int = LOG_LINES_KEPT) -> int:
        """Keep each device's newest `keep_per_device` log lines (a chatty device cannot fill the disk)."""
        deleted = 0
        with self._session() as session, session.begin():
            devices = list(session.scalars(select(DeviceLog.device_id).group_by(DeviceLog.device_id)
                                           .having(func.count() > keep_per_device)))
            for device_id in devices:
                cutoff = session.scalar(select(DeviceLog.ts).where(DeviceLog.device_id == device_id)
                                        .order_by(DeviceLog.ts.desc(), DeviceLog.id.desc())
                                        .offset(keep_per_device - 1).limit(1))
                deleted += session.execute(delete(DeviceLog).where(DeviceLog.device_id == device_id,
                                                                   DeviceLog.ts < cutoff)).rowcount
        return deleted

    def serial_boards(self) -> list[tuple[str, str, str, str | None, float]]:
        """(key, device id, path, firmware, last seen) of every board seen."""
        with self._session() as session:
            return [(b.key, b.device_id, b.path, b.firmware, b.last_seen)
                    for b in session.scalars(select(SerialBoard).order_by(SerialBoard.key))]

    def set_details(self, device_id: str, model: str | None = None, ip: str | None = None) -> None:
        """What a board says about itself (a legacy board's type and IP address)."""
        values = {k: v for k, v in (("model", model), ("ip", ip)) if v is not None}
        if values:
            with self._session() as session, session.begin():
                session.execute(update(Device).where(Device.id == device_id).values(**values))

    def record(self, actor: str, action: str, target: str, detail: str = "") -> None:
        """An audit row for an operator action that changes no table here (e.g. a command sent to a device)."""
        with self._session() as session, session.begin():
            write_audit(session, self._clock(), actor, action, target, detail)

    def legacy_allowed(self, name: str) -> bool:
        """Whether an anonymous legacy board with this name may connect: yes unless an admin revoked it."""
        with self._session() as session:
            device = session.get(Device, legacy_device_id(name))
            return device is None or device.revoked_at is None

    def legacy_admission(self, name: str, address: str | None, max_pending: int,
                         admitted_new: frozenset[str] = frozenset()) -> tuple[LegacyAdmission, frozenset[str]]:
        """Whether an anonymous legacy board may log in from `address`.

        Revoked: never. Assigned to a stall: only from its pinned address (pinned here at its first login after the
        assignment). A new name: only while fewer than `max_pending` boards (those in the database and
        `admitted_new`, names admitted that the hub has not stored yet) wait for an admin. Also returns which of
        `admitted_new` are still not stored."""
        device_id = legacy_device_id(name)
        with self._session() as session, session.begin():
            device = session.get(Device, device_id)
            if device is not None:
                if device.revoked_at is not None or device.retired_at is not None:
                    return LegacyAdmission.REVOKED, admitted_new
                if address and session.get(StallSensor, device_id) is not None:
                    if device.pinned_address is None:
                        device.pinned_address = address[:64]
                        write_audit(session, self._clock(), "hub", "device.legacy.pin", device_id,
                                    f"admitted only from {address} from now on")
                    elif device.pinned_address != address[:64]:
                        return LegacyAdmission.MOVED, admitted_new
                return LegacyAdmission.ADMITTED, admitted_new
            # Names not stored yet are looked up before the pending boards are counted: each SELECT may see a newer
            # database (pysqlite starts no transaction for reads), and a board stored in between must land in one
            # of the two sets (the union counts it once), never in neither.
            still_new = frozenset(n for n in admitted_new if session.get(Device, legacy_device_id(n)) is None)
            assigned = select(StallSensor.device_id).where(StallSensor.device_id == Device.id).exists()
            pending = set(session.scalars(select(Device.id).where(
                Device.kind == LEGACY_KIND, Device.revoked_at.is_(None), Device.retired_at.is_(None), ~assigned)))
        pending |= {legacy_device_id(n) for n in still_new}
        pending.discard(device_id)
        if len(pending) >= max_pending:
            return LegacyAdmission.FULL, still_new
        return LegacyAdmission.ADMITTED, still_new | {name}

    def repair_legacy(self, device_id: str, actor: str) -> None:
        """An admin re-pairs a board that moved: its next login pins its new address."""
        with self._session() as session, session.begin():
            device = self._require(session, device_id)
            if device.kind != LEGACY_KIND:
                raise ValueError(f"{device_id} is not a StallSense board")
            old, device.pinned_address = device.pinned_address, None
            write_audit(session, self._clock(), actor, "device.legacy.repair", device_id,
                        f"pinned address {old or 'none'} cleared")

    def details(self, device_id: str) -> tuple[str | None, str | None]:
        """(model, ip) of a device."""
        with self._session() as session:
            device = session.get(Device, device_id)
            return (device.model, device.ip) if device else (None, None)

    def _require(self, session: Session, device_id: str) -> Device:
        device = session.get(Device, device_id)
        if device is None:
            raise DeviceNotFound(f"no device with id {device_id}")
        return device

    def check(self, device_id: str | None, token: str | None) -> LoginResult:
        """Whether a device id and token may log in now."""
        if not device_id or not token:
            return LoginResult(None, LoginFailure.NO_CREDENTIALS)
        with self._session() as session:
            device = session.get(Device, device_id)
            if device is None or device.retired_at is not None:
                return LoginResult(None, LoginFailure.UNKNOWN_DEVICE)
            if device.revoked_at is not None:
                return LoginResult(None, LoginFailure.REVOKED)
            row = session.scalar(select(DeviceToken).where(DeviceToken.device_id == device_id,
                                                           DeviceToken.token_hash == hash_token(token)))
            if row is None or row.revoked_at is not None:
                return LoginResult(None, LoginFailure.BAD_TOKEN)
            if row.expires_at is not None and row.expires_at <= self._clock():
                return LoginResult(None, LoginFailure.EXPIRED)
            return LoginResult(_info(device), None)

    def check_token(self, token: str) -> LoginResult:
        """Which device holds this token, if it may be used now (HTTP readings carry only the token)."""
        with self._session() as session:
            row = session.scalar(select(DeviceToken).where(DeviceToken.token_hash == hash_token(token)))
            if row is None:
                return LoginResult(None, LoginFailure.BAD_TOKEN)
            device_id = row.device_id
        return self.check(device_id, token)

    def still_valid(self, device_ids: list[str]) -> set[str]:
        """Of these devices, those that still hold a live, unexpired token (for dropping revoked sessions)."""
        if not device_ids:
            return set()
        now = self._clock()
        with self._session() as session:
            rows = session.scalars(
                select(DeviceToken.device_id).join(Device, Device.id == DeviceToken.device_id)
                .where(DeviceToken.device_id.in_(device_ids), DeviceToken.revoked_at.is_(None),
                       Device.revoked_at.is_(None))
                .where((DeviceToken.expires_at.is_(None)) | (DeviceToken.expires_at > now)))
            return set(rows)

    def get(self, device_id: str) -> DeviceInfo | None:
        """A device that exists and was not deleted (a retired device is unknown to everything live)."""
        with self._session() as session:
            device = session.get(Device, device_id)
            return _info(device) if device is not None and device.retired_at is None else None

    def infos(self) -> list[DeviceInfo]:
        with self._session() as session:
            return [_info(d) for d in session.scalars(select(Device).where(Device.retired_at.is_(None))
                                                      .order_by(Device.created_at))]

    def token_expiry(self, device_id: str | None = None) -> dict[str, float | None]:
        """When each device's live token expires (None: never); of one device, or of all."""
        query = (select(DeviceToken.device_id, func.max(DeviceToken.expires_at))
                 .where(DeviceToken.revoked_at.is_(None)).group_by(DeviceToken.device_id))
        if device_id is not None:
            query = query.where(DeviceToken.device_id == device_id)
        with self._session() as session:
            return {device: expires for device, expires in session.execute(query)}

    def snapshots(self, offline_after_s: float) -> list[DeviceSnapshot]:
        now = self._clock()
        with self._session() as session:
            return [_snapshot(d, now, offline_after_s) for d in
                    session.scalars(select(Device).where(Device.retired_at.is_(None)).order_by(Device.created_at))]

    def rejections(self) -> list[DeviceRejection]:
        with self._session() as session:
            return list(session.scalars(select(DeviceRejection).order_by(DeviceRejection.last_at.desc())))

    def rejection_reasons(self, device_id: str) -> list[tuple[str, int, float, str]]:
        """One device's rejected messages by reason, most frequent first: (reason, count, last time, last detail)."""
        with self._session() as session:
            return [(r.reason, r.count, r.last_at, r.last_detail) for r in session.scalars(
                select(DeviceRejection).where(DeviceRejection.device_id == device_id)
                .order_by(DeviceRejection.count.desc()))]

    def audit_page(self, text: str = "", limit: int = 500) -> list[tuple[float, str, str, str, str]]:
        """The newest audit rows, optionally those containing `text` (any case) in who / what / target / why:
        (time, actor, action, target, detail)."""
        query = select(AuditEntry.ts, AuditEntry.actor, AuditEntry.action, AuditEntry.target, AuditEntry.detail)
        if text.strip():
            like = f"%{text.strip()}%"
            query = query.where(AuditEntry.actor.ilike(like) | AuditEntry.action.ilike(like)
                                | AuditEntry.target.ilike(like) | AuditEntry.detail.ilike(like))
        with self._session() as session:
            return [tuple(row) for row in session.execute(query.order_by(AuditEntry.id.desc()).limit(limit))]

    def audit(self) -> list[AuditEntry]:
        with self._session() as session:
            return list(session.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def write_audit(session: Session, now: float, actor: str, action: str, target: str, detail: str) -> None:
    session.add(AuditEntry(ts=now, actor=actor, action=action, target=target, detail=detail))


def _info(device: Device) -> DeviceInfo:
    return DeviceInfo(device.id, device.name, device.kind, device.organization, device.created_at,
                      device.revoked_at is not None)


def _snapshot(d: Device, now: float, offline_after_s: float) -> DeviceSnapshot:
    if d.last_seen is None:
        online = Online.NEVER
    else:
        online = Online.ONLINE if now - d.last_seen < offline_after_s else Online.NO_SIGNAL
    return DeviceSnapshot(d.id, d.name, d.kind, d.last_seen, d.messages_received, d.messages_rejected,
                          d.last_reject_reason, d.last_reject_detail, d.battery, d.signal, d.firmware, d.ip, online,
                          d.revoked_at is not None, mac=d.mac, uptime_s=d.uptime_s, uptime_at=d.uptime_at)
