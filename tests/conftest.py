"""Shared fixtures: real SQLite files, the real embedded broker on a free loopback port, real paho clients."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

from kiosk.config import Config, load  # noqa: E402
from tests.helpers import RecordingEvents, free_port, wait_for  # noqa: E402

# Threads that live as long as the process and are not ours to join.
LONG_LIVED = ("pydevd",)


@pytest.fixture(autouse=True)
def no_thread_left_running() -> Iterator[None]:
    """STYLE 11: every thread a test starts is stopped and joined by the end of the test."""
    before = set(threading.enumerate())
    yield
    def leftovers() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t not in before and t.is_alive()
                and not t.name.startswith(LONG_LIVED)]
    try:
        wait_for(lambda: not leftovers(), timeout=5)
    except AssertionError:
        pytest.fail(f"threads left running: {[t.name for t in leftovers()]}")


@pytest.fixture
def config(tmp_path: Path) -> Config:
    """Settings for one test: its own data folder and free ports; no user file or environment is read.

    The broker runs on a thread here (fast to start); tests/integration/test_broker_process.py and the end-to-end
    tests run it as the product does, in a child process.
    """
    return load({"data_dir": str(tmp_path / "data"), "broker.port": free_port(), "http.port": free_port(),
                 "broker.bind": "127.0.0.1", "http.bind": "127.0.0.1", "broker.process": "thread"}, env={},
                config_dir=tmp_path / "config")


@pytest.fixture
def events() -> RecordingEvents:
    return RecordingEvents()


@pytest.fixture
def hub(config: Config, events: RecordingEvents) -> Iterator[object]:
    """The whole hub (database, writer, embedded broker, HTTP, device worker), started and stopped."""
    from kiosk.services.hub import Hub

    instance = Hub(config, events)
    instance.start()
    assert instance.link.connected.wait(5), "the device worker did not connect to the embedded broker"
    yield instance
    instance.stop()
