"""Device payloads: JSON bodies parsed into typed, validated messages or a precise rejection.

Nothing here raises on bad input except `Rejected`, whose `reason` is one of `Reason` and whose `detail` says what was
wrong in words an admin can act on. A `token` field inside a payload is accepted for compatibility and dropped here,
so it never reaches the store or a log line.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from enum import Enum
from typing import Any

from kiosk.protocol.jsontext import JsonRefused, loads
from kiosk.protocol.topics import Channel


class Reason(str, Enum):
    NOT_JSON = "not_json"
    WRONG_TYPE = "wrong_type"
    OUT_OF_RANGE = "out_of_range"
    TOO_LARGE = "too_large"
    UNKNOWN_TOPIC = "unknown_topic"
    UNKNOWN_DEVICE = "unknown_device"
    NOT_ALLOWED = "not_allowed"  # a publish the broker's ACL refused (another device's topic, the hub's, `$`)
    UNKNOWN_PORT = "unknown_port"  # an HTTP reading for a port the device does not have
    DUPLICATE = "duplicate"  # a reading whose `seq` was stored before (HTTP answers it; MQTT drops it quietly)
    INTERNAL_ERROR = "internal_error"  # the hub failed on this message (a bug): logged once with its traceback


class Rejected(Exception):
    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Telemetry:
    value: float | str
    telemetry_data_id: int | None
    urgent: bool
    minimum: float | None
    maximum: float | None
    at: float | None = None  # the device's own time of the reading (`ts`), UTC seconds; None: when it arrived
    seq: str | None = None  # the device's id for the reading: a second one with the same id is a duplicate


@dataclass(frozen=True)
class EnergyReading:
    port: str | None
    voltage: float
    current: float
    power: float
    at: float | None = None
    seq: str | None = None


@dataclass(frozen=True)
class StallReading:
    occupied: bool | None
    door: str | None  # "open" / "closed"
    thermal: bool | None
    at: float | None = None
    seq: str | None = None


@dataclass(frozen=True)
class StatusReport:
    status: str
    battery: float | None
    signal: float | None
    firmware: str | None
    ip: str | None
    mac: str | None = None
    uptime_s: float | None = None


@dataclass(frozen=True)
class Heartbeat:
    uptime_s: float | None
    signal: float | None
    firmware: str | None
    ip: str | None
    mac: str | None = None


@dataclass(frozen=True)
class LogLine:
    text: str
    level: str


@dataclass(frozen=True)
class CommandAck:
    """A device's answer to a command (or an OTA order): which, whether it will do it, and why not."""

    command_id: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class OtaProgress:
    """An ESP32's report on a firmware update: downloading, verified, updating, updated or failed."""

    state: str
    version: str | None
    percent: float | None
    detail: str


OTA_STATES = ("downloading", "verified", "updating", "updated", "failed")

DeviceMessage = (Telemetry | EnergyReading | StallReading | StatusReport | Heartbeat | LogLine | CommandAck
                 | OtaProgress)

VOLTAGE_RANGE = (0.0, 500.0)
CURRENT_RANGE = (0.0, 100.0)
POWER_RANGE = (0.0, 50_000.0)


def parse(channel: Channel, payload: bytes, max_bytes: int) -> DeviceMessage:
    """Parse one payload from a device channel, or raise Rejected."""
    if len(payload) > max_bytes:
        raise Rejected(Reason.TOO_LARGE, f"{len(payload)} bytes, the limit is {max_bytes}")
    if channel is Channel.LOGS:
        return _log_line(payload)
    body = _json_object(payload)
    body.pop("token", None)
    if channel is Channel.DATASTREAM:
        return datastream(body)
    if channel is Channel.STATUS:
        return _status(body)
    if channel is Channel.ACK:
        return _ack(body)
    if channel is Channel.PROGRESS:
        return _progress(body)
    return _heartbeat(body)


def _progress(body: dict[str, Any]) -> OtaProgress:
    state = _text(body, "state", 20)
    if state not in OTA_STATES:
        raise Rejected(Reason.WRONG_TYPE, f"'state' must be one of {', '.join(OTA_STATES)}, got {state!r}")
    return OtaProgress(state, _text(body, "version", 40), _number(body, "percent", (0, 100), required=False),
                       _text(body, "detail", 200) or "")


def ota_order(job_id: int, version: str, url: str, size: int, sha256: str, signature: str) -> bytes:
    """The order a device gets on device/{id}/ota (docs/protocol.md, "Firmware updates")."""
    return json.dumps({"job": job_id, "version": version, "url": url, "size": size, "sha256": sha256,
                       "signature": signature}, separators=(",", ":")).encode()


def _ack(body: dict[str, Any]) -> CommandAck:
    command_id = _text(body, "id", 64)
    if not command_id:
        raise Rejected(Reason.WRONG_TYPE, "'id' (the command's id) is missing")
    ok = body.get("ok")
    if not isinstance(ok, bool):
        raise Rejected(Reason.WRONG_TYPE, "'ok' must be true or false")
    return CommandAck(command_id, ok, _text(body, "detail", 200) or "")


def load_json(payload: bytes | str) -> Any:
    """Device JSON within the limits of kiosk.protocol.jsontext, or Rejected."""
    try:
        return loads(payload)
    except JsonRefused as exc:
        raise Rejected(Reason(exc.reason), exc.detail) from None


MAX_BACKLOG_ITEMS = 1000  # readings in one backlog message (the payload size limit usually binds first)


def parse_datastream(payload: bytes, max_bytes: int) -> list[DeviceMessage | Rejected]:
    """A datastream message: one reading (an object) or a device's backlog (an array of readings, each with its
    own `ts`). Each reading is parsed on its own: a bad one is a Rejected in its place, the good ones stand.
    Raises Rejected when the message as a whole cannot be read."""
    if len(payload) > max_bytes:
        raise Rejected(Reason.TOO_LARGE, f"{len(payload)} bytes, the limit is {max_bytes}")
    body = load_json(payload)
    if isinstance(body, dict):
        body.pop("token", None)
        return [datastream(body)]
    if not isinstance(body, list):
        raise Rejected(Reason.WRONG_TYPE, f"expected a JSON object or an array of them, got {type(body).__name__}")
    if not body:
        raise Rejected(Reason.WRONG_TYPE, "an empty backlog (an array with no readings)")
    if len(body) > MAX_BACKLOG_ITEMS:
        raise Rejected(Reason.TOO_LARGE, f"a backlog of {len(body)} readings; at most {MAX_BACKLOG_ITEMS} a message")
    out: list[DeviceMessage | Rejected] = []
    for n, item in enumerate(body):
        try:
            if not isinstance(item, dict):
                raise Rejected(Reason.WRONG_TYPE, f"a backlog item must be an object, got {type(item).__name__}")
            item.pop("token", None)
            out.append(datastream(item))
        except Rejected as exc:
            out.append(Rejected(exc.reason, f"backlog item {n + 1}: {exc.detail}"))
    return out


def _json_object(payload: bytes) -> dict[str, Any]:
    body = load_json(payload)
    if not isinstance(body, dict):
        raise Rejected(Reason.WRONG_TYPE, f"expected a JSON object, got {type(body).__name__}")
    return body


# The keys each kind of datastream reading may carry; any other key is refused (wrong_type), so that a reading of a
# kind the kiosk does not know is never stored as one it does.
COMMON_KEYS = frozenset({"ts", "timestamp", "seq"})
ENERGY_KEYS = frozenset({"voltage", "current", "power", "port"}) | COMMON_KEYS
STALL_KEYS = frozenset({"occupied", "door", "thermal"}) | COMMON_KEYS
TELEMETRY_KEYS = frozenset({"value", "telemetryDataId", "urgent", "thresholds"}) | COMMON_KEYS


def _only(body: dict[str, Any], allowed: frozenset[str], kind: str) -> None:
    extra = sorted(str(key)[:40] for key in body if key not in allowed)
    if extra:
        raise Rejected(Reason.WRONG_TYPE, f"unknown key(s) in {kind}: {', '.join(extra[:5])}")


def datastream(body: dict[str, Any]) -> Telemetry | EnergyReading | StallReading:
    """One datastream reading (an object), with its optional `ts` (or `timestamp`) and `seq`."""
    reading = _reading(body)
    at, seq = reading_time(body), reading_seq(body)
    return replace(reading, at=at, seq=seq) if at is not None or seq is not None else reading


def _reading(body: dict[str, Any]) -> Telemetry | EnergyReading | StallReading:
    if "voltage" in body or "current" in body or "power" in body:
        _only(body, ENERGY_KEYS, "an energy reading")
        return energy_reading(body)
    if "occupied" in body or "door" in body or "thermal" in body:
        _only(body, STALL_KEYS, "a stall reading")
        return _stall(body)
    if "value" in body:
        _only(body, TELEMETRY_KEYS, "a telemetry reading")
        return _telemetry(body)
    raise Rejected(Reason.WRONG_TYPE, "datastream needs 'value', an energy reading or a stall reading; got keys "
                   + ", ".join(sorted(body)) if body else "datastream payload is an empty object")


EPOCH_MS_ABOVE = 1e11  # a `ts` above this is in milliseconds (1e11 s is the year 5138; 1e11 ms is 1973)


def reading_time(body: dict[str, Any]) -> float | None:
    """A reading's own time: `ts` (or `timestamp`) as epoch seconds or milliseconds, or ISO 8601 text (UTC unless
    it says otherwise). Whether it is within the accepted window is the ingest pipeline's judgement."""
    raw = body.get("ts", body.get("timestamp"))
    if raw is None:
        return None
    if isinstance(raw, bool):
        raise Rejected(Reason.WRONG_TYPE, "'ts' must be epoch seconds, epoch milliseconds or ISO 8601 text")
    if isinstance(raw, (int, float)):
        value = float(raw)
        if not math.isfinite(value) or value <= 0:
            raise Rejected(Reason.OUT_OF_RANGE, f"'ts' = {raw!r} is not a time")
        return value / 1000 if value > EPOCH_MS_ABOVE else value
    if isinstance(raw, str) and len(raw) <= 40:
        try:
            parsed = datetime.fromisoformat(raw.strip())
        except ValueError:
            raise Rejected(Reason.WRONG_TYPE, f"'ts' {raw!r} is not ISO 8601 (e.g. 2026-12-01T14:03:00Z)") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        return parsed.timestamp()
    raise Rejected(Reason.WRONG_TYPE, "'ts' must be epoch seconds, epoch milliseconds or ISO 8601 text")


def iso_utc(at: float) -> str:
    """A time as the original HTTP API wrote it: ISO 8601 in UTC with milliseconds, `2024-01-01T12:00:00.000Z`."""
    return datetime.fromtimestamp(at, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(at * 1000) % 1000:03d}Z"


def reading_seq(body: dict[str, Any]) -> str | None:
    """A reading's id from the device (`seq`): a whole number from 0 or text of up to 64 characters."""
    raw = body.get("seq")
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise Rejected(Reason.WRONG_TYPE, "'seq' must be a whole number from 0 or text of up to 64 characters")
    if isinstance(raw, int) and raw < 0 or isinstance(raw, str) and not 0 < len(raw) <= 64:
        raise Rejected(Reason.WRONG_TYPE, "'seq' must be a whole number from 0 or text of up to 64 characters")
    return str(raw)


def _number(body: dict[str, Any], key: str, bounds: tuple[float, float] | None = None,
            required: bool = True) -> float | None:
    raw = body.get(key)
    if raw is None:
        if required:
            raise Rejected(Reason.WRONG_TYPE, f"'{key}' is missing")
        return None
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise Rejected(Reason.WRONG_TYPE, f"'{key}' must be a number, got {type(raw).__name__}")
    try:
        value = float(raw)
    except ValueError:
        raise Rejected(Reason.WRONG_TYPE, f"'{key}' must be a number, got {raw!r}") from None
    if not math.isfinite(value):
        raise Rejected(Reason.OUT_OF_RANGE, f"'{key}' is {raw!r}")
    if bounds and not bounds[0] <= value <= bounds[1]:
        raise Rejected(Reason.OUT_OF_RANGE, f"'{key}' = {value:g} is outside {bounds[0]:g}..{bounds[1]:g}")
    return value


def _text(body: dict[str, Any], key: str, limit: int = 200) -> str | None:
    raw = body.get(key)
    if raw is None:
        return None
    if not isinstance(raw, (str, int, float)) or isinstance(raw, bool):
        raise Rejected(Reason.WRONG_TYPE, f"'{key}' must be text, got {type(raw).__name__}")
    return str(raw)[:limit]


def energy_reading(body: dict[str, Any], power_tolerance: float = 0.1) -> EnergyReading:
    """An energy reading; power must agree with voltage x current within the tolerance (plus 1 W)."""
    voltage = _number(body, "voltage", VOLTAGE_RANGE)
    current = _number(body, "current", CURRENT_RANGE)
    power = _number(body, "power", POWER_RANGE)
    assert voltage is not None and current is not None and power is not None
    expected = voltage * current
    if abs(power - expected) > power_tolerance * expected + 1.0:
        raise Rejected(Reason.OUT_OF_RANGE,
                       f"power {power:g} W disagrees with voltage x current = {expected:.2f} W")
    port = _text(body, "port", 64)
    return EnergyReading(port, voltage, current, power)


def timed_energy_reading(body: dict[str, Any]) -> EnergyReading:
    """An energy reading with its optional `ts` and `seq` (HTTP, USB serial)."""
    reading = energy_reading(body)
    at, seq = reading_time(body), reading_seq(body)
    return replace(reading, at=at, seq=seq) if at is not None or seq is not None else reading


def _telemetry(body: dict[str, Any]) -> Telemetry:
    raw = body["value"]
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise Rejected(Reason.WRONG_TYPE, f"'value' must be a number or text, got {type(raw).__name__}")
    value: float | str = raw if isinstance(raw, str) else float(raw)
    if isinstance(value, float) and not math.isfinite(value):
        raise Rejected(Reason.OUT_OF_RANGE, f"'value' is {raw!r}")
    data_id = body.get("telemetryDataId")
    if data_id is not None and (isinstance(data_id, bool) or not isinstance(data_id, int)):
        raise Rejected(Reason.WRONG_TYPE, "'telemetryDataId' must be a whole number")
    urgent = body.get("urgent", False)
    if not isinstance(urgent, bool):
        raise Rejected(Reason.WRONG_TYPE, "'urgent' must be true or false")
    thresholds = body.get("thresholds") or {}
    if not isinstance(thresholds, dict):
        raise Rejected(Reason.WRONG_TYPE, "'thresholds' must be an object with 'min' and 'max'")
    return Telemetry(value if isinstance(value, str) else value, data_id, urgent,
                     _number(thresholds, "min", required=False), _number(thresholds, "max", required=False))


def _flag(body: dict[str, Any], key: str) -> bool | None:
    raw = body.get(key)
    if raw is None:
        return None
    if isinstance(raw, bool):
        return raw
    if raw in (0, 1):
        return bool(raw)
    raise Rejected(Reason.WRONG_TYPE, f"'{key}' must be true/false or 0/1, got {raw!r}")


def _stall(body: dict[str, Any]) -> StallReading:
    door = body.get("door")
    if door is not None and door not in ("open", "closed"):
        raise Rejected(Reason.WRONG_TYPE, f"'door' must be \"open\" or \"closed\", got {door!r}")
    return StallReading(_flag(body, "occupied"), door, _flag(body, "thermal"))


def _status(body: dict[str, Any]) -> StatusReport:
    status = _text(body, "status", 32)
    if status is None:
        raise Rejected(Reason.WRONG_TYPE, "'status' is missing")
    meta = body.get("metadata") or {}
    if not isinstance(meta, dict):
        raise Rejected(Reason.WRONG_TYPE, "'metadata' must be an object")
    return StatusReport(status, _number(meta, "battery", (0, 100), required=False),
                        _number(meta, "signal", (-150, 0), required=False),
                        _text(meta, "firmware", 64), _text(meta, "ip", 64), _mac(meta),
                        _number(meta, "uptime", UPTIME_RANGE, required=False))


def _heartbeat(body: dict[str, Any]) -> Heartbeat:
    return Heartbeat(_number(body, "uptime", UPTIME_RANGE, required=False),
                     _number(body, "rssi", (-150, 0), required=False),
                     _text(body, "fw", 64), _text(body, "ip", 64), _mac(body))


UPTIME_RANGE = (0, 10 * 365 * 86400)
_MAC = re.compile(r"[0-9A-Fa-f]{2}([:-]?)[0-9A-Fa-f]{2}(\1[0-9A-Fa-f]{2}){4}")


def _mac(body: dict[str, Any]) -> str | None:
    """A MAC address in any of the usual spellings, kept as AA:BB:CC:DD:EE:FF."""
    text = _text(body, "mac", 32)
    if text is None:
        return None
    if not _MAC.fullmatch(text.strip()):
        raise Rejected(Reason.WRONG_TYPE, f"'mac' must look like AA:BB:CC:DD:EE:FF, got {text!r}")
    digits = re.sub("[:-]", "", text.strip()).upper()
    return ":".join(digits[i:i + 2] for i in range(0, 12, 2))


def _log_line(payload: bytes) -> LogLine:
    text = payload.decode("utf-8", errors="replace").strip()
    level = "info"
    if text.startswith("{"):
        try:
            body = loads(text)
        except JsonRefused as exc:
            if "surrogate" in exc.detail:  # JSON that holds text no database can store
                raise Rejected(Reason(exc.reason), exc.detail) from None
            body = None  # plain text that happens to start with a brace
        if isinstance(body, dict) and isinstance(body.get("message"), str):
            text = body["message"]
            level = str(body.get("level", "info"))[:16]
    if not text:
        raise Rejected(Reason.WRONG_TYPE, "empty log line")
    return LogLine(text[:1000], level)


def describe(message: DeviceMessage) -> str:
    """One line about an accepted message, for the admin's list of a device's recent messages (no secrets: a
    payload's token never got into the message)."""
    if isinstance(message, EnergyReading):
        where = f"port {message.port}: " if message.port else ""
        return f"energy {where}{message.voltage:g} V, {message.current:g} A, {message.power:g} W"
    if isinstance(message, StallReading):
        parts = [f"{k} {v}" for k, v in (("occupied", message.occupied), ("door", message.door),
                                         ("thermal", message.thermal)) if v is not None]
        return "stall " + ", ".join(parts)
    if isinstance(message, Telemetry):
        return f"telemetry {message.value}" + (" (urgent)" if message.urgent else "")
    if isinstance(message, StatusReport):
        facts = [f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in (
            ("battery %", message.battery), ("signal dBm", message.signal), ("firmware", message.firmware),
            ("ip", message.ip), ("uptime s", message.uptime_s)) if v is not None]
        return f"status {message.status}" + (": " + ", ".join(facts) if facts else "")
    if isinstance(message, Heartbeat):
        facts = [f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in (
            ("uptime s", message.uptime_s), ("rssi", message.signal), ("fw", message.firmware),
            ("ip", message.ip)) if v is not None]
        return "heartbeat" + (": " + ", ".join(facts) if facts else "")
    if isinstance(message, OtaProgress):
        percent = f" {message.percent:.0f} %" if message.percent is not None else ""
        return f"update {message.version or ''}: {message.state}{percent}" + (
            f", {message.detail}" if message.detail else "")
    if isinstance(message, CommandAck):
        return f"answer to command {message.command_id}: {'ok' if message.ok else 'refused'}" + (
            f", {message.detail}" if message.detail else "")
    return f"log [{message.level}] {message.text[:120]}"
