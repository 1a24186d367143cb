"""What an admin may do to devices, with the role checked here, where it is done (not only by the screen's buttons).

Every method takes the operator who acts; a staff operator gets PermissionError before anything is read or changed.
The store writes the audit row in the same transaction as the change (who, what, when, why). The hub is told so
that live state follows at once: a revoked or rotated device's session is dropped, a deleted device leaves the views.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from kiosk.core.devices import KINDS, SCREEN_KINDS, DeviceInfo, ProvisionedDevice, provisioning_text
from kiosk.core.operators import Operator, Role, require
from kiosk.core.words import shown
from kiosk.protocol.answers import SettingRow
from kiosk.store.devices import DeviceRegistry

log = logging.getLogger(__name__)

MAX_NAME = 120


class AdminInputError(ValueError):
    """An admin's input that cannot be used; the message says why, in words for the screen."""


def check_device_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise AdminInputError("Give the device a name people will recognise, e.g. \"Stall W-2\".")
    if len(name) > MAX_NAME:
        raise AdminInputError(f"A device name is at most {MAX_NAME} characters.")
    return name


def check_kind(kind: str) -> str:
    if kind not in KINDS + SCREEN_KINDS:
        raise AdminInputError(f"The kind must be one of {', '.join(KINDS + SCREEN_KINDS)}.")
    return kind


def check_expiry(expires_at: float | None, now: float) -> float | None:
    if expires_at is not None and expires_at <= now:
        raise AdminInputError("The expiry must be in the future.")
    return expires_at


class DeviceAdmin:
    """Device registry operations for the admin tab (and tests); `hub` supplies live effects."""

    def __init__(self, registry: DeviceRegistry, added: Callable[[DeviceInfo], None],
                 revoked: Callable[[str], None], removed: Callable[[str], None],
                 broker_address: Callable[[], tuple[str, int]], clock: Callable[[], float] = time.time,
                 hub_url: Callable[[], str | None] = lambda: None) -> None:
        self._registry = registry
        self._hub_url = hub_url  # where a desk station reaches the hub's API
        self._added = added
        self._revoked = revoked
        self._removed = removed
        self._broker_address = broker_address
        self._clock = clock

    def create(self, by: Operator, name: str, kind: str, expires_at: float | None = None,
               organization: str = "default") -> ProvisionedDevice:
        require(by, Role.ADMIN, "add devices")
        name, kind = check_device_name(name), check_kind(kind)
        info, token = self._registry.create(name, kind, by.name, organization,
                                            check_expiry(expires_at, self._clock()))
        self._added(info)
        log.info("%s added device %s (%s, %s)", by.name, info.id, name, kind)
        host, port = self._broker_address()
        return ProvisionedDevice(info, token, host, port, self._station_url(kind))

    def provisioning_text(self, device_id: str, token: str) -> str:
        host, port = self._broker_address()
        info = self._registry.get(device_id)
        return provisioning_text(device_id, token, host, port, self._station_url(info.kind if info else ""))

    def _station_url(self, kind: str) -> str:
        return (self._hub_url() or "") if kind == "station" else ""

    def rotate(self, by: Operator, device_id: str, expires_at: float | None = None, reason: str = "") -> str:
        """A new token; the old one stops working and the device's live session is dropped."""
        require(by, Role.ADMIN, "rotate device tokens")
        token = self._registry.rotate(device_id, by.name, check_expiry(expires_at, self._clock()), reason)
        self._revoked(device_id)
        log.info("%s rotated the token of device %s", by.name, device_id)
        return token

    def revoke(self, by: Operator, device_id: str, reason: str = "") -> None:
        require(by, Role.ADMIN, "revoke devices")
        self._registry.revoke(device_id, by.name, reason)
        self._revoked(device_id)
        log.info("%s revoked device %s", by.name, device_id)

    def repair_legacy(self, by: Operator, device_id: str) -> None:
        """A StallSense board moved to another address: its next login is admitted from wherever it comes."""
        require(by, Role.ADMIN, "re-pair StallSense boards")
        self._registry.repair_legacy(device_id, by.name)
        log.info("%s re-paired StallSense board %s", by.name, device_id)

    def set_expiry(self, by: Operator, device_id: str, expires_at: float | None) -> None:
        require(by, Role.ADMIN, "change token expiry")
        self._registry.set_expiry(device_id, check_expiry(expires_at, self._clock()), by.name)
        self._revoked(device_id)  # an expiry in the past is refused above; the sweep re-checks live sessions

    def delete(self, by: Operator, device_id: str, keep_history: bool, reason: str = "",
               progress: Callable[[int], None] = lambda rows: None) -> int:
        """Delete a device: with its history kept (readings, ports, energy graphs stay) or removed (in chunks;
        may take a while for a device with years of readings: call it off the GUI thread). Returns rows removed."""
        require(by, Role.ADMIN, "delete devices")
        if keep_history:
            self._registry.retire(device_id, by.name, reason)
            removed = 0
        else:
            self._registry.retire(device_id, by.name, reason or "removing its history")
            self._removed(device_id)  # gone from live views before the (possibly long) purge
            removed = self._registry.purge(device_id, by.name, reason, progress=progress)
        self._removed(device_id)
        log.info("%s deleted device %s (%s)", by.name, device_id,
                 "history kept" if keep_history else f"{removed} rows of history removed")
        return removed


class RuntimeSettings:
    """The settings an admin may change while the kiosk runs (kiosk.config `runtime=True`): validated like the
    file's, saved to runtime.toml, audited (old -> new), and applied to the running hub at once."""

    def __init__(self, config: Any, apply: Callable[[str, Any], None], audit: Callable[[str, str, str, str], None]) \
            -> None:
        self._config = config
        self._apply = apply
        self._audit = audit

    def current(self) -> list[SettingRow]:
        """Each run-time setting: its value, where it comes from, whether it may be changed from a screen."""
        from kiosk.config import runtime_settings

        rows = []
        for setting in runtime_settings():
            source = self._config.source(setting.key)
            fixed = source.startswith("env") or source == "command line"
            rows.append(SettingRow(setting.key, self._config[setting.key], source, not fixed))
        return rows

    def change(self, by: Operator, changes: dict[str, Any]) -> dict[str, Any]:
        """Validate every change first (nothing is saved if one is wrong), then save, audit and apply them."""
        from kiosk.config import ConfigError, Value, save_runtime, setting

        require(by, Role.ADMIN, "change settings")
        editable = {row.key: row.editable for row in self.current()}
        parsed: dict[str, Any] = {}
        problems = []
        for key, raw in changes.items():
            if key not in editable:
                problems.append(f"{key} cannot be changed while the kiosk runs")
                continue
            if not editable[key]:
                problems.append(f"{key} is set by {self._config.source(key)}: change it there")
                continue
            try:
                parsed[key] = setting(key).parse(raw)
            except ConfigError as exc:
                problems.append(str(exc))
        if problems:
            raise AdminInputError("; ".join(problems))
        changed = {key: value for key, value in parsed.items() if value != self._config[key]}
        if not changed:
            return {}
        path = save_runtime(self._config.config_dir, changed)
        for key, value in changed.items():
            before = self._config[key]
            self._config.values[key] = Value(value, f"admin tab ({path})")
            self._audit(by.name, "setting.change", key, f"{shown(before)} -> {shown(value)}")
            self._apply(key, value)
            log.info("%s changed %s from %r to %r", by.name, key, before, value)
        return changed
