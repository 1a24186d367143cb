"""SQLAlchemy models. Times are UTC seconds since the epoch (float): cheap to store, compare and plot."""

from __future__ import annotations

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Device(Base):
    __tablename__ = "devices"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(32))
    organization: Mapped[str] = mapped_column(String(64), default="default")
    created_at: Mapped[float] = mapped_column(Float)
    revoked_at: Mapped[float | None] = mapped_column(Float)
    last_seen: Mapped[float | None] = mapped_column(Float)
    messages_received: Mapped[int] = mapped_column(Integer, default=0)
    messages_rejected: Mapped[int] = mapped_column(Integer, default=0)
    last_reject_reason: Mapped[str | None] = mapped_column(String(32))
    last_reject_detail: Mapped[str | None] = mapped_column(String(300))
    battery: Mapped[float | None] = mapped_column(Float)
    signal: Mapped[float | None] = mapped_column(Float)
    firmware: Mapped[str | None] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(64))  # e.g. a legacy board's type, "com.StallSense.DoorSensor"
    mac: Mapped[str | None] = mapped_column(String(32))
    uptime_s: Mapped[float | None] = mapped_column(Float)  # as last reported, at uptime_at
    uptime_at: Mapped[float | None] = mapped_column(Float)
    # Deleted by an admin who kept its history: no token, not listed, its readings and ports still named.
    retired_at: Mapped[float | None] = mapped_column(Float)
    # A legacy board assigned to a stall logs in only from this address (set at its first login after the
    # assignment; an admin's re-pair clears it).
    pinned_address: Mapped[str | None] = mapped_column(String(64))


class DeviceToken(Base):
    __tablename__ = "device_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float | None] = mapped_column(Float)
    revoked_at: Mapped[float | None] = mapped_column(Float)


class DeviceRejection(Base):
    """Rejected messages per claimed device id and reason; the id may be one no device has (unknown devices)."""

    __tablename__ = "device_rejections"

    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    reason: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    last_at: Mapped[float] = mapped_column(Float)
    last_detail: Mapped[str] = mapped_column(String(300))


class Telemetry(Base):
    __tablename__ = "telemetry"
    __table_args__ = (Index("ix_telemetry_device_ts", "device_id", "ts"),
                      Index("ux_telemetry_device_seq", "device_id", "seq", unique=True,
                            sqlite_where=text("seq IS NOT NULL"), postgresql_where=text("seq IS NOT NULL")))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[str] = mapped_column(String(64))
    ts: Mapped[float] = mapped_column(Float)
    data_id: Mapped[int | None] = mapped_column(Integer)
    value_num: Mapped[float | None] = mapped_column(Float)
    value_text: Mapped[str | None] = mapped_column(String(200))
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    seq: Mapped[str | None] = mapped_column(String(64))  # the device's id for the reading: stored once


class EnergyReading(Base):
    """Raw readings; `port` is the port's id (kiosk.store.energy resolves a device's own port label to it)."""

    __tablename__ = "energy_readings"
    __table_args__ = (Index("ix_energy_device_port_ts", "device_id", "port", "ts"),
                      Index("ix_energy_port_ts", "port", "ts"),
                      Index("ux_energy_device_seq", "device_id", "seq", unique=True,
                            sqlite_where=text("seq IS NOT NULL"), postgresql_where=text("seq IS NOT NULL")))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[str] = mapped_column(String(64))
    port: Mapped[str | None] = mapped_column(String(64))
    ts: Mapped[float] = mapped_column(Float)
    voltage: Mapped[float] = mapped_column(Float)
    current: Mapped[float] = mapped_column(Float)
    power: Mapped[float] = mapped_column(Float)
    seq: Mapped[str | None] = mapped_column(String(64))  # the device's id for the reading: stored once


class Restroom(Base):
    __tablename__ = "restrooms"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    floor: Mapped[str] = mapped_column(String(40), default="")
    position: Mapped[int] = mapped_column(Integer, default=0)


class Stall(Base):
    __tablename__ = "stalls"
    __table_args__ = (UniqueConstraint("restroom_id", "label"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    restroom_id: Mapped[int] = mapped_column(ForeignKey("restrooms.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(40))
    position: Mapped[int] = mapped_column(Integer, default=0)


class StallSensor(Base):
    """Which sensor watches which stall, and as what (door, thermal, combined). A sensor watches one stall."""

    __tablename__ = "stall_sensors"

    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True)
    stall_id: Mapped[int] = mapped_column(ForeignKey("stalls.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))


class StallEvent(Base):
    """Each change of a stall's shown state: the timeline and the occupancy analytics are built from these."""

    __tablename__ = "stall_events"
    __table_args__ = (Index("ix_stall_events_stall_ts", "stall_id", "ts"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    stall_id: Mapped[int] = mapped_column(Integer)
    ts: Mapped[float] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(80), default="")


class StallReading(Base):
    __tablename__ = "stall_readings"
    __table_args__ = (Index("ix_stall_device_ts", "device_id", "ts"),
                      Index("ux_stall_device_seq", "device_id", "seq", unique=True,
                            sqlite_where=text("seq IS NOT NULL"), postgresql_where=text("seq IS NOT NULL")))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[str] = mapped_column(String(64))
    ts: Mapped[float] = mapped_column(Float)
    occupied: Mapped[bool | None] = mapped_column(Boolean)
    door: Mapped[str | None] = mapped_column(String(8))
    thermal: Mapped[bool | None] = mapped_column(Boolean)
    seq: Mapped[str | None] = mapped_column(String(64))  # the device's id for the reading: stored once


class DeviceLog(Base):
    __tablename__ = "device_logs"
    __table_args__ = (Index("ix_device_logs_device_ts", "device_id", "ts"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[str] = mapped_column(String(64))
    ts: Mapped[float] = mapped_column(Float)
    level: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ts: Mapped[float] = mapped_column(Float, index=True)
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(120))
    detail: Mapped[str] = mapped_column(Text, default="")


class Member(Base):
    __tablename__ = "members"

    enrollment: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    programme: Mapped[str] = mapped_column(String(80), default="")
    created_at: Mapped[float] = mapped_column(Float)


class Locker(Base):
    __tablename__ = "lockers"

    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    bank: Mapped[str] = mapped_column(String(40), default="")
    out_of_order: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str] = mapped_column(String(200), default="")


class LockerAssignment(Base):
    """Every assignment ever made; the active ones have no `released_at`. The two partial unique indexes are the
    invariants: at most one active assignment per locker and per member, whatever the stations do."""

    __tablename__ = "locker_assignments"
    __table_args__ = (
        Index("ux_active_locker", "locker", unique=True, sqlite_where=text("released_at IS NULL")),
        Index("ux_active_member", "member", unique=True, sqlite_where=text("released_at IS NULL")),
        Index("ix_assignments_assigned_at", "assigned_at"),
        Index("ix_assignments_member", "member", "assigned_at"),
        Index("ix_assignments_locker", "locker", "assigned_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    locker: Mapped[int] = mapped_column(ForeignKey("lockers.number"))
    member: Mapped[str] = mapped_column(ForeignKey("members.enrollment"))
    assigned_at: Mapped[float] = mapped_column(Float)
    due_at: Mapped[float] = mapped_column(Float)
    assigned_by: Mapped[str] = mapped_column(String(120))
    released_at: Mapped[float | None] = mapped_column(Float)
    released_by: Mapped[str | None] = mapped_column(String(120))
    release_kind: Mapped[str | None] = mapped_column(String(16))  # exit, force, overdue
    release_reason: Mapped[str | None] = mapped_column(String(200))


class LockerHour(Base):
    """Assignments per local hour, kept up to date in the same transaction as each assign and release, so that
    figures over years read a few thousand rows instead of a million (bench/lockers.py). `slot` is the local hour the
    assignments started in, as the number YYYYMMDDHH; durations count when the assignment ends."""

    __tablename__ = "locker_hours"

    slot: Mapped[int] = mapped_column(Integer, primary_key=True)
    assigned: Mapped[int] = mapped_column(Integer, default=0)
    released: Mapped[int] = mapped_column(Integer, default=0)
    held_s: Mapped[float] = mapped_column(Float, default=0.0)
    forced: Mapped[int] = mapped_column(Integer, default=0)
    overdue: Mapped[int] = mapped_column(Integer, default=0)


class Port(Base):
    """A measured socket of an energy device. `channel` is the device's own name for it (the `port` field of its
    readings, a serial board's channel); readings that name no channel go to the device's only port."""

    __tablename__ = "ports"
    __table_args__ = (UniqueConstraint("device_id", "channel"), UniqueConstraint("device_id", "name"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    channel: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[float] = mapped_column(Float)
    active_w: Mapped[float] = mapped_column(Float, default=10.0)
    noise_floor_w: Mapped[float | None] = mapped_column(Float)  # None: estimated from the port's own readings
    phantom_after_s: Mapped[float] = mapped_column(Float, default=900.0)
    schedule: Mapped[str] = mapped_column(String(200), default="")


class EnergyRollup(Base):
    """Per port, tier (minute, hour, day) and bucket start: power min / max / sum / count and energy (Wh), kept up
    to date as readings arrive; graphs over long ranges and kWh per day read these instead of raw readings."""

    __tablename__ = "energy_rollups"

    port: Mapped[str] = mapped_column(String(36), primary_key=True)
    tier: Mapped[str] = mapped_column(String(8), primary_key=True)
    start: Mapped[float] = mapped_column(Float, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    minimum: Mapped[float] = mapped_column(Float)
    maximum: Mapped[float] = mapped_column(Float)
    total: Mapped[float] = mapped_column(Float)
    energy_wh: Mapped[float] = mapped_column(Float)


class Notification(Base):
    """Something a person should see until acknowledged: a phantom load (watts, duration, monthly cost), ..."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_open", "acknowledged_at", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[float] = mapped_column(Float)
    kind: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(64))  # e.g. a port id
    title: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str] = mapped_column(Text, default="")
    watts: Mapped[float | None] = mapped_column(Float)
    duration_s: Mapped[float | None] = mapped_column(Float)
    monthly_cost: Mapped[float | None] = mapped_column(Float)
    ended_at: Mapped[float | None] = mapped_column(Float)
    acknowledged_at: Mapped[float | None] = mapped_column(Float)
    acknowledged_by: Mapped[str | None] = mapped_column(String(120))


class SerialBoard(Base):
    """A USB-serial board, known by its hello id, USB serial number or device path (`key`), and the device its
    readings belong to (a device of its own, made on first contact, until an admin maps it to another)."""

    __tablename__ = "serial_boards"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(String(200), default="")
    firmware: Mapped[str | None] = mapped_column(String(40))
    first_seen: Mapped[float] = mapped_column(Float)
    last_seen: Mapped[float] = mapped_column(Float)


class OperatorAccount(Base):
    """A person who signs in at the kiosk: role, argon2id password hash (an older scrypt one is replaced at the next
    sign-in), failed attempts and lockout (kept across restarts, so restarting the program does not reset a lockout)."""

    __tablename__ = "operators"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[float] = mapped_column(Float)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[float] = mapped_column(Float, default=0.0)
    disabled_at: Mapped[float | None] = mapped_column(Float)
    last_login: Mapped[float | None] = mapped_column(Float)


class DeviceCommand(Base):
    """A command sent to a device (or an organisation's broadcast) and its life (kiosk.core.commands)."""

    __tablename__ = "device_commands"
    __table_args__ = (Index("ix_device_commands_device", "device_id", "created_at"),
                      Index("ix_device_commands_open", "state"))

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(100))  # a device id, or "organizations/{org}" for a broadcast
    name: Mapped[str] = mapped_column(String(40))
    parameters: Mapped[str] = mapped_column(Text, default="{}")  # JSON
    created_at: Mapped[float] = mapped_column(Float)
    ttl_s: Mapped[float] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[float] = mapped_column(Float)
    detail: Mapped[str] = mapped_column(String(300), default="")
    uptime_before: Mapped[float | None] = mapped_column(Float)
    actor: Mapped[str] = mapped_column(String(120))
    history: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of [time, state, detail]


class FirmwareImage(Base):
    """An uploaded firmware image: the bytes live in the data folder's firmware/ under their SHA-256."""

    __tablename__ = "firmware_images"
    __table_args__ = (UniqueConstraint("kind", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    version: Mapped[str] = mapped_column(String(40))
    filename: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(128))  # Ed25519 over the SHA-256 digest, hex
    uploaded_at: Mapped[float] = mapped_column(Float)
    uploaded_by: Mapped[str] = mapped_column(String(120))


class OtaJob(Base):
    """One device's update to one image: ordered, then the device's progress reports, or skipped / retried."""

    __tablename__ = "ota_jobs"
    __table_args__ = (Index("ix_ota_jobs_device", "device_id", "created_at"), Index("ix_ota_jobs_state", "state"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[str] = mapped_column(String(64))
    image_id: Mapped[int | None] = mapped_column(ForeignKey("firmware_images.id", ondelete="SET NULL"))
    version: Mapped[str] = mapped_column(String(40))
    from_version: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    ordered_at: Mapped[float | None] = mapped_column(Float)
    detail: Mapped[str] = mapped_column(String(300), default="")
    actor: Mapped[str] = mapped_column(String(120))


class FirmwareHistory(Base):
    """Each firmware version a device has run, from the first report of it (by OTA or reported by the device)."""

    __tablename__ = "firmware_history"
    __table_args__ = (Index("ix_firmware_history_device", "device_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(64))
    at: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(16))  # "reported" or "ota"


class IngestCursor(Base):
    """How far a source of device messages (the embedded broker's journal) has been stored: written in the same
    transaction as the rows taken from it, so a restart replays exactly what is not stored yet."""

    __tablename__ = "ingest_cursors"

    source: Mapped[str] = mapped_column(String(80), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
