"""Retention: old raw energy readings, minute rollups and device log lines deleted hourly, on a short-lived thread of
its own (a first run may delete millions of rows), in small steps that let the store writer in between."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


class Retention:
    def __init__(self, config: Any, energy_store: Any, registry: Any, stop: threading.Event,
                 clock: Callable[[], float]) -> None:
        self._config = config  # energy.raw_retention_days, energy.minute_retention_days (0: keep for ever)
        self._energy_store = energy_store  # kiosk.store.energy.EnergyStore
        self._registry = registry  # kiosk.store.devices.DeviceRegistry (device log lines)
        self._stop = stop  # set when the hub stops: a long run pauses between steps and ends
        self._clock = clock
        self._thread: threading.Thread | None = None

    def run_soon(self) -> None:
        """Start a run unless one is still going."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._thread = threading.Thread(target=self._run, name="energy-retention", daemon=True)
        self._thread.start()

    def join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        now = self._clock()
        raw_days = self._config.energy.raw_retention_days
        minute_days = self._config.energy.minute_retention_days
        try:
            raw, minutes = self._energy_store.prune(now - raw_days * 86400 if raw_days else None,
                                                    now - minute_days * 86400 if minute_days else None,
                                                    pause=lambda: self._stop.wait(0.05))
        except Exception:
            log.exception("energy retention failed; it runs again in an hour")
            return
        if raw or minutes:
            log.info("energy retention: deleted %d raw readings and %d minute rollups", raw, minutes)
        try:
            lines = self._registry.prune_logs()
        except Exception:
            log.exception("device log retention failed; it runs again in an hour")
            return
        if lines:
            log.info("device logs: deleted %d old lines (each device keeps its newest 1,000)", lines)
