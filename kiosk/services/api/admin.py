"""The Admin tab over the API: devices and their tokens, commands, firmware and rollouts, settings, operators, the
audit log, and the hub's status.

Every change acts as the operator whose admin session the call carries; the services below check the role again
where the work is done (kiosk.services.admin, kiosk.store.operators...) and write the audit row in the same
transaction. A token exists in clear only in the answer that creates or rotates it, never in a log line. Device
changes and the status reach screens on the event stream (`devices`, `status`): see `DeviceFeed`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kiosk.core.commands import DEFAULT_TTL_S, Command
from kiosk.core.devices import DeviceSnapshot, ProvisionedDevice, SerialBoardInfo
from kiosk.core.operators import Operator, OperatorInfo, Role
from kiosk.core.ota import MAX_IMAGE_BYTES, ImageInfo, Job
from kiosk.core.status import HubStatus
from kiosk.protocol.answers import DeviceChanges, SettingRow
from kiosk.protocol.api import ApiError
from kiosk.services.api.events import EventHub
from kiosk.services.api.framework import ADMIN, Call, Route, checked_text

MAX_ROWS = 2000
DEVICE_EVENT_DELAY_S = 0.1  # device changes within this are sent as one `devices` event


@dataclass(frozen=True)
class NewDevice:
    name: str
    kind: str
    expires_at: float | None = None
    organization: str = "default"


@dataclass(frozen=True)
class NewToken:
    expires_at: float | None = None
    reason: str = ""


@dataclass(frozen=True)
class Token:
    token: str


@dataclass(frozen=True)
class Why:
    reason: str = ""


@dataclass(frozen=True)
class Expiry:
    expires_at: float | None = None


@dataclass(frozen=True)
class Removal:
    keep_history: bool
    reason: str = ""


@dataclass(frozen=True)
class Removed:
    rows: int  # history rows removed with the device


@dataclass(frozen=True)
class ProvisioningQuery:
    token: str


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Limit:
    limit: int = 200


@dataclass(frozen=True)
class AuditQuery:
    text: str = ""
    limit: int = 500


@dataclass(frozen=True)
class SendCommand:
    device_ids: list[str]
    name: str
    parameters: Any = None
    ttl_s: float = DEFAULT_TTL_S


@dataclass(frozen=True)
class Broadcast:
    name: str
    parameters: Any = None
    ttl_s: float = DEFAULT_TTL_S


@dataclass(frozen=True)
class Upload:
    kind: str
    version: str
    filename: str


@dataclass(frozen=True)
class Rollout:
    device_ids: list[str] | None = None  # None: every device of the image's kind that runs an older version


@dataclass(frozen=True)
class Changes:
    changes: dict[str, Any]


@dataclass(frozen=True)
class NewOperator:
    name: str
    role: Role
    password: str


@dataclass(frozen=True)
class RoleChange:
    role: Role


@dataclass(frozen=True)
class Password:
    password: str


@dataclass(frozen=True)
class Acknowledge:
    ids: list[int]


@dataclass(frozen=True)
class BoardMapping:
    device_id: str


@dataclass
class AdminParts:
    """The hub's collaborators the Admin routes use (handed in by the hub; nothing here reaches into it)."""

    devices: Any  # kiosk.services.admin.DeviceAdmin
    registry: Any  # kiosk.store.devices.DeviceRegistry
    snapshots: Callable[[], list[DeviceSnapshot]]
    snapshot: Callable[[str], DeviceSnapshot | None]
    recent_messages: Callable[[str], list[tuple[float, bool, str]]]
    commands: Any  # kiosk.services.commands.CommandService
    public_key: Callable[[], str]
    firmware: Any  # kiosk.store.firmware.FirmwareStore
    ota: Any  # kiosk.services.ota.OtaService
    notices: Any  # kiosk.services.notices.Notices
    open_notifications: Callable[[], int]
    runtime: Any  # kiosk.services.admin.RuntimeSettings
    operators: Any  # kiosk.store.operators.OperatorDirectory
    status: Callable[[], HubStatus]
    demo: Callable[[], bool] | None = None  # start the demonstration devices (this machine's station only)
    serial_mapped: Callable[[], None] = lambda: None  # a board was mapped to another device: the hub looks again
    extra: dict[str, Any] = field(default_factory=dict)


class AdminApi:
    def __init__(self, parts: AdminParts) -> None:
        self._p = parts

    def routes(self) -> list[Route]:
        device = "/devices/{device_id}"
        image = "/firmware/images/{image_id:\\d+}"
        operator = "/operators/{name}"
        missing = ((404, "not_found"), (400, "invalid"))
        return [
            # devices
            Route("GET", "/devices", "Every device's live state", self.device_list, answer=list[DeviceSnapshot],
                  tag="devices"),
            Route("POST", "/devices", "Add a device: its token is in this answer only (admin)", self.create_device,
                  access=ADMIN, body=NewDevice, answer=ProvisionedDevice, tag="devices", errors=missing),
            Route("POST", device + "/token", "A new token for a device; the old one stops working (admin)",
                  self.rotate, access=ADMIN, body=NewToken, answer=Token, tag="devices", errors=missing),
            Route("GET", device + "/token", "When the device's token expires (null: never)", self.token_expiry,
                  access=ADMIN, answer=float | None, tag="devices", errors=missing),
            Route("PUT", device + "/token", "Change when the device's token expires (admin)", self.set_expiry,
                  access=ADMIN, body=Expiry, tag="devices", errors=missing),
            Route("POST", device + "/revoke", "Revoke the device's token and drop its session (admin)", self.revoke,
                  access=ADMIN, body=Why, tag="devices", errors=missing),
            Route("POST", device + "/repair-legacy", "Let a legacy StallSense board log in again (admin)",
                  self.repair_legacy, access=ADMIN, tag="devices", errors=missing),
            Route("DELETE", device, "Delete a device, keeping or removing its history (admin)", self.delete_device,
                  access=ADMIN, body=Removal, answer=Removed, tag="devices", errors=missing),
            Route("POST", device + "/provisioning", "What a token's QR code carries: id, token, the hub's broker "
                  "address (admin; the token is sent in the body, never in a URL)", self.provisioning,
                  access=ADMIN, body=ProvisioningQuery, answer=Text, tag="devices", errors=missing),
            Route("GET", device + "/rejections", "Why the device's messages were refused: (reason, count, last "
                  "time, last detail)", self.rejections, answer=list[tuple[str, int, float, str]], tag="devices"),
            Route("GET", device + "/messages", "The device's last messages: (time, accepted, summary)",
                  self.messages, answer=list[tuple[float, bool, str]], tag="devices"),
            Route("GET", device + "/logs", "The device's own log lines: (time, level, text) (admin)", self.logs,
                  access=ADMIN, answer=list[tuple[float, str, str]], tag="devices"),
            Route("GET", device + "/firmware", "The versions the device ran: (since, version, how it was seen)",
                  self.firmware_history, answer=list[tuple[float, str, str]], tag="devices"),
            Route("GET", "/organizations", "The organisations devices belong to", self.organizations,
                  answer=list[str], tag="devices"),
            Route("GET", "/tokens/expiry", "When each device's live token expires (null: never; a device without "
                  "a live token is not listed) (admin)", self.token_expiries, access=ADMIN,
                  answer=dict[str, float | None], tag="devices"),
            Route("GET", "/serial-boards", "The USB boards the hub has seen and the device each one's readings go "
                  "to (admin)", self.serial_boards, access=ADMIN, answer=list[SerialBoardInfo], tag="devices"),
            Route("PUT", "/serial-boards/{board}", "Send a board's readings to another device (admin)",
                  self.map_serial_board, access=ADMIN, body=BoardMapping, tag="devices", errors=missing),
            # commands
            Route("POST", "/commands", "Send a command to devices: sent now to those online, queued for the rest "
                  "(admin)", self.send_command, access=ADMIN, body=SendCommand, answer=list[Command],
                  tag="commands", errors=missing),
            Route("POST", "/organizations/{organization}/broadcast", "Send a command to every device of an "
                  "organisation (admin)", self.broadcast, access=ADMIN, body=Broadcast, answer=Command,
                  tag="commands", errors=missing),
            Route("GET", "/commands", "The newest commands with who sent them (admin)", self.command_list,
                  access=ADMIN, query=Limit, answer=list[tuple[Command, str]], tag="commands"),
            # firmware
            Route("GET", "/firmware/key", "The site's public key devices check images against (Ed25519, hex)",
                  self.public_key, answer=str, tag="firmware"),
            Route("GET", "/firmware/images", "Uploaded firmware images (admin)", self.images, access=ADMIN,
                  answer=list[ImageInfo], tag="firmware"),
            Route("POST", "/firmware/images", "Upload an image (the body is the .bin; admin): stored, hashed and "
                  "signed with the site key", self.upload, access=ADMIN, query=Upload, answer=ImageInfo,
                  tag="firmware", upload=MAX_IMAGE_BYTES, errors=missing),
            Route("DELETE", image, "Delete an image (admin)", self.delete_image, access=ADMIN, tag="firmware",
                  errors=missing),
            Route("GET", image + "/out-of-date", "Devices of the image's kind running an older version (admin)",
                  self.out_of_date, access=ADMIN, answer=list[DeviceSnapshot], tag="firmware", errors=missing),
            Route("POST", image + "/rollout", "Update devices to this image, within the rollout limit (admin)",
                  self.rollout, access=ADMIN, body=Rollout, answer=list[Job], tag="firmware", errors=missing),
            Route("GET", "/firmware/jobs", "The newest updates: (job, the version before, who started it) (admin)",
                  self.jobs, access=ADMIN, query=Limit, answer=list[tuple[Job, str | None, str]], tag="firmware"),
            # the hub
            Route("GET", "/status", "The hub's status now (also pushed every second as the `status` event)",
                  self.status, answer=HubStatus, tag="hub"),
            Route("GET", "/activity", "Open commands and firmware updates", self.activity,
                  answer=dict[str, int], tag="hub"),
            Route("GET", "/notifications/open", "How many alerts wait for an acknowledgement",
                  self.open_notifications, answer=int, tag="hub"),
            Route("POST", "/notifications/acknowledge", "Acknowledge alerts (admin)", self.acknowledge,
                  access=ADMIN, body=Acknowledge, tag="hub", errors=missing),
            Route("GET", "/settings", "The settings an admin may change while the hub runs (admin)", self.settings,
                  access=ADMIN, answer=list[SettingRow], tag="hub"),
            Route("PUT", "/settings", "Change settings: all are checked first, then saved, audited and applied "
                  "(admin); the answer is what changed", self.change_settings, access=ADMIN, body=Changes,
                  answer=dict[str, Any], tag="hub", errors=missing),
            Route("GET", "/audit", "The newest audit rows, optionally containing `text`: (time, who, what, target, "
                  "why) (admin)", self.audit, access=ADMIN, query=AuditQuery,
                  answer=list[tuple[float, str, str, str, str]], tag="hub"),
            Route("POST", "/demo", "Start the demonstration devices (this machine's own desk only)", self.demo,
                  answer=bool, tag="hub", errors=((403, "forbidden"), (503, "unavailable"))),
            # operators
            Route("GET", "/operators", "Operator accounts (admin)", self.operator_list, access=ADMIN,
                  answer=list[OperatorInfo], tag="operators"),
            Route("POST", "/operators", "Add an operator (admin)", self.add_operator, access=ADMIN,
                  body=NewOperator, tag="operators", errors=missing),
            Route("PUT", operator + "/role", "Change an operator's role (admin)", self.set_role, access=ADMIN,
                  body=RoleChange, tag="operators", errors=missing),
            Route("PUT", operator + "/password", "Set an operator's password (admin)", self.set_password,
                  access=ADMIN, body=Password, tag="operators", errors=missing),
            Route("POST", operator + "/disable", "Disable an operator; their sessions end (admin)", self.disable,
                  access=ADMIN, tag="operators", errors=missing),
        ]

    @staticmethod
    def _by(call: Call) -> Operator:
        assert call.principal is not None
        return call.principal.operator

    # --- devices --------------------------------------------------------------------------------------------------

    def device_list(self, call: Call) -> list[DeviceSnapshot]:
        return self._p.snapshots()

    def _known(self, call: Call) -> str:
        device_id = call.params["device_id"]
        if self._p.snapshot(device_id) is None:
            raise ApiError(404, "not_found", f"there is no device {device_id[:64]!r}")
        return device_id

    def create_device(self, call: Call) -> ProvisionedDevice:
        body: NewDevice = call.body
        provisioned: ProvisionedDevice = self._p.devices.create(self._by(call), checked_text(body.name, "name", 400),
                                                                body.kind, body.expires_at,
                                                                checked_text(body.organization, "organization", 120))
        return provisioned

    def token_expiries(self, call: Call) -> dict[str, float | None]:
        expiries: dict[str, float | None] = self._p.registry.token_expiry()
        return expiries

    def serial_boards(self, call: Call) -> list[SerialBoardInfo]:
        return [SerialBoardInfo(*row) for row in self._p.registry.serial_boards()]

    def map_serial_board(self, call: Call) -> None:
        body: BoardMapping = call.body
        self._p.registry.map_serial_board(checked_text(call.params["board"], "board", 200),
                                          checked_text(body.device_id, "device_id", 64), self._by(call).name)
        self._p.serial_mapped()

    def rotate(self, call: Call) -> Token:
        body: NewToken = call.body
        return Token(self._p.devices.rotate(self._by(call), self._known(call), body.expires_at,
                                            checked_text(body.reason, "reason", 500)))

    def token_expiry(self, call: Call) -> float | None:
        device_id = self._known(call)
        expiry: float | None = self._p.registry.token_expiry(device_id).get(device_id)
        return expiry

    def set_expiry(self, call: Call) -> None:
        self._p.devices.set_expiry(self._by(call), self._known(call), call.body.expires_at)

    def revoke(self, call: Call) -> None:
        self._p.devices.revoke(self._by(call), self._known(call), checked_text(call.body.reason, "reason", 500))

    def repair_legacy(self, call: Call) -> None:
        self._p.devices.repair_legacy(self._by(call), self._known(call))

    def delete_device(self, call: Call) -> Removed:
        body: Removal = call.body
        return Removed(self._p.devices.delete(self._by(call), self._known(call), body.keep_history,
                                              checked_text(body.reason, "reason", 500)))

    def provisioning(self, call: Call) -> Text:
        return Text(self._p.devices.provisioning_text(self._known(call), checked_text(call.body.token, "token")))

    def rejections(self, call: Call) -> list[tuple[str, int, float, str]]:
        rows: list[tuple[str, int, float, str]] = self._p.registry.rejection_reasons(call.params["device_id"])
        return rows

    def messages(self, call: Call) -> list[tuple[float, bool, str]]:
        return self._p.recent_messages(call.params["device_id"])

    def logs(self, call: Call) -> list[tuple[float, str, str]]:
        rows: list[tuple[float, str, str]] = self._p.registry.device_logs(call.params["device_id"])
        return rows

    def firmware_history(self, call: Call) -> list[tuple[float, str, str]]:
        rows: list[tuple[float, str, str]] = self._p.firmware.history(call.params["device_id"])
        return rows

    def organizations(self, call: Call) -> list[str]:
        return sorted({info.organization for info in self._p.registry.infos()} or {"default"})

    # --- commands -------------------------------------------------------------------------------------------------

    def send_command(self, call: Call) -> list[Command]:
        body: SendCommand = call.body
        sent: list[Command] = self._p.commands.send(self._by(call), body.device_ids[:MAX_ROWS], body.name,
                                                    body.parameters, body.ttl_s)
        return sent

    def broadcast(self, call: Call) -> Command:
        body: Broadcast = call.body
        sent: Command = self._p.commands.broadcast(self._by(call), call.params["organization"], body.name,
                                                   body.parameters, body.ttl_s)
        return sent

    def command_list(self, call: Call) -> list[tuple[Command, str]]:
        rows: list[tuple[Command, str]] = self._p.commands.recent(_limit(call.query.limit))
        return rows

    # --- firmware -------------------------------------------------------------------------------------------------

    def public_key(self, call: Call) -> str:
        return self._p.public_key()

    def images(self, call: Call) -> list[ImageInfo]:
        images: list[ImageInfo] = self._p.firmware.images()
        return images

    def upload(self, call: Call) -> ImageInfo:
        wanted: Upload = call.query
        image: ImageInfo = self._p.firmware.upload(self._by(call), wanted.kind, checked_text(wanted.version,
                                                                                             "version", 64),
                                                   checked_text(wanted.filename, "filename", 200), call.body)
        return image

    def _image(self, call: Call) -> ImageInfo:
        image: ImageInfo | None = self._p.firmware.image(int(call.params["image_id"]))
        if image is None:
            raise ApiError(404, "not_found", f"there is no firmware image {call.params['image_id']}")
        return image

    def delete_image(self, call: Call) -> None:
        self._p.firmware.delete(self._by(call), self._image(call).id)

    def out_of_date(self, call: Call) -> list[DeviceSnapshot]:
        devices: list[DeviceSnapshot] = self._p.ota.out_of_date(self._image(call))
        return devices

    def rollout(self, call: Call) -> list[Job]:
        jobs: list[Job] = self._p.ota.start_update(self._by(call), self._image(call).id, call.body.device_ids)
        return jobs

    def jobs(self, call: Call) -> list[tuple[Job, str | None, str]]:
        rows: list[tuple[Job, str | None, str]] = self._p.firmware.recent_jobs(_limit(call.query.limit))
        return rows

    # --- the hub --------------------------------------------------------------------------------------------------

    def status(self, call: Call) -> HubStatus:
        return self._p.status()

    def activity(self, call: Call) -> dict[str, int]:
        return {"commands": self._p.commands.open_count(), "updates": self._p.ota.open_jobs(),
                "updates_in_flight": self._p.ota.jobs_in_flight()}

    def open_notifications(self, call: Call) -> int:
        return self._p.open_notifications()

    def acknowledge(self, call: Call) -> None:
        self._p.notices.acknowledge(self._by(call), call.body.ids[:MAX_ROWS])

    def settings(self, call: Call) -> list[SettingRow]:
        rows: list[SettingRow] = self._p.runtime.current()
        return rows

    def change_settings(self, call: Call) -> dict[str, Any]:
        changed: dict[str, Any] = self._p.runtime.change(self._by(call), call.body.changes)
        return changed

    def audit(self, call: Call) -> list[tuple[float, str, str, str, str]]:
        wanted: AuditQuery = call.query
        rows: list[tuple[float, str, str, str, str]] = self._p.registry.audit_page(
            checked_text(wanted.text, "text", 200), _limit(wanted.limit))
        return rows

    def demo(self, call: Call) -> bool:
        assert call.principal is not None
        if call.principal.station_id is not None:
            raise ApiError(403, "forbidden", "the demonstration starts only from the hub's own desk")
        if self._p.demo is None:
            raise ApiError(503, "unavailable", "this hub has no demonstration")
        return self._p.demo()

    # --- operators ------------------------------------------------------------------------------------------------

    def operator_list(self, call: Call) -> list[OperatorInfo]:
        rows: list[OperatorInfo] = self._p.operators.operators()
        return rows

    def add_operator(self, call: Call) -> None:
        body: NewOperator = call.body
        self._p.operators.add(checked_text(body.name, "name", 64), body.role, body.password, self._by(call))

    def set_role(self, call: Call) -> None:
        self._p.operators.set_role(call.params["name"], call.body.role, self._by(call))

    def set_password(self, call: Call) -> None:
        self._p.operators.set_password(call.params["name"], call.body.password, self._by(call))

    def disable(self, call: Call) -> None:
        self._p.operators.disable(call.params["name"], self._by(call))


def _limit(limit: int) -> int:
    return max(1, min(int(limit), MAX_ROWS))


class DeviceFeed:
    """Device changes for the event stream: the ingest threads report each change; what arrives within
    DEVICE_EVENT_DELAY_S goes out as one `devices` event (the newest state of each device), so a burst of a
    thousand readings costs each screen one event, not a thousand. The flush runs on the streams' own loop."""

    def __init__(self, events: EventHub) -> None:
        self._events = events
        self._lock = threading.Lock()
        self._changed: dict[str, DeviceSnapshot] = {}
        self._removed: list[str] = []
        self._scheduled = False

    def changed(self, snapshot: DeviceSnapshot) -> None:
        if not self._events.open_streams():
            return
        with self._lock:
            self._changed[snapshot.id] = snapshot
            self._schedule()

    def removed(self, device_id: str) -> None:
        with self._lock:
            self._changed.pop(device_id, None)
            self._removed.append(device_id)
            self._schedule()

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = self._events.later(DEVICE_EVENT_DELAY_S, self.flush)
            if not self._scheduled:  # no stream has ever opened: nobody to tell
                self._changed, self._removed = {}, []

    def flush(self) -> None:
        with self._lock:
            changed, self._changed = list(self._changed.values()), {}
            removed, self._removed = self._removed, []
            self._scheduled = False
        if changed or removed:
            self._events.publish("devices", DeviceChanges(changed, removed))
