"""Device administration through the real hub: each operation checks the role where it is done, writes one audit row
naming the operator, and takes effect on the live side (sessions dropped, devices gone from the views)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from kiosk.core.operators import Operator, Role
from kiosk.services.admin import AdminInputError, DeviceAdmin
from kiosk.store.models import AuditEntry, DeviceLog, EnergyReading, Port
from tests.helpers import connect, wait_for

ADMIN = Operator("ada", Role.ADMIN)
STAFF = Operator("sam", Role.STAFF)


def audit(hub: Any) -> list[tuple[str, str, str]]:
    return [(a.actor, a.action, a.target) for a in hub.registry.audit()]


def test_create_returns_the_token_once_with_a_qr_payload_and_the_device_can_log_in(hub: Any, events: Any) -> None:
    admin = hub.device_admin
    made = admin.create(ADMIN, "  Stall W-2 ", "stall")
    assert made.info.name == "Stall W-2"
    qr = json.loads(made.qr_text())
    assert qr == {"deviceId": made.info.id, "token": made.token, "host": "127.0.0.1",
                  "port": hub.config["broker.port"]}
    wait_for(lambda: made.info.id in events.devices)  # in the live views at once, before it ever connects
    device = connect(hub.config["broker.port"], made.info.id, made.token)
    assert device.rc == 0
    device.close()
    assert ("ada", "device.create", made.info.id) in audit(hub)


@pytest.mark.parametrize("operation", ["create", "rotate", "revoke", "expiry", "delete", "purge"])
def test_staff_are_refused_before_anything_changes(hub: Any, operation: str) -> None:
    admin = hub.device_admin
    made = admin.create(ADMIN, "Meter", "energy")
    before = audit(hub)
    calls = {"create": lambda: admin.create(STAFF, "X", "stall"),
             "rotate": lambda: admin.rotate(STAFF, made.info.id),
             "revoke": lambda: admin.revoke(STAFF, made.info.id),
             "expiry": lambda: admin.set_expiry(STAFF, made.info.id, time.time() + 3600),
             "delete": lambda: admin.delete(STAFF, made.info.id, keep_history=True),
             "purge": lambda: admin.delete(STAFF, made.info.id, keep_history=False)}
    with pytest.raises(PermissionError, match="Only an admin"):
        calls[operation]()
    assert audit(hub) == before
    assert hub.registry.check(made.info.id, made.token).device is not None


def test_rotate_drops_the_live_session_and_only_the_new_token_works(hub: Any) -> None:
    admin = hub.device_admin
    made = admin.create(ADMIN, "ESP32 hall", "esp32")
    device = connect(hub.config["broker.port"], made.info.id, made.token)
    token = admin.rotate(ADMIN, made.info.id)
    assert device.disconnected.wait(3), "the session with the old token is still connected"
    device.close()
    assert hub.registry.check(made.info.id, made.token).failure is not None
    assert hub.registry.check(made.info.id, token).device is not None
    assert ("ada", "device.token.rotate", made.info.id) in audit(hub)


def test_revoke_drops_the_session(hub: Any) -> None:
    admin = hub.device_admin
    made = admin.create(ADMIN, "ESP32 hall", "esp32")
    device = connect(hub.config["broker.port"], made.info.id, made.token)
    admin.revoke(ADMIN, made.info.id)
    assert device.disconnected.wait(3)
    device.close()
    assert ("ada", "device.revoke", made.info.id) in audit(hub)


def test_expiry_is_set_changed_and_refused_in_the_past(hub: Any) -> None:
    admin = hub.device_admin
    made = admin.create(ADMIN, "Meter", "energy")
    later = time.time() + 86400
    admin.set_expiry(ADMIN, made.info.id, later)
    assert hub.registry.token_expiry()[made.info.id] == pytest.approx(later)
    admin.set_expiry(ADMIN, made.info.id, None)
    assert hub.registry.token_expiry()[made.info.id] is None
    with pytest.raises(AdminInputError, match="future"):
        admin.set_expiry(ADMIN, made.info.id, time.time() - 1)
    assert [a for a in audit(hub) if a[1] == "device.token.expiry"] == [("ada", "device.token.expiry",
                                                                         made.info.id)] * 2


def test_bad_input_is_refused_with_a_reason(hub: Any) -> None:
    admin = hub.device_admin
    with pytest.raises(AdminInputError, match="name"):
        admin.create(ADMIN, "   ", "stall")
    with pytest.raises(AdminInputError, match="kind"):
        admin.create(ADMIN, "Lamp", "toaster")


def _with_history(hub: Any, admin: DeviceAdmin) -> Any:
    made = admin.create(ADMIN, "Meter A", "energy")
    device = connect(hub.config["broker.port"], made.info.id, made.token)
    for watts in (100.0, 101.0, 102.0):
        device.publish(f"devices/{made.info.id}/datastream",
                              json.dumps({"port": "lamp", "voltage": 230.0, "current": watts / 230, "power": watts}))
    device.publish(f"device/{made.info.id}/logs", "booted")
    wait_for(lambda: hub.registry.device_logs(made.info.id) and _count(hub, EnergyReading, made.info.id) == 3)
    return made, device


def _count(hub: Any, model: Any, device_id: str) -> int:
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    with Session(hub.engine) as session:
        return session.scalar(select(func.count()).select_from(model).where(model.device_id == device_id)) or 0


def test_delete_keeping_history_hides_the_device_but_keeps_its_readings_and_ports(hub: Any, events: Any) -> None:
    admin = hub.device_admin
    made, device = _with_history(hub, admin)
    assert admin.delete(ADMIN, made.info.id, keep_history=True, reason="moved to branch") == 0
    assert device.disconnected.wait(3)
    device.close()
    wait_for(lambda: made.info.id in events.removed)
    assert made.info.id not in [d.id for d in hub.registry.snapshots(60)]
    assert hub.registry.get(made.info.id) is None
    assert hub.registry.check(made.info.id, made.token).failure is not None
    assert _count(hub, EnergyReading, made.info.id) == 3
    assert _count(hub, Port, made.info.id) == 1
    entry = [a for a in hub.registry.audit() if a.action == "device.delete"][-1]
    assert (entry.actor, entry.target) == ("ada", made.info.id)
    assert "history kept" in entry.detail and "moved to branch" in entry.detail


def test_delete_removing_history_removes_every_row_in_chunks_with_progress(hub: Any, events: Any) -> None:
    admin = hub.device_admin
    made, device = _with_history(hub, admin)
    hub.writer.flush()
    progress: list[int] = []
    hub.registry.retire(made.info.id, "ada")  # as delete() does first, so the purge below runs alone
    hub.device_removed(made.info.id)
    device.close()
    removed = hub.registry.purge(made.info.id, "ada", chunk=2, progress=progress.append)
    assert removed >= 5  # 3 readings, 1 log line, rollups
    assert progress == sorted(progress) and progress[-1] == removed
    for model in (EnergyReading, DeviceLog, Port):
        assert _count(hub, model, made.info.id) == 0
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    with Session(hub.engine) as session:
        assert session.scalar(select(AuditEntry).where(AuditEntry.action == "device.purge")).actor == "ada"


def test_run_time_settings_need_an_admin_refuse_env_set_keys_and_validate_all_first(tmp_path: Any) -> None:
    from kiosk.config import load
    from kiosk.services.admin import RuntimeSettings

    config = load(env={"KIOSK_OTA_PARALLEL": "5"}, config_dir=tmp_path)
    applied: list[tuple[str, Any]] = []
    audited: list[tuple] = []
    runtime = RuntimeSettings(config, lambda key, value: applied.append((key, value)),
                              lambda *row: audited.append(row))
    rows = {row.key: (row.value, row.source, row.editable) for row in runtime.current()}
    assert rows["ota.parallel"] == (5, "env KIOSK_OTA_PARALLEL", False)
    with pytest.raises(PermissionError):
        runtime.change(STAFF, {"energy.tariff_per_kwh": "0.2"})
    with pytest.raises(AdminInputError) as refused:
        runtime.change(ADMIN, {"energy.tariff_per_kwh": "0.2", "ota.parallel": 2, "admin.idle_lock_s": 5,
                               "broker.port": 1})
    text = str(refused.value)
    assert "set by env KIOSK_OTA_PARALLEL" in text and "below the minimum" in text and "broker.port" in text
    assert applied == [] and audited == [] and not (tmp_path / "runtime.toml").exists()
    assert runtime.change(ADMIN, {"energy.tariff_per_kwh": "0.2", "admin.idle_lock_s": 300}) == {
        "energy.tariff_per_kwh": 0.2}  # the idle lock was already 300: not a change
    assert applied == [("energy.tariff_per_kwh", 0.2)]
    assert audited == [("ada", "setting.change", "energy.tariff_per_kwh", "0.15 -> 0.2")]
