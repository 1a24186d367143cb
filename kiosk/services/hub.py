"""The hub's services without any GUI: store, writer, embedded broker, HTTP, device worker, once-a-second ticker.

`app.py` builds one Hub for both the windowed hub and the headless hub. Start order: database (migrated) -> store
writer -> service loop -> broker -> HTTP -> device worker -> ticker. Stop runs the other way and flushes the writer.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from kiosk import __version__
from kiosk.config import Config
from kiosk.core.devices import DeviceInfo, DeviceSnapshot
from kiosk.core.energy import PortStatus
from kiosk.core.operators import Operator
from kiosk.core.ota import RolloutLimit
from kiosk.core.stalls import StallRules, StallView
from kiosk.core.status import HubStatus
from kiosk.protocol.legacy import LEGACY_SUBSCRIPTIONS, RESET_PAYLOAD, reset_topic
from kiosk.protocol.payloads import Reason, Rejected, iso_utc
from kiosk.protocol.topics import DEVICE_PREFIXES, STATE_PREFIX, TO_DEVICE_CHANNELS
from kiosk.services.admin import DeviceAdmin, RuntimeSettings
from kiosk.services.api import ApiParts, HubApi
from kiosk.services.api.admin import AdminParts
from kiosk.services.api.stalls import StallApi
from kiosk.services.broker.gatekeeper import internal_credentials
from kiosk.services.broker.process import BrokerProcess, InProcessBroker
from kiosk.services.broker.service import BrokerService, ListenerSpec, gatekeeper_for
from kiosk.services.commands import CommandService
from kiosk.services.energy import EnergyService
from kiosk.services.energy_queries import EnergyOperations
from kiosk.services.http import HttpLimits, HttpRefusals, HttpServer
from kiosk.services.hub_lock import HubLock
from kiosk.services.ingest import Ingest, TimeWindow
from kiosk.services.journal_reader import JournalReader
from kiosk.services.lockers import LockerService
from kiosk.services.loop import ServiceLoop
from kiosk.services.monitoring import Monitored, Monitoring
from kiosk.services.mqtt_client import BrokerAddress, DeviceLink
from kiosk.services.notices import Notices
from kiosk.services.ota import OtaService
from kiosk.services.retention import Retention
from kiosk.services.serial_intake import SerialIntake
from kiosk.services.serial_worker import SERIAL_LINKS_DIR, SerialWorker, parse_usb_ids
from kiosk.services.stalls import StallPlace, StallService
from kiosk.store.commands import CommandLog
from kiosk.store.db import open_store, private_folder
from kiosk.store.devices import LEGACY_PREFIX, DeviceRegistry
from kiosk.store.energy import EnergyStore, PortError
from kiosk.store.firmware import FirmwareStore
from kiosk.store.journal import JOURNAL_FILE
from kiosk.store.lockers import LockerDesk, locker_desk_for
from kiosk.store.operators import OperatorDirectory
from kiosk.store.site_key import SiteKey
from kiosk.store.stalls import StallDirectory, acting
from kiosk.store.writer import StoreWriter

log = logging.getLogger(__name__)
HUB_STATE_TOPIC = f"{STATE_PREFIX}/hub"
RETENTION_EVERY_S = 3600  # old raw energy readings and minute rollups are deleted hourly (30 s after start first)
HTTP_STORED_WITHIN_S = 5.0  # an HTTP reading is answered 200 once committed, or 503 after this long
HUB_BEAT_EVERY_S = 5  # displays call the hub unreachable when this beat stops (see docs/protocol.md)


def primary_address() -> str:
    """This machine's address on the network with the default route (no packet is sent); loopback without one."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: only picks the outgoing interface
            return probe.getsockname()[0]
        except OSError:
            return "127.0.0.1"


def hub_state(online: bool, at: float) -> bytes:
    """Retained on kiosk/state/hub: displays tell "hub unreachable" from "all stalls quiet"."""
    return json.dumps({"online": online, "at": round(at, 3), "beat_s": HUB_BEAT_EVERY_S}).encode()


class HubEvents(Protocol):
    def device_changed(self, snapshot: DeviceSnapshot) -> None: ...

    def hub_status(self, status: HubStatus) -> None: ...

    def stalls_changed(self, views: list[tuple[StallPlace, StallView]], complete: bool = False) -> None: ...

    def lockers_changed(self) -> None: ...

    def device_removed(self, device_id: str) -> None: ...


class _ScreensTee:
    """What screens must hear goes to this process's own listener (a window's bridge, the headless log) and to the
    API's event stream, which every other screen follows."""

    def __init__(self, hub: Hub, events: HubEvents) -> None:
        self._hub = hub
        self._events = events

    def _api(self) -> HubApi | None:
        return getattr(self._hub, "api", None)

    def device_changed(self, snapshot: DeviceSnapshot) -> None:
        self._events.device_changed(snapshot)
        api = self._api()
        if api is not None:
            api.devices.changed(snapshot)

    def device_removed(self, device_id: str) -> None:
        self._events.device_removed(device_id)
        api = self._api()
        if api is not None:
            api.devices.removed(device_id)

    def hub_status(self, status: HubStatus) -> None:
        self._events.hub_status(status)
        api = self._api()
        if api is not None:
            api.status_changed(status)

    def stalls_changed(self, views: list[tuple[StallPlace, StallView]], complete: bool = False) -> None:
        self._events.stalls_changed(views, complete)
        api = self._api()
        if api is not None:
            api.stalls_changed(views, complete)

    def lockers_changed(self) -> None:
        self._events.lockers_changed()


class Hub:
    def __init__(self, config: Config, events: HubEvents, clock: Callable[[], float] = time.time,
                 host: str = "headless") -> None:
        self.config = config
        self.host = host  # "window" when a desk window hosts the hub (a second start brings that window forward)
        self._events: HubEvents = _ScreensTee(self, events)
        events = self._events
        self._clock = clock
        private_folder(config.data_dir)  # the database, the journal, secrets and firmware: for the owner only
        # With a fully synced journal the database is synced too: an acknowledged reading survives a power cut.
        self.engine = open_store(config.database_url, "FULL" if config["broker.journal_sync"] == "full" else "NORMAL")
        self.registry = DeviceRegistry(self.engine, clock)
        self.writer = StoreWriter(self.engine, config["ingest.batch_ms"], config["ingest.batch_rows"], clock)
        self.stall_directory = StallDirectory(self.engine, clock)
        rules = StallRules(config["stalls.debounce_s"], config["stalls.door_left_shut_s"],
                           report_interval_s=config["stalls.report_interval_s"])
        self.stalls = StallService(self.stall_directory, self.writer, rules, events,
                                   self._publish_state, self._report_interval, clock)
        self.lockers: LockerDesk = locker_desk_for(config, self.engine, clock)
        self.energy_store = EnergyStore(self.engine, clock)
        self.notices = Notices(self.energy_store, self._publish_state, clock, self.writer)
        self.locker_service = LockerService(self.lockers, self._publish_state, events.lockers_changed,
                                            on_counts=self.notices.lockers_counted,
                                            on_unannounced=self._lockers_changed_unannounced)
        self.energy = EnergyService(self.energy_store, self.writer, self._publish_state,
                                    config["energy.tariff_per_kwh"], config["energy.currency"], clock)
        self.commands = CommandService(CommandLog(self.engine), self._publish_to_device,
                                       lambda device_id: self.ingest.tracker.get(device_id), self.registry.record,
                                       clock)
        self.site_key = SiteKey.load_or_create(config.data_dir)  # made on first start (firmware signatures)
        self.firmware = FirmwareStore(self.engine, config.data_dir, self.site_key, clock)
        self.ota = OtaService(self.firmware, self._publish_to_device,
                              lambda device_id: self.ingest.tracker.get(device_id), lambda: self.ingest.tracker.all(),
                              self.download_base,
                              RolloutLimit(config["ota.parallel"], config["ota.orders_per_minute"]), clock)
        self.ingest = Ingest(self.registry, self.writer, events, config["ingest.max_payload_bytes"],
                             config["devices.offline_after_s"], clock, on_stall=self.stalls.reading,
                             on_energy=self.energy.reading, on_accepted=self._accepted,
                             window=TimeWindow(config["ingest.max_past_s"], config["ingest.max_future_s"]))
        self.legacy_stallsense = bool(config["stalls.legacy_stallsense"])
        self.loop = ServiceLoop()
        self.internal = internal_credentials(config.data_dir)
        self.broker: BrokerProcess | InProcessBroker | None = None
        self.journal_reader: JournalReader | None = None
        if config["broker.embedded"] and not config["broker.url"]:
            spec = ListenerSpec(config["broker.bind"], config["broker.port"],
                                config["broker.websocket_port"] if config["broker.websocket"] else 0,
                                config["broker.tls_port"] if config["broker.tls"] else 0,
                                config["broker.tls_cert"], config["broker.tls_key"], config["broker.max_connections"],
                                config["broker.connect_timeout_s"], config["broker.max_packet_bytes"],
                                config["broker.max_inflight"], config["broker.session_expiry_s"],
                                self.legacy_stallsense,
                                str(config.data_dir / JOURNAL_FILE) if config["broker.journal"] else "",
                                config["broker.journal_sync"], config["stalls.legacy_max_pending"],
                                config["security.login_free_failures"], config["security.login_max_delay_s"])
            if spec.journal_path:
                self.journal_reader = JournalReader(Path(spec.journal_path), self.engine, self.writer,
                                                    self._journal_message, self._journal_stored)
            if config["broker.process"] == "child":
                self.broker = BrokerProcess(spec, config.database_url, config.data_dir, config["log.level"])
            else:
                gatekeeper = gatekeeper_for(spec, self.registry, self.internal, clock)
                self.broker = InProcessBroker(self.loop, BrokerService(spec, gatekeeper))
        limits = HttpLimits(config["http.request_timeout_s"], config["http.max_connections_per_address"],
                            status_token=config["http.status_token"], status_bind=config["http.status_bind"],
                            free_failures=config["security.login_free_failures"],
                            max_delay_s=config["security.login_max_delay_s"])
        self.http_refusals = HttpRefusals()
        self.http = (HttpServer(config["http.bind"], config["http.port"], self.health, self.sensor_reading,
                                self.metrics, self._firmware_file, limits, self.http_refusals)
                     if config["http.port"] else None)
        self.api: HubApi | None = None
        if self.http is not None:
            self.api = HubApi(ApiParts(config.data_dir, self.lockers, lambda: self.locker_service.changed(True),
                                       OperatorDirectory(self.engine, clock),
                                       lambda token: self.registry.check_token(token).device, self.registry.record,
                                       lambda: float(config["admin.idle_lock_s"]), __version__, clock,
                                       EnergyOperations.for_hub(self),
                                       StallApi(self.stall_directory, self.stalls.current, self.stalls_edited,
                                                lambda device_id: self.ingest.tracker.get(device_id),
                                                self.reset_legacy_board),
                                       self._admin_parts()),
                              self.http.throttle, limits.max_body_bytes, limits.request_timeout_s)
            self.http.mount = self.api.mount
        self.link = DeviceLink(self.broker_address(), *self._link_credentials(), on_message=self._message,
                               on_control=self.device_revoked, on_connection=self._link_changed,
                               extra_subscriptions=LEGACY_SUBSCRIPTIONS if self.legacy_stallsense else (),
                               will=(HUB_STATE_TOPIC, hub_state(False, clock())),
                               device_topics=self.journal_reader is None)
        self.serial_intake = SerialIntake(self.registry, self.writer, self.ingest, self.energy)
        self.serial: SerialWorker | None = None
        if config["serial.enabled"]:
            paths = tuple(filter(None, (p.strip() for p in config["serial.ports"].split(","))))
            self.serial = SerialWorker(paths, parse_usb_ids(config["serial.usb_ids"]), config["serial.baud"],
                                       self.serial_intake.message, max_lines_per_s=config["serial.max_lines_per_s"],
                                       watch_dir=str(config.data_dir / SERIAL_LINKS_DIR))
        self._link_detail = "connecting"
        self._refusals_seen: dict[tuple[str, str], int] = {}  # the broker's refused-publish counters, counted
        self._refusals_uptime = 0.0
        self._stop = threading.Event()
        self._lock = HubLock(config.data_dir)
        self._ticker: threading.Thread | None = None
        self.retention = Retention(config, self.energy_store, self.registry, self._stop, clock)
        self.monitor = Monitoring(Monitored(config, self.engine, self.writer, self.ingest, self.broker, self.link,
                                            lambda: self._link_detail, self.http, self.http_refusals,
                                            self.journal_reader, self.locker_service, self.serial, self.energy,
                                            self.energy_store, self.api))
        self._simulator: Any = None  # the demonstration's devices, once started (start_demo)
        self._demo_lock = threading.Lock()

    def _admin_parts(self) -> AdminParts:
        tracker = self.ingest.tracker
        return AdminParts(DeviceAdmin.for_hub(self), self.registry, tracker.all, tracker.get, self.ingest.recent,
                          self.commands, lambda: self.site_key.public_hex, self.firmware, self.ota, self.notices,
                          self.energy_store.open_count,
                          RuntimeSettings(self.config, self.apply_setting, self.registry.record),
                          OperatorDirectory(self.engine, self._clock), self.status, self.start_demo)

    def _lockers_changed_unannounced(self) -> None:
        """A locker change the event stream has not carried (this window's, the CLI's): stations re-read."""
        if self.api is not None:
            self.api.events.publish("lockers", {"action": "changed", "by": "", "assignments": [], "lockers": [],
                                                "members": True, "counts": None})

    def broker_address(self) -> BrokerAddress:
        if self.config["broker.url"]:
            return BrokerAddress.parse(self.config["broker.url"])
        bind = self.config["broker.bind"]
        return BrokerAddress("127.0.0.1" if bind in ("0.0.0.0", "", "::") else bind, self.config["broker.port"])

    def _link_credentials(self) -> tuple[str, str]:
        if self.config["broker.username"]:
            return self.config["broker.username"], self.config["broker.password"]
        return self.internal.username, self.internal.password

    def _accepted(self, device_id: str, message: Any, snap: DeviceSnapshot) -> None:
        """Every accepted device message, after ingest: commands and firmware updates follow their devices."""
        self.commands.device_message(device_id, message, snap)
        self.ota.device_message(device_id, message, snap)
        self.notices.device_heard(device_id)

    def download_base(self) -> str | None:
        """Where devices download firmware: http://HOST:PORT of this kiosk, None with the HTTP server off."""
        if self.http is None:
            return None
        bind = self.config["http.bind"]
        host = self.config["http.advertised_host"] or (bind if bind not in ("0.0.0.0", "::", "") else
                                                       primary_address())
        port = self.http.port or self.config["http.port"]
        return f"http://{host}:{port}"

    def apply_setting(self, key: str, value: Any) -> None:
        """A run-time setting changed in the Admin tab (kiosk.services.admin.RuntimeSettings)."""
        if key == "energy.tariff_per_kwh":
            self.energy.tariff = value
        elif key == "energy.currency":
            self.energy.currency = value
        elif key in ("ota.parallel", "ota.orders_per_minute"):
            self.ota.limit = RolloutLimit(self.config["ota.parallel"], self.config["ota.orders_per_minute"])
        elif key == "devices.offline_after_s":
            self.ingest.set_offline_after(value)

    def _firmware_file(self, sha256: str) -> Path | None:
        return self.firmware.path(sha256) if self.firmware.by_sha256(sha256) is not None else None

    def _publish_to_device(self, topic: str, payload: bytes) -> bool:
        """A command or an OTA order; False when the hub is not connected to the broker (tried again later)."""
        return self.link.connected.is_set() and self.link.publish(topic, payload, qos=1)

    def _message(self, topic: str, payload: bytes) -> None:
        parts = topic.split("/")
        if len(parts) == 3 and (parts[0], parts[2]) in TO_DEVICE_CHANNELS:
            return  # the hub's own commands and OTA orders, heard back through its subscription
        if parts[0] in DEVICE_PREFIXES or not self.legacy_stallsense:
            self.ingest.handle(topic, payload)
        else:
            self.ingest.handle_legacy(topic, payload)

    def _journal_message(self, topic: str, payload: bytes, at: float | None) -> None:
        """A device's message from the broker's journal (journal-reader thread). Only devices' own publishes are
        there, so one on a to-device topic is the device's own (counted as unknown_topic), not the hub's echo."""
        if topic.split("/", 1)[0] in DEVICE_PREFIXES or not self.legacy_stallsense:
            self.ingest.handle(topic, payload, at=at)
        else:
            self.ingest.handle_legacy(topic, payload, at=at)

    def _journal_stored(self, seq: int) -> None:
        if self.broker is not None:
            self.broker.journal_stored(seq)

    def _report_interval(self, device_id: str) -> float | None:
        snap = self.ingest.tracker.get(device_id)
        return snap.report_interval_s if snap is not None else None

    def _publish_state(self, topic: str, payload: bytes, retain: bool) -> None:
        """Derived state for displays; skipped while the link is down (everything is republished on reconnect).

        QoS 0: the link is a local TCP connection that loses nothing while it is up, and a lost link republishes
        every state; QoS 1 cost the embedded broker a PUBACK round per change (bench/stalls.py: bursts of 100)."""
        if self.link.connected.is_set():
            self.link.publish(topic, payload, qos=0, retain=retain)

    def start_demo(self) -> bool:
        """Demonstration devices (stall sensors, energy meters), a demo restroom and roster when there are none:
        what the empty Devices page offers. False when the demonstration runs already."""
        from kiosk.services.simulator import SimulationPlan, build_simulator, demo_restroom, demo_roster

        with self._demo_lock:
            if self._simulator is not None:
                return False
            simulator, devices = build_simulator(self.registry, self.config.data_dir, self.broker_address(),
                                                 self.http.port if self.http else 0, SimulationPlan(),
                                                 announce=self.device_added)
            if demo_restroom(self.stall_directory, devices):
                self.stalls_edited()
            if demo_roster(self.lockers):
                self.locker_service.changed()
                self._events.lockers_changed()
            self._simulator = simulator
        simulator.start()
        log.info("demonstration devices started")
        return True

    def reset_legacy_board(self, device_id: str, actor: str | Operator) -> None:
        """Send a legacy StallSense board its Wi-Fi reset (`N/rst` = 1): it forgets its network and reboots.

        The caller has asked for confirmation; this writes the audit row and publishes. Raises LookupError for a
        device that is not a legacy board, ConnectionError while the broker cannot be reached; PermissionError for
        an operator who is not an admin."""
        actor = acting(actor, "reset a board's Wi-Fi")
        info = self.registry.get(device_id)
        if info is None or not device_id.startswith(LEGACY_PREFIX):
            raise LookupError(f"{device_id} is not a StallSense board")
        if not self.link.connected.is_set():
            raise ConnectionError("the broker is not reachable; the reset was not sent")
        self.registry.record(actor, "stallsense.wifi_reset", device_id, f"sent {reset_topic(info.name)} = 1")
        self.link.publish(reset_topic(info.name), RESET_PAYLOAD, qos=1)

    def sensor_reading(self, body: Any, remote: str = "?") -> tuple[int, dict[str, Any]]:
        """`POST /api/sensor/reading` (DESIGN.md section 5): the device's token, its port, one reading.

        400: not a reading (says which field); 401: no valid token; 404: no such port on that device. The token is
        checked like an MQTT login and never logged. The answer has the original API's fields (`message`,
        `data.reading.id`, an ISO 8601 UTC `timestamp`); every refusal says its `reason` and is counted (on the
        device where the token names one)."""
        if not isinstance(body, dict):
            return 400, {"success": False, "message": "the body must be a JSON object", "reason": "wrong_type"}
        token, port_id = body.get("deviceToken"), body.get("portId")
        if not isinstance(token, str) or not token:
            return 401, {"success": False, "message": "deviceToken is missing", "reason": "no_token"}
        login = self.registry.check_token(token)
        if login.device is None:
            reason = login.failure.value if login.failure else "wrong token"
            log.debug("HTTP reading from %s refused: %s", remote, reason)
            return 401, {"success": False, "message": f"the device token is not valid ({reason})",
                         "reason": reason.replace(" ", "_")}
        device_id = login.device.id
        if not isinstance(port_id, str) or not port_id:
            self.ingest.reject(device_id, Reason.WRONG_TYPE, "HTTP reading without a portId")
            return 400, {"success": False, "message": "portId is missing", "reason": Reason.WRONG_TYPE.value}
        try:
            port = self.energy.owned_port(device_id, port_id)
        except PortError as exc:
            self.ingest.reject(device_id, Reason.UNKNOWN_PORT, f"HTTP reading for {port_id[:64]!r}: {exc}")
            return 404, {"success": False, "message": str(exc), "reason": Reason.UNKNOWN_PORT.value}
        fields = {key: body[key] for key in ("voltage", "current", "power", "ts", "seq") if key in body}
        try:
            report, reading, at = self.ingest.handle_energy(
                device_id, fields, lambda r, now: (self.energy.reading(device_id, r, now, port), r, now))
            ticket = self.writer.ticket()
        except Rejected as exc:
            if exc.reason is Reason.DUPLICATE:  # a retry of a reading that is stored: answered as done
                return 200, {"success": True, "message": "Sensor reading already stored", "duplicate": True,
                             "data": {"reading": {"id": self._reading_id(device_id, port.id, fields.get("seq")),
                                                  "portId": port.id, "seq": fields.get("seq")}}}
            return 500 if exc.reason is Reason.INTERNAL_ERROR else 400, {"success": False, "message": exc.detail,
                                                                          "reason": exc.reason.value}
        if not self.writer.wait_stored(ticket, HTTP_STORED_WITHIN_S):  # 200 means on disk (docs/reliability.md)
            return 503, {"success": False, "reason": "not_stored_yet",
                         "message": "the reading was taken but the database has not stored it yet (it is busy or "
                                    "full); it will be stored if it can be. Send it again with the same 'seq' to be "
                                    "sure, without one it may be stored twice."}
        return 200, {"success": True, "message": "Sensor reading created successfully", "data": {
            "reading": {"id": self._reading_id(device_id, port.id, fields.get("seq"), at), "portId": port.id,
                        "voltage": reading.voltage, "current": reading.current, "power": reading.power,
                        "timestamp": iso_utc(at), "ts": at},
            "phantomDetected": report.status is PortStatus.PHANTOM, "portStatus": report.status.value}}

    def _reading_id(self, device_id: str, port_id: str, seq: Any, at: float | None = None) -> int | None:
        return self.energy_store.reading_id(device_id, port_id, None if seq is None else str(seq), at)

    def stalls_edited(self) -> None:
        """Restrooms, stalls or assignments changed (GUI or CLI): fuse and publish with the new layout."""
        self.stalls.reload()

    def start(self) -> None:
        """Raises HubAlreadyRunning (before anything starts) when another hub runs on this data folder."""
        self._lock.acquire({"broker_port": self.config["broker.port"] if self.broker is not None else None,
                            "http_port": self.config["http.port"] or None, "database": self.config.database_label,
                            "host": self.host})
        self.stalls.reload()
        self.commands.load()
        self.ota.load()
        self.notices.load()
        snapshots = self.ingest.load()
        for snap in snapshots:
            self._events.device_changed(snap)
        self.writer.start()
        if self.journal_reader is not None:
            self.journal_reader.start()  # what an earlier run acknowledged and did not store comes first
        self.loop.start()
        if self.broker is not None:
            self.broker.start()
        if self.http is not None:
            self.loop.run(self.http.start())
        self.link.start()
        if self.serial is not None:
            self.serial.start()
        self._ticker = threading.Thread(target=self._tick_forever, name="hub-ticker", daemon=True)
        self._ticker.start()
        self.locker_service.start()

    def stop(self) -> None:
        self._stop.set()
        with self._demo_lock:
            simulator, self._simulator = self._simulator, None
        if simulator is not None:
            simulator.stop()
        if self._ticker is not None:
            self._ticker.join(2)
        self.retention.join(10)
        self.locker_service.stop()
        if self.serial is not None:
            self.serial.stop()
        self.link.stop()
        if self.loop.running and self.http is not None:
            self.loop.run(self.http.stop())
        if self.broker is not None:
            self.broker.stop()
        if self.journal_reader is not None:
            self.journal_reader.stop()  # after the broker: nothing new comes in; the rest waits for the next start
        self.loop.stop()
        self.writer.stop()
        self.engine.dispose()
        self._lock.release()  # last: a new hub may start on this folder now

    def device_added(self, info: DeviceInfo) -> None:
        self.ingest.device_registered(info)

    @property
    def clock(self) -> Callable[[], float]:
        return self._clock

    def device_removed(self, device_id: str) -> None:
        """A deleted device: out of the live state and views, its session dropped."""
        self.ingest.device_removed(device_id)
        self.notices.device_removed(device_id)
        if self.broker is not None:
            self.broker.drop_device(device_id)
        self._events.device_removed(device_id)

    def device_revoked(self, device_id: str) -> None:
        """Drop a revoked device's live sessions at once (called by the CLI's nudge or the admin UI)."""
        info = self.registry.get(device_id)
        if info is not None:
            self.ingest.device_registered(info)
        if self.broker is not None:
            self.broker.drop_device(device_id)

    def _link_changed(self, connected: bool, detail: str) -> None:
        self._link_detail = detail
        if connected:
            self.link.publish(HUB_STATE_TOPIC, hub_state(True, self._clock()), qos=1, retain=True)
            self.stalls.republish()
            self.locker_service.republish()
            self.energy.republish()

    def _tick_forever(self) -> None:
        sweep_every = 5
        count = 0
        while not self._stop.wait(1.0):
            count += 1
            try:
                self.notices.devices_changed(self.ingest.tick())
                self.stalls.tick()
                self.energy.tick()
                self._count_broker_refusals()
                if count % HUB_BEAT_EVERY_S == 0 and self.link.connected.is_set():
                    self.link.publish(HUB_STATE_TOPIC, hub_state(True, self._clock()), qos=0, retain=True)
                if count % RETENTION_EVERY_S == 30:
                    self.retention.run_soon()
                if count % sweep_every == 0:
                    self.commands.tick()
                    self.ota.tick()
                    self._sweep_sessions()
                    if self.api is not None:
                        self.api.sessions.sweep()  # the API's operator sessions past their idle or age limit
                    self.stalls.reload_if_edited()
                    self.energy.reload_ports_if_edited()
                    self.serial_intake.forget_mappings()  # an admin may have mapped a board to another device
                self._events.hub_status(self.status())
            except Exception:
                log.exception("hub ticker failed; it keeps running")

    def _count_broker_refusals(self) -> None:
        """Publishes the broker acknowledged and refused (its ACL, `$` topics) counted on their devices: the
        broker's counters grow from its start, so the new part is counted (all of it after a broker restart)."""
        broker = self.broker.stats() if self.broker else None
        if broker is None or not broker.running:
            return
        seen = self._refusals_seen
        totals = {(entry.device_id, entry.reason): (entry.count, entry.last_topic)
                  for entry in broker.refused_publishes}
        restarted = broker.uptime_s < self._refusals_uptime or any(
            totals.get(key, (0, ""))[0] < n for key, n in seen.items())
        self._refusals_uptime = broker.uptime_s
        if restarted:
            seen.clear()
        for (device_id, reason), (total, topic) in totals.items():
            new = total - seen.get((device_id, reason), 0)
            if new > 0:
                seen[(device_id, reason)] = total
                self.ingest.reject(device_id, Reason(reason), f"published to {topic!r}, a topic it may not use "
                                                              f"(acknowledged and dropped)", new)

    def _sweep_sessions(self) -> None:
        """Drop connected devices whose token was revoked or expired since they logged in."""
        if self.broker is None:
            return
        connected = self.broker.connected_device_ids()
        for device_id in set(connected) - self.registry.still_valid(connected):
            log.info("device %s no longer holds a valid token; dropping its connection", device_id)
            self.broker.drop_device(device_id)

    def status(self) -> HubStatus:
        return self.monitor.status()

    def metrics(self) -> str:
        return self.monitor.metrics()

    def backlog(self) -> int:
        return self.monitor.backlog()

    def health(self) -> tuple[bool, dict[str, Any]]:
        return self.monitor.health()
