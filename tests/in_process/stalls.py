"""What the Stalls tab may ask of the hub: a narrow facade, so that widgets never hold the hub itself.

Edits are small transactions on the GUI thread (a few milliseconds; SQLite's busy timeout covers a concurrent batch
commit). After each edit the hub re-reads the layout, fuses, publishes to displays and the tiles follow.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kiosk.core.operators import Operator, Role
from kiosk.core.stalls import SensorRole

if TYPE_CHECKING:  # the window must not import SQLAlchemy before its first paint (tests/ui/test_main_window.py)
    from kiosk.store.stalls import RestroomInfo, SensorInfo

PIN_ADMIN = Operator("admin (PIN)", Role.ADMIN)  # where the admin PIN still stands for the admin


class StallOperations:
    """`who` is the admin acting (kiosk.ui.operator_gate: the operator signed in); the store checks the role."""

    def __init__(self, hub: Any, who: Callable[[], Operator | None] = lambda: PIN_ADMIN) -> None:
        self._hub = hub
        self._who = who
        self.directory = hub.stall_directory

    def _admin(self, what: str) -> Operator:
        """The operator acting; the store checks the role (kiosk.store.stalls.acting)."""
        operator = self._who()
        if operator is None:
            raise PermissionError(f"Sign in as an admin to {what} (the admin session has locked itself).")
        return operator

    def restrooms(self) -> list[RestroomInfo]:
        return self.directory.restrooms()

    def sensors(self) -> list[SensorInfo]:
        return self.directory.sensors()

    def add_restroom(self, name: str, floor: str) -> int:
        return self._edited(self.directory.add_restroom(name, floor, self._admin("edit restrooms")))

    def edit_restroom(self, restroom_id: int, name: str, floor: str) -> None:
        self._edited(self.directory.edit_restroom(restroom_id, name, floor, self._admin("edit restrooms")))

    def remove_restroom(self, restroom_id: int) -> None:
        self._edited(self.directory.remove_restroom(restroom_id, self._admin("edit restrooms")))

    def add_stall(self, restroom_id: int, label: str) -> int:
        return self._edited(self.directory.add_stall(restroom_id, label, self._admin("edit stalls")))

    def remove_stall(self, stall_id: int) -> None:
        self._edited(self.directory.remove_stall(stall_id, self._admin("edit stalls")))

    def assign(self, device_id: str, stall_id: int, role: SensorRole) -> None:
        self._edited(self.directory.assign(device_id, stall_id, role, self._admin("assign sensors")))

    def unassign(self, device_id: str) -> None:
        self._edited(self.directory.unassign(device_id, self._admin("assign sensors")))

    def reset_wifi(self, device_id: str) -> None:
        self._hub.legacy_boards.reset_wifi(device_id, self._admin("reset a board's Wi-Fi"))

    def device(self, device_id: str) -> Any:
        return self._hub.ingest.tracker.get(device_id)

    def timeline(self, stall_id: int, since: float, until: float) -> list[tuple[float, str, str]]:
        return self.directory.timeline(stall_id, since, until)

    def recent_readings(self, device_ids: list[str]) -> list[tuple[float, str, str]]:
        return self.directory.recent_readings(device_ids)

    def events(self, since: float, until: float) -> list[tuple[int, float, str]]:
        return self.directory.events(since, until)

    def _edited(self, result: Any) -> Any:
        self._hub.stalls_edited()
        return result
