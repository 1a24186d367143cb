"""The Admin tab's operations over the hub's API: the same methods the tab's pages call (devices and tokens,
commands, firmware, health, settings, operators, the audit log); and the CLI's (energy ports, USB boards), which
calls them with this machine's CLI token instead of a session.

Changes need an admin's session open on the client (kiosk.client.session.RemoteOperators). A refusal raises what the
tab shows in words: PermissionError (no session, a staff account, a session that ended), LookupError (gone),
ValueError (the hub's sentence naming what is wrong); a hub that cannot be reached raises HubUnreachable, a
ConnectionError, whose sentence says so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from kiosk.client.http import SESSION_ENDED, ApiClient
from kiosk.client.session import RemoteOperators
from kiosk.core.commands import Command
from kiosk.core.devices import DeviceSnapshot, ProvisionedDevice, SerialBoardInfo
from kiosk.core.energy import PortInfo
from kiosk.core.operators import OperatorInfo, Role
from kiosk.core.ota import ImageInfo, Job
from kiosk.core.stalls import SensorInfo
from kiosk.core.status import HubStatus
from kiosk.protocol.answers import SettingRow
from kiosk.protocol.api import ApiError


def _device(device_id: str) -> str:
    return "/devices/" + quote(device_id, safe="")


class RemoteAdmin:
    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self.directory = RemoteOperators(client)  # the admin session signs in (and out) on the hub through it

    def _admin(self, method: str, path: str, kind: Any = Any, body: Any = None, **query: Any) -> Any:
        try:
            return self.client.call(method, path, kind, body=body, query=query or None, session=True)
        except ApiError as exc:
            raise _refusal(exc) from None

    def _read(self, path: str, kind: Any = Any, **query: Any) -> Any:
        try:
            return self.client.get(path, kind, **query)
        except ApiError as exc:
            raise _refusal(exc) from None

    # --- devices --------------------------------------------------------------------------------------------------

    def devices(self) -> list[DeviceSnapshot]:
        snapshots: list[DeviceSnapshot] = self._read("/devices", list[DeviceSnapshot])
        return snapshots

    def create_device(self, name: str, kind: str, expires_at: float | None,
                      organization: str = "default") -> ProvisionedDevice:
        created: ProvisionedDevice = self._admin("POST", "/devices", ProvisionedDevice,
                                                 {"name": name, "kind": kind, "expires_at": expires_at,
                                                  "organization": organization})
        return created

    def token_expiries(self) -> dict[str, float | None]:
        expiries: dict[str, float | None] = self._admin("GET", "/tokens/expiry", dict[str, float | None])
        return expiries

    def sensors(self) -> list[SensorInfo]:
        sensors: list[SensorInfo] = self._read("/stalls/sensors", list[SensorInfo])
        return sensors

    def serial_boards(self) -> list[SerialBoardInfo]:
        boards: list[SerialBoardInfo] = self._admin("GET", "/serial-boards", list[SerialBoardInfo])
        return boards

    def map_serial_board(self, board: str, device_id: str) -> None:
        self._admin("PUT", "/serial-boards/" + quote(board, safe=""), Any, {"device_id": device_id})

    # --- energy ports ---------------------------------------------------------------------------------------------

    def ports(self, device_id: str | None = None) -> list[PortInfo]:
        ports: list[PortInfo] = self._read("/energy/port-settings", list[PortInfo], device_id=device_id or "")
        return ports

    def add_port(self, device_id: str, name: str, channel: str | None, active_w: float, schedule: str) -> PortInfo:
        port: PortInfo = self._admin("POST", "/energy/ports", PortInfo, {
            "device_id": device_id, "name": name, "channel": channel, "active_w": active_w, "schedule": schedule})
        return port

    def edit_port(self, port_id: str, name: str | None, active_w: float | None, schedule: str | None,
                  phantom_after_s: float | None) -> PortInfo:
        port: PortInfo = self._admin("PUT", "/energy/ports/" + quote(port_id, safe=""), PortInfo, {
            "name": name, "active_w": active_w, "schedule": schedule, "phantom_after_s": phantom_after_s})
        return port

    def calibrate(self, port_id: str, minutes: float) -> float:
        return float(self._admin("POST", "/energy/ports/" + quote(port_id, safe="") + "/calibrate", float,
                                 {"minutes": minutes}))

    def rotate(self, device_id: str, expires_at: float | None, reason: str = "") -> str:
        answer = self._admin("POST", _device(device_id) + "/token", Any, {"expires_at": expires_at,
                                                                           "reason": reason})
        return str(answer["token"])

    def revoke(self, device_id: str, reason: str = "") -> None:
        self._admin("POST", _device(device_id) + "/revoke", Any, {"reason": reason})

    def repair_legacy(self, device_id: str) -> None:
        self._admin("POST", _device(device_id) + "/repair-legacy")

    def set_expiry(self, device_id: str, expires_at: float | None) -> None:
        self._admin("PUT", _device(device_id) + "/token", Any, {"expires_at": expires_at})

    def delete_device(self, device_id: str, keep_history: bool, reason: str,
                      progress: Callable[[int], None] = lambda rows: None) -> int:
        """Deleting a device with a long history takes a while on the hub; `progress` hears the rows at the end."""
        answer = self._admin("DELETE", _device(device_id), Any, {"keep_history": keep_history, "reason": reason})
        rows = int(answer["rows"])
        progress(rows)
        return rows

    def token_expiry(self, device_id: str) -> float | None:
        expiry: float | None = self._admin("GET", _device(device_id) + "/token", float | None)
        return expiry

    def provisioning_text(self, device_id: str, token: str) -> str:
        return str(self._admin("POST", _device(device_id) + "/provisioning", Any, {"token": token})["text"])

    def rejection_reasons(self, device_id: str) -> list[tuple[str, int, float, str]]:
        rows: list[tuple[str, int, float, str]] = self._read(_device(device_id) + "/rejections",
                                                             list[tuple[str, int, float, str]])
        return rows

    def recent_messages(self, device_id: str) -> list[tuple[float, bool, str]]:
        rows: list[tuple[float, bool, str]] = self._read(_device(device_id) + "/messages",
                                                         list[tuple[float, bool, str]])
        return rows

    def device_logs(self, device_id: str) -> list[tuple[float, str, str]]:
        rows: list[tuple[float, str, str]] = self._admin("GET", _device(device_id) + "/logs",
                                                         list[tuple[float, str, str]])
        return rows

    # --- commands -------------------------------------------------------------------------------------------------

    def send_command(self, device_ids: list[str], name: str, parameters: Any, ttl_s: float) -> list[Command]:
        sent: list[Command] = self._admin("POST", "/commands", list[Command], {
            "device_ids": list(device_ids), "name": name, "parameters": parameters, "ttl_s": ttl_s})
        return sent

    def broadcast(self, organization: str, name: str, parameters: Any, ttl_s: float) -> Command:
        sent: Command = self._admin("POST", f"/organizations/{quote(organization, safe='')}/broadcast", Command,
                                    {"name": name, "parameters": parameters, "ttl_s": ttl_s})
        return sent

    def commands(self, limit: int = 200) -> list[tuple[Command, str]]:
        rows: list[tuple[Command, str]] = self._admin("GET", "/commands", list[tuple[Command, str]], limit=limit)
        return rows

    def organizations(self) -> list[str]:
        names: list[str] = self._read("/organizations", list[str])
        return names

    def device_names(self) -> dict[str, str]:
        return {snap.id: snap.name for snap in self.devices()}

    # --- firmware -------------------------------------------------------------------------------------------------

    def public_key(self) -> str:
        return str(self._read("/firmware/key", str))

    def upload_firmware(self, kind: str, version: str, filename: str, data: bytes) -> ImageInfo:
        try:
            image: ImageInfo = self.client.call("POST", "/firmware/images", ImageInfo, session=True, upload=data,
                                                query={"kind": kind, "version": version, "filename": filename})
        except ApiError as exc:
            raise _refusal(exc) from None
        return image

    def firmware_images(self) -> list[ImageInfo]:
        images: list[ImageInfo] = self._admin("GET", "/firmware/images", list[ImageInfo])
        return images

    def delete_firmware(self, image_id: int) -> None:
        self._admin("DELETE", f"/firmware/images/{int(image_id)}")

    def out_of_date(self, image: ImageInfo) -> list[DeviceSnapshot]:
        devices: list[DeviceSnapshot] = self._admin("GET", f"/firmware/images/{int(image.id)}/out-of-date",
                                                    list[DeviceSnapshot])
        return devices

    def devices_of_kind(self, kind: str) -> list[DeviceSnapshot]:
        return [snap for snap in self.devices() if snap.kind == kind and not snap.revoked]

    def start_update(self, image_id: int, device_ids: list[str] | None) -> list[Job]:
        jobs: list[Job] = self._admin("POST", f"/firmware/images/{int(image_id)}/rollout", list[Job],
                                      {"device_ids": device_ids})
        return jobs

    def update_jobs(self, limit: int = 300) -> list[tuple[Job, str | None, str]]:
        rows: list[tuple[Job, str | None, str]] = self._admin("GET", "/firmware/jobs",
                                                              list[tuple[Job, str | None, str]], limit=limit)
        return rows

    def firmware_history(self, device_id: str) -> list[tuple[float, str, str]]:
        rows: list[tuple[float, str, str]] = self._read(_device(device_id) + "/firmware",
                                                        list[tuple[float, str, str]])
        return rows

    # --- health, notifications, settings ---------------------------------------------------------------------------

    def status(self) -> HubStatus:
        status: HubStatus = self._read("/status", HubStatus)
        return status

    def notifications(self, include_acknowledged: bool, limit: int = 300) -> list[Any]:
        from kiosk.core.energy import NotificationInfo

        notices: list[NotificationInfo] = self._admin("GET", "/energy/notifications", list[NotificationInfo],
                                                      include_acknowledged=include_acknowledged, limit=limit)
        return notices

    def open_notifications(self) -> int:
        return int(self._read("/notifications/open", int))

    def acknowledge(self, notification_ids: list[int]) -> None:
        self._admin("POST", "/notifications/acknowledge", Any, {"ids": [int(i) for i in notification_ids]})

    def activity(self) -> dict[str, int]:
        counts: dict[str, int] = self._read("/activity", dict[str, int])
        return counts

    def settings(self) -> list[SettingRow]:
        rows: list[SettingRow] = self._admin("GET", "/settings", list[SettingRow])
        return rows

    def change_settings(self, changes: dict[str, Any]) -> dict[str, Any]:
        changed: dict[str, Any] = self._admin("PUT", "/settings", dict[str, Any], {"changes": changes})
        return changed

    def start_demo(self) -> bool:
        return bool(self._read_post("/demo"))

    def _read_post(self, path: str) -> Any:
        try:
            return self.client.post(path, {})
        except ApiError as exc:
            raise _refusal(exc) from None

    # --- operators ------------------------------------------------------------------------------------------------

    def operators(self) -> list[OperatorInfo]:
        rows: list[OperatorInfo] = self._admin("GET", "/operators", list[OperatorInfo])
        return rows

    def add_operator(self, name: str, role: Role, password: str) -> None:
        self._admin("POST", "/operators", Any, {"name": name, "role": role.value, "password": password})

    def set_role(self, name: str, role: Role) -> None:
        self._admin("PUT", f"/operators/{quote(name, safe='')}/role", Any, {"role": role.value})

    def set_password(self, name: str, password: str) -> None:
        self._admin("PUT", f"/operators/{quote(name, safe='')}/password", Any, {"password": password})

    def disable(self, name: str) -> None:
        self._admin("POST", f"/operators/{quote(name, safe='')}/disable")

    # --- audit log ------------------------------------------------------------------------------------------------

    def audit(self, text: str = "", limit: int = 500) -> list[tuple[float, str, str, str, str]]:
        rows: list[tuple[float, str, str, str, str]] = self._admin("GET", "/audit",
                                                                   list[tuple[float, str, str, str, str]],
                                                                   text=text, limit=limit)
        return rows


def _refusal(exc: ApiError) -> Exception:
    """The hub's refusal as the exception the Admin tab shows in words."""
    if exc.error in SESSION_ENDED:
        return PermissionError("The admin tab is locked (nobody is signed in as an admin here): sign in again.")
    if exc.status in (401, 403):
        return PermissionError(exc.message)
    if exc.status == 404:
        return LookupError(exc.message)
    if exc.status == 413:
        return ValueError(f"The file is larger than the hub accepts: {exc.message}")
    return ValueError(exc.message)
