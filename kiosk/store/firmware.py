"""Firmware images (bytes in the data folder's firmware/, named by their SHA-256), OTA jobs and each device's
firmware history. Uploads and deletions need an admin and are audited."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kiosk.core.devices import KINDS
from kiosk.core.operators import Operator, Role, require
from kiosk.core.ota import FirmwareError, ImageInfo, Job, JobState, check_image, check_version, version_key
from kiosk.core.words import plural
from kiosk.store.devices import write_audit
from kiosk.store.models import FirmwareHistory, FirmwareImage, OtaJob
from kiosk.store.site_key import SiteKey

FIRMWARE_DIR = "firmware"
OPEN_JOB_STATES = tuple(state.value for state in JobState if not state.final)


class FirmwareStore:
    def __init__(self, engine: Engine, data_dir: Path, key: SiteKey, clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self.directory = Path(data_dir) / FIRMWARE_DIR
        self.key = key
        self._clock = clock

    def _session(self) -> Session:
        return Session(self._engine, expire_on_commit=False)

    # --- images ---------------------------------------------------------------------------------------------------

    def upload(self, by: Operator, kind: str, version: str, filename: str, data: bytes) -> ImageInfo:
        """Store an image, its SHA-256 and the site key's signature over that digest."""
        require(by, Role.ADMIN, "upload firmware")
        if kind not in KINDS:
            raise FirmwareError(f"The device kind must be one of {', '.join(KINDS)}.")
        version = check_version(version)
        check_image(kind, data)
        digest = hashlib.sha256(data).digest()
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.path(digest.hex())
        if not path.exists():
            temporary = path.with_suffix(".part")
            with open(temporary, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        now = self._clock()
        row = FirmwareImage(kind=kind, version=version, filename=Path(filename).name[:200] or "firmware.bin",
                            size=len(data), sha256=digest.hex(), signature=self.key.sign(digest).hex(),
                            uploaded_at=now, uploaded_by=by.name)
        try:
            with self._session() as session, session.begin():
                session.add(row)
                session.flush()
                write_audit(session, now, by.name, "firmware.upload", f"{kind} {version}",
                            f"{row.filename}, {len(data):,} bytes, sha256 {digest.hex()}")
        except IntegrityError:
            raise FirmwareError(f"There is already a {kind} image with version {version}: delete it first, or "
                                "give this one a new version.") from None
        return _image(row)

    def images(self) -> list[ImageInfo]:
        """By kind, the newest version first."""
        with self._session() as session:
            images = [_image(row) for row in session.scalars(select(FirmwareImage))]
        return sorted(images, key=lambda i: (i.kind, tuple(-n for n in version_key(i.version)[0]),
                                             -version_key(i.version)[1], i.version))

    def image(self, image_id: int) -> ImageInfo | None:
        with self._session() as session:
            row = session.get(FirmwareImage, image_id)
            return _image(row) if row is not None else None

    def by_sha256(self, sha256: str) -> ImageInfo | None:
        with self._session() as session:
            row = session.scalar(select(FirmwareImage).where(FirmwareImage.sha256 == sha256).limit(1))
            return _image(row) if row is not None else None

    def path(self, sha256: str) -> Path:
        return self.directory / f"{sha256}.bin"

    def delete(self, by: Operator, image_id: int) -> None:
        require(by, Role.ADMIN, "delete firmware")
        with self._session() as session, session.begin():
            row = session.get(FirmwareImage, image_id)
            if row is None:
                raise FirmwareError("That image no longer exists.")
            busy = session.scalar(select(OtaJob.id).where(OtaJob.image_id == image_id,
                                                         OtaJob.state.in_(OPEN_JOB_STATES)).limit(1))
            if busy is not None:
                raise FirmwareError("Devices are being updated to this image: wait until the rollout ends.")
            sha256, kind, version = row.sha256, row.kind, row.version
            session.delete(row)
            shared = session.scalar(select(FirmwareImage.id).where(FirmwareImage.sha256 == sha256).limit(1))
            write_audit(session, self._clock(), by.name, "firmware.delete", f"{kind} {version}", f"sha256 {sha256}")
        if shared is None:
            self.path(sha256).unlink(missing_ok=True)

    # --- jobs -----------------------------------------------------------------------------------------------------

    def create_jobs(self, by: Operator, image: ImageInfo, devices: list[tuple[str, str | None]]) -> list[Job]:
        """A pending job per (device id, running version); audited as one rollout."""
        require(by, Role.ADMIN, "update firmware")
        now = self._clock()
        rows = [OtaJob(device_id=device_id, image_id=image.id, version=image.version, from_version=running,
                       state=JobState.PENDING.value, created_at=now, updated_at=now, attempts=0,
                       detail="waiting for its turn", actor=by.name) for device_id, running in devices]
        with self._session() as session, session.begin():
            session.add_all(rows)
            session.flush()
            write_audit(session, now, by.name, "firmware.rollout", f"{image.kind} {image.version}",
                        f"{plural(len(rows), 'device')}: " + ", ".join(device_id for device_id, _ in devices[:20]))
        return [_job(row) for row in rows]

    def save_jobs(self, jobs: list[Job]) -> None:
        if not jobs:
            return
        with self._session() as session, session.begin():
            for job in jobs:
                row = session.get(OtaJob, job.id)
                if row is not None:
                    row.state, row.updated_at, row.attempts = job.state.value, job.updated_at, job.attempts
                    row.detail, row.ordered_at = job.detail[:300], job.ordered_at

    def open_jobs(self) -> list[tuple[Job, int | None]]:
        """Jobs not finished, with their image id (None if the image was deleted)."""
        with self._session() as session:
            return [(_job(row), row.image_id) for row in session.scalars(
                select(OtaJob).where(OtaJob.state.in_(OPEN_JOB_STATES)).order_by(OtaJob.id))]

    def recent_jobs(self, limit: int = 300) -> list[tuple[Job, str | None, str]]:
        """Newest first: (job, the version it came from, who started it)."""
        with self._session() as session:
            return [(_job(row), row.from_version, row.actor) for row in session.scalars(
                select(OtaJob).order_by(OtaJob.id.desc()).limit(limit))]

    # --- history --------------------------------------------------------------------------------------------------

    def record_firmware(self, device_id: str, version: str, at: float, source: str) -> None:
        with self._session() as session, session.begin():
            session.add(FirmwareHistory(device_id=device_id, version=version[:64], at=at, source=source))

    def history(self, device_id: str) -> list[tuple[float, str, str]]:
        """(when, version, how: reported / ota), newest first."""
        with self._session() as session:
            return [(row.at, row.version, row.source) for row in session.scalars(
                select(FirmwareHistory).where(FirmwareHistory.device_id == device_id)
                .order_by(FirmwareHistory.at.desc()))]

    def last_versions(self) -> dict[str, str]:
        """Each device's newest firmware in the history (to notice a change after a restart)."""
        with self._session() as session:
            latest: dict[str, tuple[float, str]] = {}
            for device_id, at, version in session.execute(
                    select(FirmwareHistory.device_id, FirmwareHistory.at, FirmwareHistory.version)):
                if device_id not in latest or at >= latest[device_id][0]:
                    latest[device_id] = (at, version)
            return {device_id: version for device_id, (_, version) in latest.items()}


def _image(row: FirmwareImage) -> ImageInfo:
    return ImageInfo(row.id, row.kind, row.version, row.filename, row.size, row.sha256, row.signature,
                     row.uploaded_at, row.uploaded_by)


def _job(row: OtaJob) -> Job:
    return Job(row.id, row.device_id, row.version, JobState(row.state), row.created_at, row.updated_at,
               row.attempts, row.detail, row.ordered_at)
