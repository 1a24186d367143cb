"""The hub's wiring: every service built with what it needs, started in order, stopped the other way.

`kiosk --headless` runs one Hub (the desk window starts that process when none runs; kiosk.client.local_hub). Start
order: hub lock -> database (migrated) -> store writer -> journal reader -> service loop -> broker -> HTTP -> device
link -> USB serial -> ticker -> locker thread. Stop runs the other way and flushes the writer. Nothing here handles a
message or a request itself: devices' messages go to `Ingest.take` (kiosk.services.ingest), requests to the API's
route modules (kiosk.services.api), the once-a-second work to the ticker's jobs (kiosk.services.ticker).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kiosk import __version__
from kiosk.client.local_hub import api_url
from kiosk.config import Config
from kiosk.core.devices import DeviceInfo, DeviceSnapshot
from kiosk.core.ota import RolloutLimit
from kiosk.core.stalls import StallRules
from kiosk.core.status import HubStatus
from kiosk.protocol.legacy import LEGACY_SUBSCRIPTIONS
from kiosk.protocol.state import HUB_TOPIC, hub_beat_payload
from kiosk.services import ports
from kiosk.services.admin import DeviceAdmin, RuntimeSettings
from kiosk.services.api import ApiParts, HubApi
from kiosk.services.api.admin import AdminParts
from kiosk.services.api.stalls import StallApi
from kiosk.services.broker.gatekeeper import internal_credentials
from kiosk.services.broker.process import BrokerProcess, InProcessBroker
from kiosk.services.broker.service import BrokerService, ListenerSpec, gatekeeper_for
from kiosk.services.broker.upkeep import RefusalCounter, drop_invalid_logins
from kiosk.services.commands import CommandService
from kiosk.services.desk_share import DeskShare, ShareFailed
from kiosk.services.energy import EnergyService
from kiosk.services.energy_queries import EnergyOperations
from kiosk.services.http import HttpLimits, HttpRefusals, HttpServer
from kiosk.services.http_readings import HttpReadings
from kiosk.services.hub_lock import HubLock
from kiosk.services.ingest import Envelope, Ingest, Road, TimeWindow
from kiosk.services.journal_reader import JournalReader
from kiosk.services.lockers import LockerService
from kiosk.services.loop import ServiceLoop
from kiosk.services.monitoring import Monitored, Monitoring
from kiosk.services.mqtt_client import BrokerAddress, DeviceLink
from kiosk.services.notices import Notices
from kiosk.services.ota import OtaService, download_base
from kiosk.services.retention import Retention
from kiosk.services.screens import HubEvents, ScreensTee
from kiosk.services.serial_intake import SerialIntake
from kiosk.services.serial_worker import SERIAL_LINKS_DIR, SerialWorker, parse_usb_ids
from kiosk.services.simulator import Demonstration
from kiosk.services.stalls import LegacyBoards, StallService
from kiosk.services.ticker import Job, Ticker
from kiosk.store.commands import CommandLog
from kiosk.store.db import open_store, private_folder
from kiosk.store.devices import DeviceRegistry
from kiosk.store.energy import EnergyStore
from kiosk.store.firmware import FirmwareStore
from kiosk.store.lockers import LockerDesk, locker_desk_for
from kiosk.store.operators import OperatorDirectory
from kiosk.store.site_key import SiteKey
from kiosk.store.stalls import StallDirectory
from kiosk.store.writer import StoreWriter

log = logging.getLogger(__name__)
RETENTION_EVERY_S = 3600  # old raw energy readings and minute rollups are deleted hourly (30 s after start first)
HUB_BEAT_EVERY_S = 5  # displays call the hub unreachable when this beat stops (see docs/protocol.md)


class Hub:
    def __init__(self, config: Config, events: HubEvents, clock: Callable[[], float] = time.time,
                 host: str = "headless", watchdog: Callable[[], None] | None = None) -> None:
        """`watchdog`: run by the ticker each second (systemd's watchdog, kiosk.services.systemd)."""
        self.config = config
        self._watchdog = watchdog
        self.host = host  # written into hub.lock: who runs this hub
        self.clock = clock
        self._events = tee = ScreensTee(events)
        private_folder(config.data_dir)  # the database, the journal, secrets and firmware: for the owner only
        # With a fully synced journal the database is synced too: an acknowledged reading survives a power cut.
        self.engine = engine = open_store(config.database_url,
                                          "FULL" if config.broker.journal_sync == "full" else "NORMAL")
        self.registry = registry = DeviceRegistry(engine, clock)
        self.writer = writer = StoreWriter(engine, config.ingest.batch_ms, config.ingest.batch_rows, clock)
        self.internal = internal_credentials(config.data_dir)
        self.link = DeviceLink(self.broker_address(), *self._link_credentials(), on_message=self._mqtt_message,
                               on_control=self.device_revoked, on_connection=self._link_changed,
                               extra_subscriptions=LEGACY_SUBSCRIPTIONS if config.stalls.legacy_stallsense else (),
                               will=(HUB_TOPIC, hub_beat_payload(False, clock(), HUB_BEAT_EVERY_S)),
                               device_topics=not (self._embedded() and config.broker.journal))
        self.stall_directory = StallDirectory(engine, clock)
        self.stalls = StallService(self.stall_directory, writer,
                                   StallRules(config.stalls.debounce_s, config.stalls.door_left_shut_s,
                                              report_interval_s=config.stalls.report_interval_s),
                                   tee, self._publish_state, self._report_interval, clock, self._last_seen)
        self.legacy_boards = LegacyBoards(registry, self.link)
        self.lockers: LockerDesk = locker_desk_for(config, engine, clock)
        self.energy_store = EnergyStore(engine, clock)
        self.notices = Notices(self.energy_store, self._publish_state, clock, writer)
        self.locker_service = LockerService(self.lockers, self._publish_state, tee.lockers_changed,
                                            on_counts=self.notices.lockers_counted,
                                            on_unannounced=self._lockers_changed_unannounced)
        self.energy = EnergyService(self.energy_store, writer, self._publish_state, config.energy.tariff_per_kwh,
                                    config.energy.currency, clock)
        self.commands = CommandService(CommandLog(engine), self._publish_to_device, self._snapshot, registry.record,
                                       clock)
        self.site_key = SiteKey.load_or_create(config.data_dir)  # made on first start (firmware signatures)
        self.firmware = FirmwareStore(engine, config.data_dir, self.site_key, clock)
        self.ota = OtaService(self.firmware, self._publish_to_device, self._snapshot, self._snapshots,
                              self.download_base, RolloutLimit(config.ota.parallel, config.ota.orders_per_minute),
                              clock)
        self.ingest = Ingest(registry, writer, tee, config.ingest.max_payload_bytes, config.devices.offline_after_s,
                             clock, on_stall=self.stalls.reading, on_energy=self.energy.reading,
                             on_accepted=self._accepted,
                             window=TimeWindow(config.ingest.max_past_s, config.ingest.max_future_s),
                             legacy=config.stalls.legacy_stallsense)
        self.loop = ServiceLoop()
        self.broker: BrokerProcess | InProcessBroker | None = None
        self.journal_reader: JournalReader | None = None
        if self._embedded():
            spec = ListenerSpec.from_config(config)
            if spec.journal_path:
                self.journal_reader = JournalReader(Path(spec.journal_path), engine, writer, self._journal_message,
                                                    self._journal_stored)
            if config.broker.process == "child":
                self.broker = BrokerProcess(spec, config.database_url, config.data_dir, config.log.level)
            else:
                gatekeeper = gatekeeper_for(spec, registry, self.internal, clock)
                self.broker = InProcessBroker(self.loop, BrokerService(spec, gatekeeper))
        limits = HttpLimits(config.http.request_timeout_s, config.http.max_connections_per_address,
                            status_token=config.http.status_token, status_bind=config.http.status_bind,
                            free_failures=config.security.login_free_failures,
                            max_delay_s=config.security.login_max_delay_s)
        self.http_refusals = HttpRefusals()
        self.http_readings = HttpReadings(registry, self.energy, self.energy_store, self.ingest, writer)
        self.http = (HttpServer(config.http.bind, config.http.port, self.health, self.http_readings.reading,
                                self.metrics, self._firmware_file, limits, self.http_refusals)
                     if config.http.port else None)
        self.device_admin = DeviceAdmin(registry, self.device_added, self.device_revoked, self.device_removed,
                                        self._broker_host_port, clock, self.download_base)
        self.energy_queries = EnergyOperations(self.energy_store, self.energy,
                                               lambda: {d.id: d.name for d in registry.infos()})
        self.demonstration = Demonstration(registry, config.data_dir, self.broker_address,
                                           lambda: self.http.port if self.http else 0, self.device_added,
                                           self.stall_directory, self.stalls_edited, self.lockers,
                                           self._demo_roster_added)
        self.api: HubApi | None = None
        if self.http is not None:
            tracker = self.ingest.tracker
            admin = AdminParts(self.device_admin, registry, tracker.all, tracker.get, self.ingest.recent,
                               self.commands, lambda: self.site_key.public_hex, self.firmware, self.ota, self.notices,
                               self.energy_store.open_count,
                               RuntimeSettings(config, self.apply_setting, registry.record),
                               OperatorDirectory(engine, clock), self.status, self.demonstration.start,
                               serial_mapped=lambda: self.serial_intake.forget_mappings())
            stalls = StallApi(self.stall_directory, self.stalls.current, self.stalls_edited, tracker.get,
                              self.legacy_boards.reset_wifi)
            self.api = tee.api = HubApi(
                ApiParts(config.data_dir, self.lockers, lambda: self.locker_service.changed(True),
                         OperatorDirectory(engine, clock), lambda token: registry.check_token(token).device,
                         registry.record, lambda: float(config.admin.idle_lock_s), __version__, clock,
                         self.energy_queries, stalls, admin, lambda: float(config.desk.signin_idle_s)),
                self.http.throttle, limits.max_body_bytes, limits.request_timeout_s)
            self.http.mount = self.api.mount
        self.desk_share: DeskShare | None = None
        if self.api is not None and config.desk.share_file:
            self.desk_share = DeskShare(Path(config.desk.share_file), config.desk.share_group,
                                        api_url({"http_port": config.http.port}, config.http.bind) or "",
                                        self.api.station_token)
        self.serial_intake = SerialIntake(registry, writer, self.ingest)
        self.serial: SerialWorker | None = None
        if config.serial.enabled:
            paths = tuple(filter(None, (p.strip() for p in config.serial.ports.split(","))))
            self.serial = SerialWorker(paths, parse_usb_ids(config.serial.usb_ids), config.serial.baud,
                                       self.serial_intake.message, max_lines_per_s=config.serial.max_lines_per_s,
                                       watch_dir=str(config.data_dir / SERIAL_LINKS_DIR))
        self._link_detail = "connecting"
        self._stop = threading.Event()
        self._lock = HubLock(config.data_dir)
        self.retention = Retention(config, self.energy_store, registry, self._stop, clock)
        self.monitor = Monitoring(Monitored(config, engine, writer, self.ingest, self.broker, self.link,
                                            lambda: self._link_detail, self.http, self.http_refusals,
                                            self.journal_reader, self.locker_service, self.serial, self.energy,
                                            self.energy_store, self.api))
        self.ticker = Ticker(self._jobs(), self._stop)

    def _jobs(self) -> list[Job]:
        """What the ticker runs, in this order each second (or every `every` seconds)."""
        refusals = RefusalCounter(lambda: self.broker.stats() if self.broker else None, self.ingest.reject)
        every_5 = [Job("commands", self.commands.tick, 5), Job("firmware updates", self.ota.tick, 5),
                   Job("device logins", self._drop_invalid_logins, 5),
                   Job("stall layout", self.stalls.reload_if_edited, 5),
                   Job("energy ports", self.energy.reload_ports_if_edited, 5),
                   Job("serial mappings", self.serial_intake.forget_mappings, 5)]  # an admin may map a board anew
        if self.api is not None:
            every_5.append(Job("operator sessions", self.api.sessions.sweep, 5))  # past their idle or age limit
        return [Job("devices", self._devices_tick),
                Job("stalls", self.stalls.tick), Job("energy", self.energy.tick),
                Job("broker refusals", refusals.count), Job("hub beat", self._beat, HUB_BEAT_EVERY_S),
                Job("retention", self.retention.run_soon, RETENTION_EVERY_S, offset=30), *every_5,
                Job("status", lambda: self._events.hub_status(self.status())),
                *([Job("systemd watchdog", self._watchdog)] if self._watchdog is not None else [])]

    def _devices_tick(self) -> None:
        changed = self.ingest.tick()
        if self.api is not None:
            changed += self.ingest.screens_connected(self.api.events.connected_screens())
        self.notices.devices_changed(changed)

    def start(self) -> None:
        """Raises HubAlreadyRunning (before anything starts) when another hub runs on this data folder."""
        self._lock.acquire({"broker_port": self.config.broker.port if self.broker is not None else None,
                            "http_port": self.config.http.port or None, "database": self.config.database_label,
                            "host": self.host})
        self._ports_free()
        self.commands.load()
        self.ota.load()
        self.notices.load()
        for snap in self.ingest.load():
            self._events.device_changed(snap)
        self.stalls.reload()  # after the devices: a sensor's last report survives a restart ("silent since")
        self.writer.start()
        if self.journal_reader is not None:
            self.journal_reader.start()  # what an earlier run acknowledged and did not store comes first
        self.loop.start()
        if self.broker is not None:
            self.broker.start()
        if self.http is not None:
            self.loop.run(self.http.start())
        if self.desk_share is not None:
            try:
                self.desk_share.write()
            except ShareFailed as exc:  # the hub runs on; only other people's desk windows cannot attach
                log.error("desk windows of other users cannot attach: %s", exc)
        self.link.start()
        if self.serial is not None:
            self.serial.start()
        self.ticker.start()
        self.locker_service.start()
        self.demonstration.resume()

    def _ports_free(self) -> None:
        """Raises PortTaken, naming the program, before anything listens (instead of the broker's traceback)."""
        wanted = [("HTTP", self.config.http.bind, self.config.http.port, "--http-port")]
        if self.broker is not None:
            wanted.insert(0, ("broker", self.config.broker.bind, self.config.broker.port, "--broker-port"))
        for label, bind, port, flag in wanted:
            trouble = ports.problem(label, bind, port, flag)
            if trouble is not None:
                raise ports.PortTaken(trouble)

    def stop(self) -> None:
        self._stop.set()
        self.demonstration.stop()
        self.ticker.join(2)
        self.retention.join(10)
        self.locker_service.stop()
        if self.serial is not None:
            self.serial.stop()
        self.link.stop()
        if self.desk_share is not None:
            self.desk_share.remove()
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

    # What the parts tell each other, through the hub because it knows them all.

    def _mqtt_message(self, topic: str, payload: bytes) -> None:
        self.ingest.take(Envelope(Road.MQTT, topic, payload))

    def _journal_message(self, topic: str, payload: bytes, at: float | None) -> None:
        self.ingest.take(Envelope(Road.JOURNAL, topic, payload, at=at))

    def _journal_stored(self, seq: int) -> None:
        if self.broker is not None:
            self.broker.journal_stored(seq)

    def _accepted(self, device_id: str, message: Any, snap: DeviceSnapshot) -> None:
        """Every accepted device message, after ingest: commands and firmware updates follow their devices."""
        self.commands.device_message(device_id, message, snap)
        self.ota.device_message(device_id, message, snap)
        self.notices.device_heard(device_id)

    def _snapshot(self, device_id: str) -> DeviceSnapshot | None:
        return self.ingest.tracker.get(device_id)

    def _snapshots(self) -> list[DeviceSnapshot]:
        return self.ingest.tracker.all()

    def _report_interval(self, device_id: str) -> float | None:
        snap = self.ingest.tracker.get(device_id)
        return snap.report_interval_s if snap is not None else None

    def _last_seen(self, device_id: str) -> float | None:
        snap = self.ingest.tracker.get(device_id)
        return snap.last_seen if snap is not None else None

    def device_added(self, info: DeviceInfo) -> None:
        self.ingest.device_registered(info)

    def device_removed(self, device_id: str) -> None:
        """A deleted device: out of the live state and views, its session dropped."""
        self.ingest.device_removed(device_id)
        self.notices.device_removed(device_id)
        if self.broker is not None:
            self.broker.drop_device(device_id)
        self._events.device_removed(device_id)

    def device_revoked(self, device_id: str) -> None:
        """Drop a revoked device's live sessions at once (called by the CLI's nudge or the admin routes)."""
        info = self.registry.get(device_id)
        if info is not None:
            self.ingest.device_registered(info)
        if self.broker is not None:
            self.broker.drop_device(device_id)
        if self.stalls.board.stall_of(device_id) is not None:
            self.stalls.reload()  # its stall now says which sensor was revoked

    def stalls_edited(self) -> None:
        """Restrooms, stalls or assignments changed: fuse and publish with the new layout."""
        self.stalls.reload()

    def _demo_roster_added(self) -> None:
        self.locker_service.changed()
        self._events.lockers_changed()

    def _lockers_changed_unannounced(self) -> None:
        """A locker change the event stream has not carried (the CLI's): stations re-read."""
        if self.api is not None:
            self.api.events.publish("lockers", {"action": "changed", "by": "", "assignments": [], "lockers": [],
                                                "members": True, "counts": None})

    def apply_setting(self, key: str, value: Any) -> None:
        """A run-time setting changed in the Admin tab (kiosk.services.admin.RuntimeSettings)."""
        if key == "energy.tariff_per_kwh":
            self.energy.tariff = value
        elif key == "energy.currency":
            self.energy.currency = value
        elif key in ("ota.parallel", "ota.orders_per_minute"):
            self.ota.limit = RolloutLimit(self.config.ota.parallel, self.config.ota.orders_per_minute)
        elif key == "devices.offline_after_s":
            self.ingest.set_offline_after(value)

    # The broker and the HTTP server as devices see them.

    def _embedded(self) -> bool:
        return self.config.broker.embedded and not self.config.broker.url

    def broker_address(self) -> BrokerAddress:
        if self.config.broker.url:
            return BrokerAddress.parse(self.config.broker.url)
        bind = self.config.broker.bind
        return BrokerAddress("127.0.0.1" if bind in ("0.0.0.0", "", "::") else bind, self.config.broker.port)

    def _broker_host_port(self) -> tuple[str, int]:
        where = self.broker_address()
        return where.host, where.port

    def _link_credentials(self) -> tuple[str, str]:
        if self.config.broker.username:
            return self.config.broker.username, self.config.broker.password
        return self.internal.username, self.internal.password

    def download_base(self) -> str | None:
        """Where devices download firmware; None with the HTTP server off."""
        if self.http is None:
            return None
        return download_base(self.config.http.bind, self.config.http.advertised_host,
                             self.http.port or self.config.http.port)

    def _firmware_file(self, sha256: str) -> Path | None:
        return self.firmware.path(sha256) if self.firmware.by_sha256(sha256) is not None else None

    def _publish_to_device(self, topic: str, payload: bytes) -> bool:
        """A command or an OTA order; False when the hub is not connected to the broker (tried again later)."""
        return self.link.connected.is_set() and self.link.publish(topic, payload, qos=1)

    def _publish_state(self, topic: str, payload: bytes, retain: bool) -> None:
        """Derived state for displays; skipped while the link is down (everything is republished on reconnect).

        QoS 0: the link is a local TCP connection that loses nothing while it is up, and a lost link republishes
        every state; QoS 1 cost the embedded broker a PUBACK round per change (bench/stalls.py: bursts of 100)."""
        if self.link.connected.is_set():
            self.link.publish(topic, payload, qos=0, retain=retain)

    def _link_changed(self, connected: bool, detail: str) -> None:
        self._link_detail = detail
        if connected:
            self.link.publish(HUB_TOPIC, hub_beat_payload(True, self.clock(), HUB_BEAT_EVERY_S), qos=1,
                              retain=True)
            self.stalls.republish()
            self.locker_service.republish()
            self.energy.republish()

    def _beat(self) -> None:
        if self.link.connected.is_set():
            self.link.publish(HUB_TOPIC, hub_beat_payload(True, self.clock(), HUB_BEAT_EVERY_S), qos=0, retain=True)

    def _drop_invalid_logins(self) -> None:
        if self.broker is not None:
            drop_invalid_logins(self.broker, self.registry.still_valid)

    # Its self-report (kiosk.services.monitoring).

    def status(self) -> HubStatus:
        return self.monitor.status()

    def metrics(self) -> str:
        return self.monitor.metrics()

    def backlog(self) -> int:
        return self.monitor.backlog()

    def health(self) -> tuple[bool, dict[str, Any]]:
        return self.monitor.health()
