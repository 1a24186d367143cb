import logging
import threading

import pytest

from kiosk.services.ticker import Job, Ticker


def test_each_job_runs_on_its_own_period_and_offset() -> None:
    runs: list[tuple[int, str]] = []
    ticker = Ticker([], threading.Event())
    ticker.jobs = (Job("each", lambda: runs.append((ticker.ticks, "each"))),
                   Job("fifth", lambda: runs.append((ticker.ticks, "fifth")), 5),
                   Job("late", lambda: runs.append((ticker.ticks, "late")), 10, offset=3))
    for _ in range(13):
        ticker.tick()
    assert [t for t, name in runs if name == "each"] == list(range(1, 14))
    assert [t for t, name in runs if name == "fifth"] == [5, 10]
    assert [t for t, name in runs if name == "late"] == [3, 13]


def test_a_failing_job_is_counted_and_logged_once_and_the_later_jobs_still_run(
        caplog: pytest.LogCaptureFixture) -> None:
    """Before the ticker had jobs, one exception (say in the stalls' tick) skipped every later step of that second,
    the status to the screens included, every second it kept failing."""
    now = [0.0]
    statuses = []

    def broken() -> None:
        raise RuntimeError("the stalls' tick broke")

    ticker = Ticker([Job("stalls", broken), Job("status", lambda: statuses.append(1))], threading.Event(),
                    clock=lambda: now[0])
    with caplog.at_level(logging.ERROR, "kiosk.services.ticker"):
        for _ in range(30):
            ticker.tick()
            now[0] += 1.0
    assert len(statuses) == 30
    assert ticker.failures == {"stalls": 30}
    assert len(caplog.records) == 1 and "stalls job failed" in caplog.records[0].getMessage()
    assert caplog.records[0].exc_info is not None
    now[0] += 60
    with caplog.at_level(logging.ERROR, "kiosk.services.ticker"):
        ticker.tick()
    assert len(caplog.records) == 2 and "31 times" in caplog.records[1].getMessage()


def test_the_thread_ticks_until_stopped() -> None:
    stop = threading.Event()
    ticked = threading.Event()
    ticker = Ticker([Job("mark", ticked.set)], stop, period_s=0.01)
    ticker.start()
    assert ticked.wait(5)
    stop.set()
    ticker.join(5)
    assert ticker._thread is not None and not ticker._thread.is_alive()
