"""`POST /api/sensor/reading` (DESIGN.md section 5): an energy meter's reading over HTTP, into the one ingest road.

The body names the device by its token (checked like an MQTT login, never logged) and one of its ports. The answer
keeps the original API's fields (`message`, `data.reading.id`, an ISO 8601 UTC `timestamp`); 200 means the reading
is on disk (docs/reliability.md). Every refusal says its `reason` and is counted, on the device where the token
names one. Runs in the HTTP server's executor (it waits for the store's commit).
"""

from __future__ import annotations

import logging
from typing import Any

from kiosk.core.energy import PortStatus
from kiosk.protocol.payloads import Reason, iso_utc
from kiosk.services.ingest import Envelope, Ingest, Road
from kiosk.store.energy import PortError

log = logging.getLogger(__name__)

STORED_WITHIN_S = 5.0  # an HTTP reading is answered 200 once committed, or 503 after this long
FIELDS = ("voltage", "current", "power", "ts", "seq")


class HttpReadings:
    def __init__(self, registry: Any, energy: Any, energy_store: Any, ingest: Ingest, writer: Any,
                 stored_within_s: float = STORED_WITHIN_S) -> None:
        self._registry = registry  # kiosk.store.devices.DeviceRegistry: the token check
        self._energy = energy  # kiosk.services.energy.EnergyService: the port a device owns
        self._energy_store = energy_store  # kiosk.store.energy.EnergyStore: a stored reading's id
        self._ingest = ingest
        self._writer = writer  # kiosk.store.writer.StoreWriter: tickets, to answer once committed
        self.stored_within_s = stored_within_s

    def reading(self, body: Any, remote: str = "?") -> tuple[int, dict[str, Any]]:
        """(HTTP status, JSON answer): 400 not a reading (says which field), 401 no valid token, 404 no such port on
        that device, 503 taken but not on disk in time."""
        if not isinstance(body, dict):
            return 400, {"success": False, "message": "the body must be a JSON object", "reason": "wrong_type"}
        token, port_id = body.get("deviceToken"), body.get("portId")
        if not isinstance(token, str) or not token:
            return 401, {"success": False, "message": "deviceToken is missing", "reason": "no_token"}
        login = self._registry.check_token(token)
        if login.device is None:
            reason = login.failure.value if login.failure else "wrong token"
            log.debug("HTTP reading from %s refused: %s", remote, reason)
            return 401, {"success": False, "message": f"the device token is not valid ({reason})",
                         "reason": reason.replace(" ", "_")}
        device_id = login.device.id
        if not isinstance(port_id, str) or not port_id:
            self._ingest.reject(device_id, Reason.WRONG_TYPE, "HTTP reading without a portId")
            return 400, {"success": False, "message": "portId is missing", "reason": Reason.WRONG_TYPE.value}
        try:
            port = self._energy.owned_port(device_id, port_id)
        except PortError as exc:
            self._ingest.reject(device_id, Reason.UNKNOWN_PORT, f"HTTP reading for {port_id[:64]!r}: {exc}")
            return 404, {"success": False, "message": str(exc), "reason": Reason.UNKNOWN_PORT.value}
        fields = {key: body[key] for key in FIELDS if key in body}
        taken = self._ingest.take(Envelope(Road.HTTP, device_id=device_id, body=fields, port=port))
        seq = fields.get("seq")
        if taken.rejected is not None:
            if taken.rejected.reason is Reason.DUPLICATE:  # a retry of a reading that is stored: answered as done
                return 200, {"success": True, "message": "Sensor reading already stored", "duplicate": True,
                             "data": {"reading": {"id": self._reading_id(device_id, port.id, seq), "portId": port.id,
                                                  "seq": seq}}}
            status = 500 if taken.rejected.reason is Reason.INTERNAL_ERROR else 400
            return status, {"success": False, "message": taken.rejected.detail,
                            "reason": taken.rejected.reason.value}
        if not self._writer.wait_stored(self._writer.ticket(), self.stored_within_s):
            return 503, {"success": False, "reason": "not_stored_yet",
                         "message": "the reading was taken but the database has not stored it yet (it is busy or "
                                    "full); it will be stored if it can be. Send it again with the same 'seq' to be "
                                    "sure, without one it may be stored twice."}
        reading, report, at = taken.message, taken.result, taken.at
        return 200, {"success": True, "message": "Sensor reading created successfully", "data": {
            "reading": {"id": self._reading_id(device_id, port.id, seq, at), "portId": port.id,
                        "voltage": reading.voltage, "current": reading.current, "power": reading.power,
                        "timestamp": iso_utc(at), "ts": at},
            "phantomDetected": report.status is PortStatus.PHANTOM, "portStatus": report.status.value}}

    def _reading_id(self, device_id: str, port_id: str, seq: Any, at: float | None = None) -> int | None:
        return self._energy_store.reading_id(device_id, port_id, None if seq is None else str(seq), at)
