"""The life of a command sent to a device, pure: queued -> sent -> acknowledged -> done, or failed, or expired.

- A command for an offline device waits (**queued**) until the device is back, at most its time-to-live.
- **sent**: published on `devices/{id}/commands` with its id; the device answers with an acknowledgement
  (docs/protocol.md) -> **acknowledged**, or, with `"ok": false`, **failed** with the device's reason.
- **done** when its effect is seen: for `restart`, the device reports a smaller uptime than before the command (it
  came back); other commands are done when acknowledged.
- **expired** when the time-to-live passes before the next step (never sent, never acknowledged, effect never seen).
Every transition is a new frozen value; the caller stores it and shows it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

from kiosk.core.words import plural

DEFAULT_TTL_S = 600.0
KNOWN = ("restart",)  # commands whose effect the kiosk can see; others are done when acknowledged


class CommandState(str, Enum):
    QUEUED = "queued"
    SENT = "sent"
    ACKNOWLEDGED = "acknowledged"
    DONE = "done"
    FAILED = "failed"
    EXPIRED = "expired"

    @property
    def final(self) -> bool:
        return self in (CommandState.DONE, CommandState.FAILED, CommandState.EXPIRED)


@dataclass(frozen=True)
class Command:
    id: str
    device_id: str
    name: str
    parameters: dict[str, Any]
    created_at: float
    ttl_s: float
    state: CommandState = CommandState.QUEUED
    updated_at: float = 0.0
    detail: str = ""
    uptime_before: float | None = None  # the device's uptime when the command went out (restart's effect)
    history: tuple[tuple[float, str, str], ...] = field(default_factory=tuple)  # (when, state, detail)

    @property
    def expires_at(self) -> float:
        return self.created_at + self.ttl_s

    def payload(self) -> dict[str, Any]:
        """What the device receives on devices/{id}/commands."""
        return {"id": self.id, "command": self.name, "parameters": self.parameters,
                "expires": round(self.expires_at, 3)}


def new_command(device_id: str, name: str, parameters: dict[str, Any] | None, now: float,
                ttl_s: float = DEFAULT_TTL_S) -> Command:
    name = name.strip()
    if not name or len(name) > 40 or not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError("A command is a word like restart (letters, digits, '-' or '_', up to 40).")
    if ttl_s <= 0:
        raise ValueError("The time-to-live must be above 0 s.")
    command = Command(secrets.token_hex(8), device_id, name, dict(parameters or {}), now, ttl_s, updated_at=now)
    return _to(command, CommandState.QUEUED, now, "waiting for the device")


BROADCAST_PREFIX = "organizations/"


def is_broadcast(command: Command) -> bool:
    return command.device_id.startswith(BROADCAST_PREFIX)


def new_broadcast(organization: str, name: str, parameters: dict[str, Any] | None, now: float,
                  ttl_s: float = DEFAULT_TTL_S) -> Command:
    """A command to every device of an organisation (`organizations/{org}/broadcast`): published at once; the
    devices' answers are collected until the time-to-live, then it is done (someone answered) or expired."""
    command = new_command(BROADCAST_PREFIX + organization, name, parameters, now, ttl_s)
    return _to(command, CommandState.SENT, now, "published to the organisation")


def broadcast_answer(command: Command, now: float, device_id: str, ok: bool, detail: str = "") -> Command:
    """One device's answer to a broadcast, kept in the history as ("answer ok" / "answer refused") entries."""
    if not is_broadcast(command) or command.state.final:
        return command
    text = f"{device_id}: {'acknowledged' if ok else 'refused'}" + (f", {detail}" if detail else "")
    return replace(command, state=CommandState.ACKNOWLEDGED, updated_at=now, detail=text,
                   history=command.history + ((now, ANSWER_OK if ok else ANSWER_REFUSED, text),))


ANSWER_OK, ANSWER_REFUSED = "answer ok", "answer refused"


def _answers(command: Command) -> tuple[int, int]:
    kinds = [kind for _, kind, _ in command.history]
    return kinds.count(ANSWER_OK), kinds.count(ANSWER_REFUSED)


def _to(command: Command, state: CommandState, now: float, detail: str, **changes: Any) -> Command:
    return replace(command, state=state, updated_at=now, detail=detail,
                   history=command.history + ((now, state.value, detail),), **changes)


def sent(command: Command, now: float, uptime: float | None) -> Command:
    if command.state is not CommandState.QUEUED:
        return command
    if now >= command.expires_at:
        return _to(command, CommandState.EXPIRED, now, "the device did not come back in time")
    return _to(command, CommandState.SENT, now, "published", uptime_before=uptime)


def acknowledged(command: Command, now: float, ok: bool, detail: str = "") -> Command:
    if command.state not in (CommandState.SENT, CommandState.QUEUED):
        return command
    if not ok:
        return _to(command, CommandState.FAILED, now, detail or "the device refused it")
    if command.name not in KNOWN:
        return _to(command, CommandState.DONE, now, detail or "acknowledged")
    return _to(command, CommandState.ACKNOWLEDGED, now, detail or "acknowledged; waiting for its effect")


def heartbeat(command: Command, now: float, uptime: float | None) -> Command:
    """A report from the device: for a restart, a smaller uptime than before means it came back."""
    if command.name != "restart" or command.state not in (CommandState.SENT, CommandState.ACKNOWLEDGED):
        return command
    if uptime is not None and command.uptime_before is not None and uptime < command.uptime_before:
        return _to(command, CommandState.DONE, now, f"restarted (uptime {uptime:.0f} s)")
    return command


def tick(command: Command, now: float) -> Command:
    if is_broadcast(command) and not command.state.final and now >= command.expires_at:
        acknowledged_by, refused_by = _answers(command)
        if not acknowledged_by and not refused_by:
            return _to(command, CommandState.EXPIRED, now, "no device answered")
        return _to(command, CommandState.DONE, now, f"answered by {plural(acknowledged_by + refused_by, 'device')}: "
                   f"{acknowledged_by} acknowledged, {refused_by} refused")
    if not command.state.final and now >= command.expires_at:
        what = {CommandState.QUEUED: "the device stayed offline", CommandState.SENT: "no acknowledgement",
                CommandState.ACKNOWLEDGED: "its effect was not seen"}[command.state]
        return _to(command, CommandState.EXPIRED, now, what)
    return command
