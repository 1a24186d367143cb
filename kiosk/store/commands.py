"""Commands sent to devices and their life (kiosk.core.commands), kept so the admin can follow them across restarts."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from kiosk.core.commands import Command, CommandState
from kiosk.store.models import DeviceCommand

OPEN_STATES = (CommandState.QUEUED.value, CommandState.SENT.value, CommandState.ACKNOWLEDGED.value)


class CommandLog:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def save(self, commands: list[Command], actor: str | None = None) -> None:
        """Insert new commands (with the operator who sent them) or store the new state of known ones."""
        if not commands:
            return
        with Session(self._engine) as session, session.begin():
            for command in commands:
                row = session.get(DeviceCommand, command.id)
                if row is None:
                    row = DeviceCommand(id=command.id, device_id=command.device_id, name=command.name,
                                        parameters=json.dumps(command.parameters), created_at=command.created_at,
                                        ttl_s=command.ttl_s, actor=actor or "?")
                    session.add(row)
                row.state, row.updated_at, row.detail = command.state.value, command.updated_at, command.detail[:300]
                row.uptime_before = command.uptime_before
                row.history = json.dumps([list(entry) for entry in command.history])

    def open_commands(self) -> list[Command]:
        """Commands still waiting for something (loaded when the hub starts)."""
        with Session(self._engine) as session:
            return [_command(row) for row in session.scalars(
                select(DeviceCommand).where(DeviceCommand.state.in_(OPEN_STATES)).order_by(DeviceCommand.created_at))]

    def recent(self, limit: int = 200, device_id: str | None = None) -> list[tuple[Command, str]]:
        """The newest commands (of one device, or all), newest first, with who sent them."""
        query = select(DeviceCommand)
        if device_id is not None:
            query = query.where(DeviceCommand.device_id == device_id)
        with Session(self._engine) as session:
            return [(_command(row), row.actor) for row in session.scalars(
                query.order_by(DeviceCommand.created_at.desc()).limit(limit))]


def _command(row: DeviceCommand) -> Command:
    history: Any = json.loads(row.history or "[]")
    return Command(row.id, row.device_id, row.name, json.loads(row.parameters or "{}"), row.created_at, row.ttl_s,
                   CommandState(row.state), row.updated_at, row.detail, row.uptime_before,
                   tuple((float(when), str(state), str(detail)) for when, state, detail in history))
