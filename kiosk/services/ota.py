"""Firmware rollouts to ESP32 devices (rules: kiosk.core.ota).

An admin starts an update for chosen devices, or for every device of the image's kind that runs an older version.
Each device gets a job; jobs are ordered on `device/{id}/ota` while the device is online, within the rollout limit
(`ota.parallel` in flight, `ota.orders_per_minute`); offline devices wait and are ordered when they are heard from
again. Devices report on `device/{id}/progress`; a heartbeat with the new version also completes a job. Every firmware
version a device reports is kept in its firmware history.

Threads: `device_message` runs on the device worker for every accepted message (cheap unless the device has a job or
a new firmware version); `start_update` on the caller's thread; `tick` on the hub's ticker. One lock guards the jobs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from kiosk.core import ota as rules
from kiosk.core.devices import DeviceSnapshot, Online
from kiosk.core.operators import Operator, Role, require
from kiosk.core.ota import FirmwareError, ImageInfo, Job, JobState, RolloutLimit
from kiosk.core.words import plural
from kiosk.protocol.payloads import Heartbeat, OtaProgress, StatusReport, ota_order
from kiosk.protocol.topics import ota_topic
from kiosk.store.firmware import FirmwareStore

log = logging.getLogger(__name__)


def primary_address() -> str:
    """This machine's address on the network with the default route (no packet is sent); loopback without one."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: only picks the outgoing interface
            return str(probe.getsockname()[0])
        except OSError:
            return "127.0.0.1"


def download_base(bind: str, advertised_host: str, port: int) -> str:
    """Where devices download firmware: http://HOST:PORT of this hub's HTTP server (http.advertised_host, else the
    address it listens on, else this machine's address on the network)."""
    host = advertised_host or (bind if bind not in ("0.0.0.0", "::", "") else primary_address())
    return f"http://{host}:{port}"


class OtaService:
    def __init__(self, store: FirmwareStore, publish: Callable[[str, bytes], bool],
                 device: Callable[[str], DeviceSnapshot | None], devices: Callable[[], list[DeviceSnapshot]],
                 base_url: Callable[[], str | None], limit: RolloutLimit, clock: Callable[[], float] = time.time,
                 changed: Callable[[], None] = lambda: None) -> None:
        self.store = store
        self._publish = publish
        self._device = device
        self._devices = devices
        self._base_url = base_url
        self.limit = limit
        self._clock = clock
        self._changed = changed
        self._lock = threading.Lock()
        self._jobs: dict[int, Job] = {}
        self._image_of: dict[int, int | None] = {}
        self._job_of_device: dict[str, int] = {}
        self._orders: deque[float] = deque()  # when recent orders went out (the per-minute limit)
        self._versions: dict[str, str] = {}

    def load(self) -> None:
        with self._lock:
            for job, image_id in self.store.open_jobs():
                self._track(job, image_id)
            self._versions = self.store.last_versions()

    def _track(self, job: Job, image_id: int | None = None) -> None:
        if job.state.final:
            self._jobs.pop(job.id, None)
            self._image_of.pop(job.id, None)
            if self._job_of_device.get(job.device_id) == job.id:
                del self._job_of_device[job.device_id]
            return
        if job.id not in self._jobs:
            self._image_of[job.id] = image_id
        self._jobs[job.id] = job
        self._job_of_device[job.device_id] = job.id

    # --- from the admin -------------------------------------------------------------------------------------------

    def out_of_date(self, image: ImageInfo) -> list[DeviceSnapshot]:
        """Devices of the image's kind, not revoked, running an older (or unknown) version."""
        return [snap for snap in self._devices() if snap.kind == image.kind and not snap.revoked
                and rules.out_of_date(snap.firmware, image.version)]

    def start_update(self, by: Operator, image_id: int, device_ids: list[str] | None = None) -> list[Job]:
        """Update the given devices, or (None) every device of the image's kind that is out of date. Devices that
        already run this version or have an update under way are left out."""
        require(by, Role.ADMIN, "update firmware")
        image = self.store.image(image_id)
        if image is None:
            raise FirmwareError("That image no longer exists.")
        if self._base_url() is None:
            raise FirmwareError("The kiosk's HTTP server is off (http.port = 0): devices download images from it.")
        if device_ids is None:
            chosen = self.out_of_date(image)
        else:
            chosen = []
            for device_id in device_ids:
                snap = self._device(device_id)
                if snap is None or snap.revoked:
                    raise FirmwareError(f"Not a live device: {device_id}")
                if snap.kind != image.kind:
                    raise FirmwareError(f"{snap.name} is a {snap.kind} device; this image is for {image.kind}.")
                if snap.firmware != image.version:
                    chosen.append(snap)
        with self._lock:
            chosen = [snap for snap in chosen if snap.id not in self._job_of_device]
        if not chosen:
            raise FirmwareError("No device needs this image (all run it already, or are being updated).")
        jobs = self.store.create_jobs(by, image, [(snap.id, snap.firmware) for snap in chosen])
        with self._lock:
            for job in jobs:
                self._track(job, image.id)
        log.info("%s started updating %s to %s %s", by.name, plural(len(jobs), "device"), image.kind, image.version)
        self.pump()
        return jobs

    # --- the rollout ----------------------------------------------------------------------------------------------

    def pump(self) -> None:
        """Order pending jobs of online devices, within the rollout limit."""
        now = self._clock()
        changed: list[Job] = []
        base = self._base_url()
        with self._lock:
            while self._orders and now - self._orders[0] >= 60:
                self._orders.popleft()
            in_flight = sum(job.state in rules.IN_FLIGHT for job in self._jobs.values())
            for job in sorted(self._jobs.values(), key=lambda j: j.id):
                if job.state is not JobState.PENDING:
                    continue
                snap = self._device(job.device_id)
                if snap is None or snap.revoked:
                    new = Job(job.id, job.device_id, job.version, JobState.FAILED, job.created_at, now,
                              job.attempts, "the device was deleted or revoked", job.ordered_at)
                elif snap.online is not Online.ONLINE:
                    new = rules.postpone(job, now, "offline: ordered when it is back")
                elif not self.limit.may_order(in_flight, len(self._orders)):
                    new = rules.postpone(job, now, "waiting for its turn (rollout limit)")
                else:
                    new = self._order(job, now, base)
                    if new.state is JobState.ORDERED:
                        in_flight += 1
                        self._orders.append(now)
                if new is not job:
                    changed.append(new)
                    self._track(new)
        self._save(changed)

    def _order(self, job: Job, now: float, base: str | None) -> Job:
        image = self.store.image(self._image_of.get(job.id) or -1)
        if image is None:
            return Job(job.id, job.device_id, job.version, JobState.FAILED, job.created_at, now, job.attempts,
                       "the image was deleted", job.ordered_at)
        url = f"{base}/firmware/{image.sha256}.bin"
        payload = ota_order(job.id, image.version, url, image.size, image.sha256, image.signature)
        if base is None or not self._publish(ota_topic(job.device_id), payload):
            return rules.postpone(job, now, "the hub is not connected to the broker; will retry")
        return rules.order(job, now)

    def _save(self, changed: list[Job]) -> None:
        if changed:
            self.store.save_jobs(changed)
            self._changed()

    # --- from devices (device worker thread) ----------------------------------------------------------------------

    def device_message(self, device_id: str, message: Any, snap: DeviceSnapshot) -> None:
        firmware = snap.firmware
        if firmware is not None and self._versions.get(device_id) != firmware:
            self._firmware_changed(device_id, firmware)
        job_id = self._job_of_device.get(device_id)
        if job_id is None:
            return  # the hot path: nothing to follow for this device
        now = self._clock()
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return
            new = job
            if isinstance(message, OtaProgress):
                detail = message.detail
                if message.state == "downloading" and message.percent is not None and not detail:
                    detail = f"downloading, {message.percent:.0f} %"
                new = rules.progress(job, now, JobState(message.state), message.version, detail)
            elif isinstance(message, (Heartbeat, StatusReport)):
                new = rules.firmware_seen(job, now, firmware)
            if new is not job:
                self._track(new)
        if new is not job:
            if new.state is JobState.UPDATED:
                log.info("device %s updated to %s", device_id, new.version)
            elif new.state is JobState.FAILED:
                log.warning("update of device %s to %s failed: %s", device_id, new.version, new.detail)
            self._save([new])
            if new.state.final:
                self.pump()  # its place in the rollout is free
        elif job.state is JobState.PENDING and job.detail.startswith("offline"):
            self.pump()  # it is back: order it now rather than at the next tick

    def _firmware_changed(self, device_id: str, firmware: str) -> None:
        with self._lock:
            if self._versions.get(device_id) == firmware:
                return
            first = device_id not in self._versions
            self._versions[device_id] = firmware
            job = self._jobs.get(self._job_of_device.get(device_id, -1))
        source = "ota" if job is not None and job.version == firmware else "reported"
        self.store.record_firmware(device_id, firmware, self._clock(), source)
        if not first:
            log.info("device %s now runs firmware %s (%s)", device_id, firmware, source)

    def tick(self) -> None:
        now = self._clock()
        changed = []
        with self._lock:
            for job in list(self._jobs.values()):
                new = rules.tick(job, now)
                if new is not job:
                    changed.append(new)
                    self._track(new)
        self._save(changed)
        self.pump()

    def jobs_in_flight(self) -> int:
        with self._lock:
            return sum(job.state in rules.IN_FLIGHT for job in self._jobs.values())

    def open_jobs(self) -> int:
        with self._lock:
            return len(self._jobs)
