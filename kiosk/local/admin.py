"""What the Admin tab may ask of the hub, acting as the operator signed in to the admin session.

The rights are checked again where each operation is done (kiosk.services.admin, kiosk.store.operators): this facade
only says who is acting; with nobody signed in (the tab locked itself meanwhile) every call is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kiosk.core.devices import ProvisionedDevice
from kiosk.core.operators import Operator, OperatorInfo, Role
from kiosk.services.admin import DeviceAdmin, RuntimeSettings
from kiosk.store.operators import OperatorDirectory


class AdminOperations:
    def __init__(self, hub: Any, who: Callable[[], Operator | None]) -> None:
        self.hub = hub
        self.devices = DeviceAdmin.for_hub(hub)
        self.directory = OperatorDirectory(hub.engine, hub.clock)
        self.runtime = RuntimeSettings(hub.config, hub.apply_setting, hub.registry.record)
        self._who = who

    def _by(self) -> Operator:
        operator = self._who()
        if operator is None:
            raise PermissionError("The admin tab is locked: sign in again.")
        return operator

    # --- devices --------------------------------------------------------------------------------------------------

    def create_device(self, name: str, kind: str, expires_at: float | None) -> ProvisionedDevice:
        return self.devices.create(self._by(), name, kind, expires_at)

    def rotate(self, device_id: str, expires_at: float | None, reason: str = "") -> str:
        return self.devices.rotate(self._by(), device_id, expires_at, reason)

    def revoke(self, device_id: str, reason: str = "") -> None:
        self.devices.revoke(self._by(), device_id, reason)

    def repair_legacy(self, device_id: str) -> None:
        self.devices.repair_legacy(self._by(), device_id)

    def set_expiry(self, device_id: str, expires_at: float | None) -> None:
        self.devices.set_expiry(self._by(), device_id, expires_at)

    def delete_device(self, device_id: str, keep_history: bool, reason: str,
                      progress: Callable[[int], None] = lambda rows: None) -> int:
        return self.devices.delete(self._by(), device_id, keep_history, reason, progress)

    def token_expiry(self, device_id: str) -> float | None:
        return self.hub.registry.token_expiry(device_id).get(device_id)

    def provisioning_text(self, device_id: str, token: str) -> str:
        """What a token's QR code carries (id, token, this hub's broker address)."""
        return self.devices.provisioning_text(device_id, token)

    def rejection_reasons(self, device_id: str) -> list[tuple[str, int, float, str]]:
        return self.hub.registry.rejection_reasons(device_id)

    def recent_messages(self, device_id: str) -> list[tuple[float, bool, str]]:
        return self.hub.ingest.recent(device_id)

    def device_logs(self, device_id: str) -> list[tuple[float, str, str]]:
        self._by()
        return self.hub.registry.device_logs(device_id)

    # --- commands -------------------------------------------------------------------------------------------------

    def send_command(self, device_ids: list[str], name: str, parameters: Any, ttl_s: float) -> list[Any]:
        return self.hub.commands.send(self._by(), device_ids, name, parameters, ttl_s)

    def broadcast(self, organization: str, name: str, parameters: Any, ttl_s: float) -> Any:
        return self.hub.commands.broadcast(self._by(), organization, name, parameters, ttl_s)

    def commands(self, limit: int = 200) -> list[Any]:
        self._by()
        return self.hub.commands.recent(limit)

    def organizations(self) -> list[str]:
        return sorted({info.organization for info in self.hub.registry.infos()} or {"default"})

    def device_names(self) -> dict[str, str]:
        return {info.id: info.name for info in self.hub.registry.infos()}

    # --- firmware -------------------------------------------------------------------------------------------------

    def public_key(self) -> str:
        return self.hub.site_key.public_hex

    def upload_firmware(self, kind: str, version: str, filename: str, data: bytes) -> Any:
        return self.hub.firmware.upload(self._by(), kind, version, filename, data)

    def firmware_images(self) -> list[Any]:
        return self.hub.firmware.images()

    def delete_firmware(self, image_id: int) -> None:
        self.hub.firmware.delete(self._by(), image_id)

    def out_of_date(self, image: Any) -> list[Any]:
        return self.hub.ota.out_of_date(image)

    def devices_of_kind(self, kind: str) -> list[Any]:
        return [snap for snap in self.hub.ingest.tracker.all() if snap.kind == kind and not snap.revoked]

    def start_update(self, image_id: int, device_ids: list[str] | None) -> list[Any]:
        return self.hub.ota.start_update(self._by(), image_id, device_ids)

    def update_jobs(self, limit: int = 300) -> list[Any]:
        self._by()
        return self.hub.firmware.recent_jobs(limit)

    def firmware_history(self, device_id: str) -> list[tuple[float, str, str]]:
        return self.hub.firmware.history(device_id)

    # --- health, notifications, settings ---------------------------------------------------------------------------

    def notifications(self, include_acknowledged: bool, limit: int = 300) -> list[Any]:
        self._by()
        return self.hub.energy_store.notifications(open_only=not include_acknowledged, limit=limit)

    def open_notifications(self) -> int:
        return self.hub.energy_store.open_count()

    def acknowledge(self, notification_ids: list[int]) -> None:
        self.hub.notices.acknowledge(self._by(), notification_ids)

    def activity(self) -> dict[str, int]:
        """Open commands and firmware updates, for the health page."""
        return {"commands": self.hub.commands.open_count(), "updates": self.hub.ota.open_jobs(),
                "updates_in_flight": self.hub.ota.jobs_in_flight()}

    def settings(self) -> list[tuple[Any, Any, str, bool]]:
        return self.runtime.current()

    def change_settings(self, changes: dict[str, Any]) -> dict[str, Any]:
        return self.runtime.change(self._by(), changes)

    # --- operators ------------------------------------------------------------------------------------------------

    def operators(self) -> list[OperatorInfo]:
        self._by()
        return self.directory.operators()

    def add_operator(self, name: str, role: Role, password: str) -> None:
        self.directory.add(name, role, password, self._by())

    def set_role(self, name: str, role: Role) -> None:
        self.directory.set_role(name, role, self._by())

    def set_password(self, name: str, password: str) -> None:
        self.directory.set_password(name, password, self._by())

    def disable(self, name: str) -> None:
        self.directory.disable(name, self._by())

    # --- audit log ------------------------------------------------------------------------------------------------

    def audit(self, text: str = "", limit: int = 500) -> list[Any]:
        """The newest audit rows (optionally containing `text` in who / what / target / why)."""
        self._by()
        return self.hub.registry.audit_page(text, limit)
