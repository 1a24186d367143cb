"""Lines from USB boards into the hub: a hello maps the board to its device (a new board gets a device of its own),
a reading takes the same ingest path as MQTT and HTTP readings, a bad line is counted on the board's device.

Called on the serial readers' threads; it only reads the database: a new board's rows and a known board's last
sighting go through the store writer, so a reader never waits for a locked database.
"""

from __future__ import annotations

import logging
from typing import Any

from kiosk.core.devices import DeviceInfo
from kiosk.protocol.payloads import Rejected
from kiosk.protocol.serial_lines import Hello
from kiosk.services.ingest import Envelope, Ingest, Road
from kiosk.store.devices import SERIAL_PREFIX

log = logging.getLogger(__name__)


class SerialIntake:
    def __init__(self, registry: Any, writer: Any, ingest: Ingest) -> None:
        self.registry = registry  # kiosk.store.devices.DeviceRegistry
        self.writer = writer  # kiosk.store.writer.StoreWriter
        self.ingest = ingest
        self._serial_devices: dict[str, str] = {}  # board key -> device id
        self._boards_made: dict[str, DeviceInfo] = {}  # new boards the store writer has not stored yet

    def forget_mappings(self) -> None:
        """Look each board's device up again at its next line (an admin may have mapped it to another device)."""
        self._serial_devices.clear()

    def message(self, key: str, path: str, message: Any) -> None:
        """A line from a USB board (serial worker thread): a hello maps the board, a reading takes the ingest path,
        a bad line is counted on the board's device. Never raises: a failure is counted as `internal_error`."""
        try:
            self._serial_line(key, path, message)
        except Exception as exc:
            self.ingest.internal_error(self._serial_devices.get(key, f"serial:{key}"), exc)

    def _serial_line(self, key: str, path: str, message: Any) -> None:
        firmware = message.firmware if isinstance(message, Hello) else None
        device_id = self._serial_devices.get(key)
        if device_id is None or isinstance(message, Hello):
            device_id = self._serial_board(key, path, firmware)
            self._serial_devices[key] = device_id
        if isinstance(message, Rejected):
            self.ingest.reject(device_id, message.reason, f"{path}: {message.detail}")
        elif not isinstance(message, Hello):  # a rejection is counted and logged by the ingest pipeline
            self.ingest.take(Envelope(Road.SERIAL, device_id=device_id, body=message.body))

    def _serial_board(self, key: str, path: str, firmware: str | None) -> str:
        """The device a board's readings go to. Only reads here: a new board's rows and a known board's last
        sighting go through the store writer (serial readers never wait for a locked database)."""
        device_id = self.registry.serial_board_device(key)
        if device_id is not None:
            self._boards_made.pop(key, None)
            self.writer.statement(device_id, self.registry.serial_board_seen(key, path, firmware))
            info = self.registry.get(device_id)
        elif key in self._boards_made:  # made, not committed yet
            info = self._boards_made[key]
        else:
            info, rows = self.registry.discovered_serial_board(key, path, firmware)
            for table, row in rows:
                self.writer.insert_new(info.id, table, row)
            self._boards_made[key] = info
            log.info("new USB board %s on %s: its readings go to device %s", key, path, info.id)
        if info is not None:
            self.ingest.device_registered(info)
            return info.id
        return device_id or SERIAL_PREFIX + key
