"""OTA rules with injected time: versions, who is out of date, a job's life, retries, the rollout limit."""

import pytest

from kiosk.core.ota import (
    MAX_ATTEMPTS,
    ORDER_TIMEOUT_S,
    PENDING_LIMIT_S,
    FirmwareError,
    Job,
    JobState,
    RolloutLimit,
    check_image,
    check_version,
    firmware_seen,
    order,
    out_of_date,
    postpone,
    progress,
    tick,
    version_key,
)

T0 = 1_800_000_000.0


def test_versions_compare_as_numbers_and_pre_releases_come_first() -> None:
    ordered = ["0.9.4", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.2", "1.10.0"]
    assert sorted(reversed(ordered), key=version_key) == ordered
    assert out_of_date(None, "1.0.0") and out_of_date("0.9.4", "1.0.0") and not out_of_date("1.10.0", "1.2")
    assert check_version(" 1.4.2-rc.1 ") == "1.4.2-rc.1"
    with pytest.raises(FirmwareError):
        check_version("latest")


def test_images_are_checked() -> None:
    check_image("esp32", bytes([0xE9, 1, 2]))
    check_image("energy", b"\x00 any bytes")
    for data in (b"", b"\x7fELF..."):
        with pytest.raises(FirmwareError):
            check_image("esp32", data)


def test_a_job_follows_the_devices_reports_and_ignores_other_versions() -> None:
    job = order(Job(1, "d", "1.1.0", JobState.PENDING, T0, T0), T0 + 1)
    assert job.state is JobState.ORDERED and job.attempts == 1
    assert progress(job, T0 + 2, JobState.DOWNLOADING, "1.0.9") is job  # about another version
    job = progress(job, T0 + 2, JobState.DOWNLOADING, "1.1.0")
    job = progress(job, T0 + 3, JobState.FAILED, "1.1.0", "SHA-256 mismatch")
    assert job.state is JobState.FAILED and job.detail == "SHA-256 mismatch"
    assert progress(job, T0 + 4, JobState.UPDATED, "1.1.0") is job  # ended
    seen = firmware_seen(order(Job(2, "d", "1.1.0", JobState.PENDING, T0, T0), T0), T0 + 5, "1.1.0")
    assert seen.state is JobState.UPDATED


def test_silent_orders_are_retried_then_fail_and_offline_devices_are_given_up_after_a_week() -> None:
    job = Job(1, "d", "1.1.0", JobState.PENDING, T0, T0)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        job = order(job, T0 + attempt * 1000)
        job = tick(job, T0 + attempt * 1000 + ORDER_TIMEOUT_S)
    assert job.state is JobState.FAILED and job.detail == f"no answer to {MAX_ATTEMPTS} orders"
    waiting = postpone(Job(2, "d", "1.1.0", JobState.PENDING, T0, T0), T0, "offline")
    assert tick(waiting, T0 + PENDING_LIMIT_S - 1).state is JobState.PENDING
    assert tick(waiting, T0 + PENDING_LIMIT_S).detail == "the device stayed offline"


def test_the_rollout_limit() -> None:
    limit = RolloutLimit(parallel=2, per_minute=3)
    assert limit.may_order(1, 2) and not limit.may_order(2, 0) and not limit.may_order(0, 3)
