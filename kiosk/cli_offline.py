"""The CLI's admin commands on the data folder itself, for when no hub runs on it.

With a hub running, `kiosk device|operator|firmware|port|serial ...` go through its API as this machine's admin
(kiosk.client.admin.RemoteAdmin with the CLI's token), so every screen hears the change at once. With none running
there is nobody to tell: `OfflineAdmin` does the same operations straight on the store, with the same method names
and the same checks (the services' own), as `cli:USER`, an admin (whoever may read the data folder may change it).
"""

from __future__ import annotations

from kiosk.config import Config
from kiosk.core.devices import DeviceSnapshot, ProvisionedDevice, SerialBoardInfo
from kiosk.core.energy import PortInfo
from kiosk.core.operators import Operator, OperatorInfo, Role
from kiosk.core.ota import ImageInfo
from kiosk.core.stalls import SensorInfo
from kiosk.services.admin import DeviceAdmin
from kiosk.store.db import open_store
from kiosk.store.devices import DeviceRegistry
from kiosk.store.energy import EnergyStore
from kiosk.store.firmware import FirmwareStore
from kiosk.store.operators import OperatorDirectory
from kiosk.store.site_key import SiteKey
from kiosk.store.stalls import StallDirectory


class OfflineAdmin:
    def __init__(self, config: Config, actor: str) -> None:
        self._config = config
        self._by = Operator(actor, Role.ADMIN)
        self.registry = DeviceRegistry(open_store(config.database_url))
        engine = self.registry.engine
        self._devices = DeviceAdmin(self.registry, lambda info: None, lambda device_id: None,
                                    lambda device_id: None, self._broker_host_port)
        self._operators = OperatorDirectory(engine)
        self._energy = EnergyStore(engine)
        self._stalls = StallDirectory(engine)
        self._key: SiteKey | None = None

    def _broker_host_port(self) -> tuple[str, int]:
        return "127.0.0.1", self._config.broker.port

    def close(self) -> None:
        self.registry.engine.dispose()

    # --- devices -------------------------------------------------------------------------------------------------

    def devices(self) -> list[DeviceSnapshot]:
        return self.registry.snapshots(self._config.devices.offline_after_s)

    def token_expiries(self) -> dict[str, float | None]:
        return self.registry.token_expiry()

    def sensors(self) -> list[SensorInfo]:
        return list(self._stalls.sensors())

    def create_device(self, name: str, kind: str, expires_at: float | None,
                      organization: str = "default") -> ProvisionedDevice:
        return self._devices.create(self._by, name, kind, expires_at, organization)

    def rotate(self, device_id: str, expires_at: float | None, reason: str = "") -> str:
        return self._devices.rotate(self._by, device_id, expires_at, reason)

    def revoke(self, device_id: str, reason: str = "") -> None:
        self._devices.revoke(self._by, device_id, reason)

    def repair_legacy(self, device_id: str) -> None:
        self._devices.repair_legacy(self._by, device_id)

    # --- operators -----------------------------------------------------------------------------------------------

    def operators(self) -> list[OperatorInfo]:
        return self._operators.operators()

    def add_operator(self, name: str, role: Role, password: str) -> None:
        first = self._operators.count() == 0  # the very first account is made without an admin
        self._operators.add(name, role, password, None if first else self._by)

    def set_password(self, name: str, password: str) -> None:
        self._operators.set_password(name, password, self._by)

    # --- firmware ------------------------------------------------------------------------------------------------

    def _site_key(self) -> SiteKey:
        if self._key is None:
            self._key = SiteKey.load_or_create(self._config.data_dir)  # made here if the hub never ran
        return self._key

    def public_key(self) -> str:
        return self._site_key().public_hex

    def _firmware(self) -> FirmwareStore:
        return FirmwareStore(self.registry.engine, self._config.data_dir, self._site_key())

    def firmware_images(self) -> list[ImageInfo]:
        return self._firmware().images()

    def upload_firmware(self, kind: str, version: str, filename: str, data: bytes) -> ImageInfo:
        return self._firmware().upload(self._by, kind, version, filename, data)

    # --- energy ports --------------------------------------------------------------------------------------------

    def ports(self, device_id: str | None = None) -> list[PortInfo]:
        return self._energy.ports(device_id)

    def add_port(self, device_id: str, name: str, channel: str | None, active_w: float, schedule: str) -> PortInfo:
        return self._energy.add_port(device_id, name, self._by.name, channel, active_w, schedule)

    def edit_port(self, port_id: str, name: str | None, active_w: float | None, schedule: str | None,
                  phantom_after_s: float | None) -> PortInfo:
        return self._energy.edit_port(port_id, self._by.name, name, active_w, schedule, phantom_after_s)

    def calibrate(self, port_id: str, minutes: float) -> float:
        return self._energy.calibrate(port_id, minutes, self._by.name)

    # --- USB boards ----------------------------------------------------------------------------------------------

    def serial_boards(self) -> list[SerialBoardInfo]:
        return [SerialBoardInfo(*row) for row in self.registry.serial_boards()]

    def map_serial_board(self, board: str, device_id: str) -> None:
        self.registry.map_serial_board(board, device_id, self._by.name)
