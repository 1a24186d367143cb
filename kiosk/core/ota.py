"""Over-the-air firmware updates, pure rules: versions, who is out of date, each device's update job, the rollout's
rate limit. Time is passed in, so retries and expiry are tested without waiting.

A job's life:
    pending  -> the device is offline, or the rollout is at its limit: ordered when possible (retried)
    ordered  -> the order went out on device/{id}/ota; the device reports its progress on device/{id}/progress
    downloading -> verified -> updating -> updated       (the device's own reports)
    failed   (the device says why: a wrong SHA-256 or signature, no space, ...), or the kiosk gives up: no progress
             after ORDER_TIMEOUT_S, MAX_ATTEMPTS times; or the device stayed offline for PENDING_LIMIT_S.
A heartbeat reporting the target version also completes a job (a device that rebooted before it could report).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import Enum

ORDER_TIMEOUT_S = 300.0  # an ordered job without any report is ordered again
MAX_ATTEMPTS = 3
PENDING_LIMIT_S = 7 * 86400.0  # an offline device is retried for a week
VERSION = re.compile(r"^\d+(\.\d+){0,3}([-+][0-9A-Za-z.-]{1,20})?$")
ESP32_IMAGE_MAGIC = 0xE9  # the first byte of every ESP32 application image
MAX_IMAGE_BYTES = 16 * 1024 * 1024


class JobState(str, Enum):
    PENDING = "pending"
    ORDERED = "ordered"
    DOWNLOADING = "downloading"
    VERIFIED = "verified"
    UPDATING = "updating"
    UPDATED = "updated"
    FAILED = "failed"

    @property
    def final(self) -> bool:
        return self in (JobState.UPDATED, JobState.FAILED)


DEVICE_STATES = (JobState.DOWNLOADING, JobState.VERIFIED, JobState.UPDATING, JobState.UPDATED, JobState.FAILED)
IN_FLIGHT = (JobState.ORDERED, JobState.DOWNLOADING, JobState.VERIFIED, JobState.UPDATING)


class FirmwareError(ValueError):
    """An image or an update that cannot be accepted; the message says why."""


def check_version(version: str) -> str:
    version = version.strip()
    if not VERSION.match(version):
        raise FirmwareError("A version looks like 1.4.2 (up to four numbers, optionally -beta.1).")
    return version


def version_key(version: str | None) -> tuple[tuple[int, ...], int, str]:
    """Sort key: numbers compared as numbers; a pre-release (1.4.0-rc1) comes before its release."""
    if not version:
        return ((), 0, "")
    match = re.match(r"^v?(\d+(?:\.\d+)*)(.*)$", version.strip())
    if not match:
        return ((), 0, version)
    numbers = tuple(int(part) for part in match.group(1).split("."))
    numbers = numbers + (0,) * (4 - len(numbers))
    suffix = match.group(2)
    return (numbers, 0 if suffix.startswith("-") else 1, suffix)


def out_of_date(running: str | None, available: str) -> bool:
    """Whether a device running `running` (None: unknown) should get `available`."""
    return running is None or version_key(running) < version_key(available)


def check_image(kind: str, data: bytes) -> None:
    if not data:
        raise FirmwareError("The file is empty.")
    if len(data) > MAX_IMAGE_BYTES:
        raise FirmwareError(f"The image is {len(data):,} bytes; the limit is {MAX_IMAGE_BYTES:,}.")
    if kind == "esp32" and data[0] != ESP32_IMAGE_MAGIC:
        raise FirmwareError("This is not an ESP32 application image (it does not start with 0xE9): upload the "
                            ".bin that the build writes for OTA, not an .elf or a merged flash image.")


@dataclass(frozen=True)
class Job:
    id: int
    device_id: str
    version: str
    state: JobState
    created_at: float
    updated_at: float
    attempts: int = 0
    detail: str = ""
    ordered_at: float | None = None


def order(job: Job, now: float) -> Job:
    return replace(job, state=JobState.ORDERED, updated_at=now, attempts=job.attempts + 1, ordered_at=now,
                   detail=f"order sent (attempt {job.attempts + 1} of {MAX_ATTEMPTS})")


def postpone(job: Job, now: float, why: str) -> Job:
    """The order could not go out now (offline, rate limit): pending, tried again later."""
    if job.detail == why and job.state is JobState.PENDING:
        return job
    return replace(job, state=JobState.PENDING, updated_at=now, detail=why)


def progress(job: Job, now: float, state: JobState, version: str | None, detail: str = "") -> Job:
    """A report from the device. Reports about another version, or after the job ended, change nothing."""
    if job.state.final or state not in DEVICE_STATES or (version is not None and version != job.version):
        return job
    if job.state is JobState.PENDING and state is not JobState.UPDATED:
        return job  # a late report about an earlier order that was then postponed
    default = {JobState.DOWNLOADING: "downloading", JobState.VERIFIED: "SHA-256 and signature verified",
               JobState.UPDATING: "writing and rebooting", JobState.UPDATED: f"running {job.version}",
               JobState.FAILED: "the device gave up"}[state]
    return replace(job, state=state, updated_at=now, detail=detail or default)


def firmware_seen(job: Job, now: float, running: str | None) -> Job:
    """A heartbeat's firmware version: the target version means the update took, whatever was reported."""
    if job.state.final or running is None or running != job.version:
        return job
    return replace(job, state=JobState.UPDATED, updated_at=now, detail=f"running {job.version}")


def tick(job: Job, now: float) -> Job:
    """Give up on silent orders (retry up to MAX_ATTEMPTS) and on devices offline for too long."""
    if job.state is JobState.ORDERED and job.ordered_at is not None and now - job.ordered_at >= ORDER_TIMEOUT_S:
        if job.attempts >= MAX_ATTEMPTS:
            return replace(job, state=JobState.FAILED, updated_at=now,
                           detail=f"no answer to {job.attempts} orders")
        return replace(job, state=JobState.PENDING, updated_at=now, detail="no answer to the order; will retry")
    if job.state is JobState.PENDING and now - job.created_at >= PENDING_LIMIT_S:
        return replace(job, state=JobState.FAILED, updated_at=now, detail="the device stayed offline")
    return job


@dataclass(frozen=True)
class RolloutLimit:
    """At most `parallel` updates in flight, and at most `per_minute` new orders in any minute."""

    parallel: int = 3
    per_minute: int = 6

    def may_order(self, in_flight: int, ordered_last_minute: int) -> bool:
        return in_flight < self.parallel and ordered_last_minute < self.per_minute


@dataclass(frozen=True)
class ImageInfo:
    id: int
    kind: str
    version: str
    filename: str
    size: int
    sha256: str
    signature: str
    uploaded_at: float
    uploaded_by: str
