"""The Admin tab with a real hub behind it: first admin account, sign-in, idle lock, devices with their tokens (QR,
copy), revoke and delete, operators and the audit log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QMessageBox

from kiosk.core.operators import Role
from kiosk.ui.admin.admin_view import SIGN_IN, SIGNED_IN
from kiosk.ui.admin.token_dialog import TokenDialog
from kiosk.ui.bridge import Bridge
from kiosk.ui.main_window import MainWindow
from kiosk.ui.widgets.reason_dialog import ReasonDialog
from tests.helpers import connect
from tests.ui.conftest import AttachedHub

PASSWORD = "correct horse battery"


def start(qtbot: Any, config: Any, idle_lock_s: float = 300.0) -> tuple[MainWindow, AttachedHub]:
    bridge = Bridge()
    main = MainWindow(bridge, database=config.database_label, idle_lock_s=idle_lock_s)
    qtbot.addWidget(main)
    starter = AttachedHub(config, main)
    ready: list[bool] = []
    bridge.servicesReady.connect(lambda: ready.append(True))
    main.show()
    main.tabs.setCurrentWidget(main.admin)
    starter.start()
    qtbot.waitUntil(lambda: bool(ready), timeout=15000)
    return main, starter


@pytest.fixture
def window(qtbot: Any, config: Any) -> Iterator[tuple[MainWindow, AttachedHub]]:
    main, starter = start(qtbot, config)
    yield main, starter
    main.admin.wait()
    starter.stop()


def first_admin(qtbot: Any, main: MainWindow, name: str = "ada") -> None:
    page = main.admin.sign_in
    assert page.first and page.again.isVisible()
    assert "first admin account" in page.intro.text()
    page.name.setText(name)
    page.password.setText(PASSWORD)
    page.again.setText(PASSWORD)
    qtbot.mouseClick(page.submit, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: main.admin.showing == SIGNED_IN, timeout=5000)


def sign_in(qtbot: Any, main: MainWindow, name: str, password: str) -> None:
    page = main.admin.sign_in
    page.name.setText(name)
    page.password.setText(password)
    qtbot.keyClick(page.password, Qt.Key.Key_Return)


def test_first_start_asks_for_the_first_admin_account_then_signs_in(qtbot: Any, window: Any) -> None:
    main, starter = window
    assert main.admin.showing == SIGN_IN
    first_admin(qtbot, main)
    assert "ada" in main.admin.who.text()
    assert [(o.name, o.role) for o in main.admin.ops.operators()] == [("ada", Role.ADMIN)]
    assert ("first start", "operator.add", "ada") in [(a.actor, a.action, a.target)
                                                      for a in starter._hub.registry.audit()]


def test_wrong_password_and_staff_accounts_are_refused_with_a_reason(qtbot: Any, window: Any) -> None:
    main, _starter = window
    first_admin(qtbot, main)
    main.admin.ops.add_operator("sam", Role.STAFF, "front desk rota 7")
    qtbot.mouseClick(main.admin.lock_button, Qt.MouseButton.LeftButton)
    assert main.admin.showing == SIGN_IN
    page = main.admin.sign_in
    assert not page.first and not page.again.isVisible()
    sign_in(qtbot, main, "ada", "not the password")
    qtbot.waitUntil(lambda: page.error.text() == "Wrong name or password.", timeout=5000)
    assert page.password.text() == ""
    sign_in(qtbot, main, "sam", "front desk rota 7")
    qtbot.waitUntil(lambda: "staff account" in page.error.text(), timeout=5000)
    assert main.admin.showing == SIGN_IN and main.admin_session.operator is None


def test_the_tab_locks_itself_after_the_idle_time_and_operations_are_refused(qtbot: Any, config: Any) -> None:
    main, starter = start(qtbot, config, idle_lock_s=0.5)
    try:
        first_admin(qtbot, main)
        ops = main.admin.ops
        qtbot.waitUntil(lambda: main.admin.showing == SIGN_IN, timeout=3000)
        assert "Locked after" in main.admin.sign_in.error.text()
        with pytest.raises(PermissionError, match="locked"):
            ops.create_device("Stall", "stall", None)
    finally:
        main.admin.wait()
        starter.stop()


def test_input_on_the_tab_keeps_the_session_open(qtbot: Any, config: Any) -> None:
    main, starter = start(qtbot, config, idle_lock_s=0.8)
    try:
        first_admin(qtbot, main)
        for _ in range(6):  # 1.2 s of typing, longer than the idle time
            qtbot.wait(200)
            qtbot.keyClick(main.admin.devices.view.filter, Qt.Key.Key_A)
        assert main.admin.showing == SIGNED_IN
        qtbot.waitUntil(lambda: main.admin.showing == SIGN_IN, timeout=3000)
    finally:
        main.admin.wait()
        starter.stop()


def _dialog(page: Any, kind: type) -> Any:
    assert isinstance(page.dialog, kind), page.dialog
    return page.dialog


def test_add_device_shows_its_token_once_with_qr_and_copy_and_the_device_logs_in(qtbot: Any, window: Any) -> None:
    main, starter = window
    first_admin(qtbot, main)
    page = main.admin.devices
    add = page.open_add()
    add.name.setText("Stall W-2")
    add.kind.setCurrentIndex(add.kind.findData("stall"))
    add.accept()
    shown = _dialog(page, TokenDialog)
    device_id, token = shown.device_id.text(), shown.token.text()
    assert not shown.qr.pixmap().isNull() and shown.qr.pixmap().width() >= 200
    qtbot.mouseClick(shown.copy_token, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == token
    assert starter._hub.registry.check(device_id, token).device.name == "Stall W-2"
    shown.accept()
    assert shown.token.text() == ""  # the token does not outlive the dialog
    qtbot.waitUntil(lambda: page.selected_id() == device_id, timeout=3000)
    assert page.detail.title.text() == "Stall W-2"
    assert page.detail.values["Token"].text() == "never expires"
    device = connect(starter._hub.config["broker.port"], device_id, token)
    device.publish(f"device/{device_id}/status", json.dumps({"uptime": 7200, "rssi": -61, "fw": "1.2.0",
                                                             "ip": "10.0.4.17", "mac": "a4cf12b3c4d5"}))
    qtbot.waitUntil(lambda: page.detail.values["MAC address"].text() == "A4:CF:12:B3:C4:D5", timeout=3000)
    assert page.detail.values["Firmware"].text() == "1.2.0"
    assert page.detail.values["Uptime"].text().startswith("2 h 0 min")
    qtbot.waitUntil(lambda: page.detail.messages.count() and "heartbeat" in page.detail.messages.item(0).text(),
                    timeout=4000)
    device.publish(f"devices/{device_id}/datastream", "not json")
    device.publish(f"devices/{device_id}/datastream", json.dumps({"door": "ajar"}))
    device.publish(f"devices/{device_id}/datastream", json.dumps({"door": "wide"}))
    qtbot.waitUntil(lambda: "(wrong type 2, not json 1)" in page.detail.values["Messages"].text(), timeout=5000)
    assert page.detail.messages.item(0).text().split("  ", 1)[1].startswith("✕ rejected, wrong type: 'door'")
    device.close()


def test_revoke_and_delete_from_the_detail_pane(qtbot: Any, window: Any) -> None:
    main, starter = window
    first_admin(qtbot, main)
    hub = starter._hub
    made = main.admin.ops.create_device("Meter A", "energy", None)
    page = main.admin.devices
    qtbot.waitUntil(lambda: main.devices_model.row_of(made.info.id) is not None, timeout=3000)
    page.select(made.info.id)
    page.detail.actionRequested.emit("revoke")
    box = _dialog(page, ReasonDialog)
    assert not box.ok.isEnabled()  # a reason first
    box.reason.setText("meter stolen")
    qtbot.mouseClick(box.ok, Qt.MouseButton.LeftButton)
    assert hub.registry.check(made.info.id, made.token).failure is not None
    revoked = [a for a in hub.registry.audit() if a.action == "device.revoke"]
    assert [(a.actor, a.detail) for a in revoked] == [("ada", "meter stolen")]
    qtbot.waitUntil(lambda: not page.detail.buttons["revoke"].isEnabled(), timeout=3000)
    page.detail.actionRequested.emit("delete")
    dialog = page.dialog
    dialog.remove.setChecked(True)
    dialog.accept()
    assert dialog.isVisible() and "why" in dialog.error.text()  # a reason is required
    dialog.reason.setText("meter broken")
    dialog.accept()
    qtbot.waitUntil(lambda: main.devices_model.row_of(made.info.id) is None, timeout=5000)
    qtbot.waitUntil(lambda: isinstance(page.dialog, QMessageBox) and "deleted" in page.dialog.text(), timeout=5000)
    assert hub.registry.get(made.info.id) is None
    actions = [(a.actor, a.action) for a in hub.registry.audit() if a.target == made.info.id]
    assert ("ada", "device.revoke") in actions and ("ada", "device.purge") in actions


def test_operators_and_audit_pages(qtbot: Any, window: Any) -> None:
    main, _starter = window
    first_admin(qtbot, main)
    main.admin.pages.setCurrentWidget(main.admin.operators)
    operators = main.admin.operators
    dialog = operators.open_add()
    dialog.name.setText("sam")
    dialog.password.setText("front desk rota 7")
    dialog.again.setText("front desk rota 8")
    dialog.accept()
    assert dialog.isVisible() and "differ" in dialog.error.text()
    dialog.again.setText("front desk rota 7")
    dialog.accept()
    assert [operators.table.item(r, 0).text() for r in range(operators.table.rowCount())] == ["ada", "sam"]
    assert operators.table.item(1, 1).text() == "staff"
    operators.table.selectRow(0)
    operators._disable()  # the last admin
    assert isinstance(operators.dialog, QMessageBox) and "last admin" in operators.dialog.text()
    main.admin.pages.setCurrentWidget(main.admin.audit)
    audit = main.admin.audit
    qtbot.waitUntil(lambda: audit.table.rowCount() >= 2, timeout=3000)
    actions = {audit.table.item(r, 2).text() for r in range(audit.table.rowCount())}
    assert "operator.add" in actions
    audit.filter.setText("sam")
    qtbot.waitUntil(lambda: audit.table.rowCount() == 1, timeout=3000)
    assert audit.table.item(0, 3).text() == "sam"
    QApplication.processEvents()


def test_send_a_command_to_selected_devices_and_follow_it(qtbot: Any, window: Any) -> None:
    from kiosk.ui.admin.admin_commands import CommandDialog

    main, starter = window
    first_admin(qtbot, main)
    hub = starter._hub
    made = main.admin.ops.create_device("ESP32 hall", "esp32", None)
    device = connect(hub.config["broker.port"], made.info.id, made.token)
    device.client.subscribe(f"devices/{made.info.id}/commands", qos=1)
    assert device.suback.wait(3)
    device.publish(f"device/{made.info.id}/status", json.dumps({"uptime": 500}))
    page = main.admin.devices
    qtbot.waitUntil(lambda: main.devices_model.row_of(made.info.id) is not None, timeout=3000)
    page.select(made.info.id)
    qtbot.waitUntil(lambda: main.devices_model.snapshot(main.devices_model.row_of(made.info.id)).uptime_s == 500,
                    timeout=3000)
    assert page.command_button.isEnabled()
    qtbot.mouseClick(page.command_button, Qt.MouseButton.LeftButton)
    dialog = _dialog(page, CommandDialog)
    assert dialog.to.currentData() is None and "ESP32 hall" in dialog.to.currentText()
    dialog.parameters.setText("{not json")
    dialog.accept()
    assert dialog.isVisible() and "not JSON" in dialog.error.text()
    dialog.parameters.setText('{"delay_s": 2}')
    dialog.accept()
    assert main.admin.pages.currentWidget() is main.admin.commands
    wait_for_message = lambda: bool(device.messages)  # noqa: E731
    qtbot.waitUntil(wait_for_message, timeout=3000)
    command_id = json.loads(device.messages[0].payload)["id"]
    table = main.admin.commands.table
    qtbot.waitUntil(lambda: table.rowCount() == 1 and table.item(0, 3).text() == "sent", timeout=5000)
    assert table.item(0, 1).text() == "ESP32 hall" and table.item(0, 5).text() == "ada"
    device.publish(f"devices/{made.info.id}/ack", json.dumps({"id": command_id, "ok": True}))
    device.publish(f"device/{made.info.id}/status", json.dumps({"uptime": 3}))
    qtbot.waitUntil(lambda: table.item(0, 3).text() == "done", timeout=5000)
    device.close()


def test_firmware_page_uploads_signs_and_rolls_out_to_a_simulated_esp32(qtbot: Any, window: Any,
                                                                         tmp_path: Any) -> None:
    from kiosk.services.esp32_sim import SimulatedEsp32
    from kiosk.ui.admin.admin_firmware import DevicePicker, UploadDialog

    main, starter = window
    first_admin(qtbot, main)
    hub = starter._hub
    page = main.admin.firmware
    main.admin.pages.setCurrentWidget(page)
    assert page.key.text() == hub.site_key.public_hex
    made = main.admin.ops.create_device("Hall sensor", "esp32", None)
    device = SimulatedEsp32("127.0.0.1", hub.config["broker.port"], made.info.id, made.token, page.key.text())
    device.start()
    assert device.connected.wait(5)
    qtbot.waitUntil(lambda: (s := hub.ingest.tracker.get(made.info.id)) is not None and s.firmware == "1.0.0",
                    timeout=3000)
    elf = tmp_path / "stall.elf"
    elf.write_bytes(b"\x7fELF" + bytes(1000))
    dialog = page.open_upload(elf)
    dialog.version.setText("1.1.0")
    dialog._upload()
    qtbot.waitUntil(lambda: "0xE9" in dialog.error.text(), timeout=5000)  # refused, with the reason
    assert dialog.ok.isEnabled()
    dialog.reject()
    image = tmp_path / "stall-1.1.0.bin"
    image.write_bytes(bytes([0xE9]) + bytes(range(256)) * 100)
    dialog = page.open_upload(image)
    assert isinstance(page.dialog, UploadDialog)
    dialog.version.setText("1.1.0")
    dialog._upload()
    qtbot.waitUntil(lambda: page.images.rowCount() == 1, timeout=5000)
    assert page.images.item(0, 1).text() == "1.1.0" and page.images.item(0, 7).text() == "1"  # one out of date
    page.images.selectRow(0)
    picker = page.open_picker()
    assert isinstance(picker, DevicePicker) and picker.chosen() == [made.info.id]
    picker.accept()
    qtbot.waitUntil(lambda: page.jobs.rowCount() == 1 and page.jobs.item(0, 3).text() == "updated", timeout=10000)
    assert page.jobs.item(0, 0).text() == "Hall sensor" and page.jobs.item(0, 1).text() == "1.0.0"
    main.admin.pages.setCurrentWidget(main.admin.devices)
    main.admin.devices.select(made.info.id)
    history = main.admin.devices.detail.history
    qtbot.waitUntil(lambda: history.text().startswith("Firmware history: 1.1.0 (by update"), timeout=5000)
    assert "1.0.0 (reported" in history.text()
    device.stop()


def test_health_notifications_and_settings_pages(qtbot: Any, window: Any) -> None:
    main, starter = window
    first_admin(qtbot, main)
    hub = starter._hub
    admin = main.admin
    admin.pages.setCurrentWidget(admin.health)
    qtbot.waitUntil(lambda: admin.health.values[("Broker", "State")].text() == "running (embedded)", timeout=5000)
    assert admin.health.values[("Broker", "Clients connected")].text() == "1"  # the hub's own link
    assert admin.health.values[("Work in progress", "Commands open")].text() == "0"
    import urllib.error
    import urllib.request

    guess = urllib.request.Request(f"http://127.0.0.1:{hub.config['http.port']}/api/sensor/reading", method="POST",
                                   data=b'{"deviceToken": "a guess", "portId": "p"}')
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(guess, timeout=5)
    assert refused.value.code == 401
    refused.value.close()
    qtbot.waitUntil(lambda: admin.health.values[("HTTP", "Refused")].text() == "wrong token: 1", timeout=3000)
    assert "none refused" in admin.health.values[("Broker", "Old or new clients")].text()
    hub.energy_store.notify("device_offline", "dev-1", "Stall W-2: no signal", "last heard from at 09:00")
    admin.pages.setCurrentWidget(admin.notifications)
    page = admin.notifications
    qtbot.waitUntil(lambda: page.table.rowCount() == 1, timeout=3000)
    assert page.table.item(0, 1).text() == "No signal" and page.table.item(0, 3).text() == "going on"
    assert admin.pages.tabText(admin.pages.indexOf(page)) == "Notifications (1)"
    page.table.selectRow(0)
    qtbot.mouseClick(page.acknowledge_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.table.rowCount() == 0, timeout=3000)
    assert admin.pages.tabText(admin.pages.indexOf(page)) == "Notifications"
    page.show_all.setChecked(True)
    qtbot.waitUntil(lambda: page.table.rowCount() == 1 and "ada" in page.table.item(0, 3).text(), timeout=3000)
    admin.pages.setCurrentWidget(admin.settings)
    settings = admin.settings
    _setting, tariff = settings.editors["energy.tariff_per_kwh"]
    tariff.setValue(0.31)
    _setting, currency = settings.editors["energy.currency"]
    currency.setText("a very long currency")
    settings.save()
    assert "energy.currency" in settings.message.text() and hub.energy.tariff == 0.15  # nothing applied
    currency.setText("EUR")
    _setting, idle = settings.editors["admin.idle_lock_s"]
    idle.setValue(120)
    settings.save()
    assert hub.energy.tariff == pytest.approx(0.31) and hub.energy.currency == "EUR"
    assert main.admin_session.idle_ms == 120_000 and "2 min" in admin.who.text()
    runtime = (hub.config.config_dir / "runtime.toml").read_text()
    assert '"energy.tariff_per_kwh" = 0.31' in runtime and '"admin.idle_lock_s" = 120' in runtime
    from kiosk.config import load

    reloaded = load(env={}, config_dir=hub.config.config_dir)
    assert reloaded["energy.tariff_per_kwh"] == pytest.approx(0.31) and reloaded["energy.currency"] == "EUR"
    assert reloaded.source("energy.currency").startswith("admin tab")
    changes = [(a.actor, a.target, a.detail) for a in hub.registry.audit() if a.action == "setting.change"]
    assert ("ada", "energy.tariff_per_kwh", "0.15 -> 0.31") in changes


def test_admin_actions_in_other_tabs_sign_in_and_name_the_operator(qtbot: Any, window: Any) -> None:
    """The hub's admin PIN is replaced by operator sign-in: forcing a locker free asks for an admin (a staff account
    is refused), and the audit log names the person."""
    from kiosk.ui.operator_gate import SignInDialog

    main, starter = window
    first_admin(qtbot, main)
    main.admin.ops.add_operator("sam", Role.STAFF, "front desk rota 7")
    qtbot.mouseClick(main.admin.lock_button, Qt.MouseButton.LeftButton)
    hub = starter._hub
    lockers = main.lockers
    main.tabs.setCurrentWidget(lockers)
    qtbot.waitUntil(lambda: lockers.ops is not None, timeout=3000)
    lockers.ops.add_member("CS2021001", "Rahul Sharma", "CS")
    assignment = lockers.ops.assign("CS2021001")
    lockers.refresh()
    page = lockers.assigned
    lockers.pages.setCurrentWidget(page)
    qtbot.waitUntil(lambda: page.table.model().rowCount() == 1, timeout=3000)
    page.table.selectRow(0)
    page._force()
    dialog = page.dialog
    assert isinstance(dialog, SignInDialog) and dialog.isVisible()
    dialog.name.setText("sam")
    dialog.password.setText("front desk rota 7")
    dialog._submit()
    qtbot.waitUntil(lambda: "staff account" in dialog.error.text(), timeout=5000)
    assert dialog.isVisible()
    dialog.name.setText("ada")
    dialog.password.setText(PASSWORD)
    dialog._submit()
    qtbot.waitUntil(lambda: main.admin_session.operator is not None, timeout=5000)
    qtbot.waitUntil(lambda: isinstance(page.dialog, ReasonDialog), timeout=3000)
    assert main.admin.stack.currentIndex() == SIGN_IN  # signed in for this action: the Admin tab stays locked
    reason = page.dialog
    reason.reason.setText("key lost")
    reason.accept()
    qtbot.waitUntil(lambda: not lockers.ops.board()[assignment.locker - 1].member, timeout=3000)
    forced = [(a.actor, a.action) for a in hub.registry.audit() if a.action.startswith("locker.force")]
    assert forced == [("ada", forced[0][1])]
    qtbot.waitUntil(lambda: main.admin_session.operator is None, timeout=3000)  # that one action only
    assert main.admin.stack.currentIndex() == SIGN_IN


def test_an_admin_signed_in_on_the_admin_tab_is_not_asked_again_elsewhere(qtbot: Any, window: Any) -> None:
    main, _ = window
    first_admin(qtbot, main)
    ran: list[bool] = []
    assert main.admin_gate.ask("force a locker free", main, lambda: ran.append(True)) is None
    qtbot.waitUntil(lambda: ran == [True], timeout=3000)
    assert main.admin_session.operator is not None and main.admin.stack.currentIndex() == SIGNED_IN


def test_a_stallsense_board_is_re_paired_from_its_detail_pane(qtbot: Any, config: Any) -> None:
    main, starter = start(qtbot, config.with_overrides(stalls__legacy_stallsense=True))
    try:
        first_admin(qtbot, main)
        hub = starter._hub
        board = connect(hub.config["broker.port"], None, None, client_id="Desk7")
        board.client.publish("Desk7", "0", qos=1).wait_for_publish(5)
        board.close()
        device_id = "stallsense:Desk7"
        page = main.admin.devices
        qtbot.waitUntil(lambda: main.devices_model.row_of(device_id) is not None
                        and hub.registry.get(device_id) is not None, timeout=5000)  # stored, not only seen
        page.select(device_id)
        assert page.detail.buttons["repair"].isVisibleTo(page) and not page.detail.buttons["rotate"].isVisibleTo(page)
        page.detail.actionRequested.emit("repair")
        box = page.dialog
        assert isinstance(box, QMessageBox) and "Re-pair" in box.text()
        [accept] = [b for b in box.buttons() if box.buttonRole(b) == QMessageBox.ButtonRole.AcceptRole]
        accept.click()
        qtbot.waitUntil(lambda: any(a.action == "device.legacy.repair" and a.actor == "ada"
                                    for a in hub.registry.audit()), timeout=3000)
    finally:
        main.admin.wait()
        starter.stop()
