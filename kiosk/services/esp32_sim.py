"""A simulated ESP32 that behaves as docs/protocol.md asks of device firmware: heartbeats with uptime, firmware
version, IP and MAC; answers commands (restart really "reboots": the uptime starts again); and takes firmware updates
the way the real bootloader path does: download, check the SHA-256 and the Ed25519 signature with the public key it
was built with, then "flash" and reboot into the new version, reporting each step on device/{id}/progress.

Used by the end-to-end OTA tests and `kiosk simulate`. A real paho client on the real broker; the download is a real
HTTP request to the kiosk.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import urllib.request
from typing import Any

import paho.mqtt.client as mqtt

from kiosk.store.site_key import verify

log = logging.getLogger(__name__)


class SimulatedEsp32:
    def __init__(self, host: str, port: int, device_id: str, token: str, public_key_hex: str,
                 firmware: str = "1.0.0", mac: str = "A4:CF:12:00:00:01", chunk: int = 4096) -> None:
        self.device_id = device_id
        self.public_key_hex = public_key_hex  # baked into the firmware at build time
        self.firmware = firmware
        self.mac = mac
        self._chunk = chunk
        self._host, self._port = host, port
        self._booted = time.monotonic()
        self.reports: list[dict[str, Any]] = []  # every progress report sent (tests read them)
        self.commands: list[dict[str, Any]] = []
        self.connected = threading.Event()
        self.idle = threading.Event()
        self.idle.set()
        self._workers: list[threading.Thread] = []
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"esp32-{device_id[:8]}",
                                   protocol=mqtt.MQTTv311)
        self._client.username_pw_set(device_id, token)
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message

    @property
    def uptime(self) -> float:
        return time.monotonic() - self._booted

    def start(self) -> None:
        self._client.connect(self._host, self._port, keepalive=30)
        self._client.loop_start()

    def stop(self) -> None:
        for worker in self._workers:
            worker.join(10)
        self._client.disconnect()
        self._client.loop_stop()

    def _on_connect(self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if reason.is_failure:
            log.warning("simulated ESP32 %s: login refused (%s)", self.device_id, reason)
            return
        client.subscribe([(f"device/{self.device_id}/ota", 1), (f"devices/{self.device_id}/commands", 1)])
        self.connected.set()
        self.heartbeat()

    def heartbeat(self) -> None:
        body = {"uptime": round(self.uptime, 1), "rssi": -58, "fw": self.firmware, "ip": "10.0.4.31", "mac": self.mac}
        self._client.publish(f"device/{self.device_id}/status", json.dumps(body), qos=1)

    def log(self, level: str, message: str) -> None:
        self._client.publish(f"device/{self.device_id}/logs", json.dumps({"level": level, "message": message}),
                             qos=1)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            body = json.loads(message.payload)
        except ValueError:
            return
        if message.topic.endswith("/ota"):
            self._run(lambda: self._update(body))
        else:
            self.commands.append(body)
            self._run(lambda: self._command(body))

    def _run(self, work: Any) -> None:
        self.idle.clear()

        def body() -> None:
            try:
                work()
            finally:
                self.idle.set()

        worker = threading.Thread(target=body, name=f"esp32-{self.device_id[:8]}", daemon=True)
        self._workers = [w for w in self._workers if w.is_alive()] + [worker]
        worker.start()

    def _command(self, body: dict[str, Any]) -> None:
        ok = body.get("command") in ("restart", "identify", "report_status")
        self._client.publish(f"devices/{self.device_id}/ack", json.dumps(
            {"id": body.get("id"), "ok": ok, "detail": "" if ok else f"unknown command {body.get('command')!r}"}),
            qos=1)
        if body.get("command") == "restart":
            self._reboot()
        elif body.get("command") == "report_status":
            self.heartbeat()

    def _reboot(self) -> None:
        self._booted = time.monotonic()
        self.heartbeat()

    def _report(self, state: str, version: str, detail: str = "", percent: float | None = None) -> None:
        report: dict[str, Any] = {"state": state, "version": version}
        if detail:
            report["detail"] = detail
        if percent is not None:
            report["percent"] = percent
        self.reports.append(report)
        self._client.publish(f"device/{self.device_id}/progress", json.dumps(report), qos=1)

    def _update(self, order: dict[str, Any]) -> None:
        version = str(order.get("version", ""))
        self._report("downloading", version, percent=0)
        try:
            with urllib.request.urlopen(order["url"], timeout=10) as response:
                data = bytearray()
                while chunk := response.read(self._chunk):
                    data += chunk
        except (OSError, KeyError, ValueError) as exc:
            self._report("failed", version, f"download failed: {exc}")
            return
        self._report("downloading", version, percent=100)
        digest = hashlib.sha256(data).digest()
        if digest.hex() != order.get("sha256"):
            self._report("failed", version, "SHA-256 mismatch: the image is not the one ordered")
            return
        try:
            signature = bytes.fromhex(str(order.get("signature", "")))
        except ValueError:
            signature = b""
        if not verify(self.public_key_hex, digest, signature):
            self._report("failed", version, "signature does not verify with this device's key")
            return
        if not data or data[0] != 0xE9:
            self._report("failed", version, "not an ESP32 application image")
            return
        self._report("verified", version)
        self._report("updating", version)
        self.firmware = version
        self._reboot()
        self._report("updated", version)
