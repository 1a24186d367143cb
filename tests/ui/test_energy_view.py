"""The Energy tab offscreen, against a real hub: ports and their status, live curves, history by tier, alerts."""

import csv
import json
import time
from pathlib import Path
from typing import Any

import pytest

from kiosk.config import Config
from kiosk.core.energy import PortStatus
from kiosk.services.hub import Hub
from kiosk.ui.energy.energy_view import EnergyView
from tests.helpers import RecordingEvents, connect


@pytest.fixture
def hub(config: Config) -> Any:
    hub = Hub(config, RecordingEvents())
    hub.start()
    assert hub.link.connected.wait(5)
    yield hub
    hub.stop()


@pytest.fixture
def view(qtbot: Any, hub: Hub) -> EnergyView:
    view = EnergyView()
    qtbot.addWidget(view)
    view.resize(1200, 700)
    view.show()
    qtbot.waitExposed(view)
    view.attach(hub.energy_queries)
    return view


def test_an_empty_tab_says_how_to_get_ports(view: EnergyView) -> None:
    assert view.empty.isVisible() and "Admin > Devices" in view.empty.text()
    assert view.right.currentWidget() is view.pick and "Pick a port" in view.pick.text()  # no empty axes


def test_a_port_shows_live_and_history_and_a_phantom_alert_can_be_acknowledged(qtbot: Any, hub: Hub,
                                                                              view: EnergyView,
                                                                              tmp_path: Path) -> None:
    meter, token = hub.registry.create("Meter A", "energy", "test")
    lamp = hub.energy_store.add_port(meter.id, "Desk lamp", "test", channel="1")
    device = connect(hub.config["broker.port"], meter.id, token)
    try:
        for power in (103.5, 104.0):
            device.publish(f"devices/{meter.id}/datastream",
                           json.dumps({"port": "1", "voltage": 230.0, "current": power / 230.0, "power": power}))
        qtbot.waitUntil(lambda: len(hub.energy.live(lamp.id, 0)) == 2)
    finally:
        device.close()
    view.ops._read_at = 0.0  # the port list is re-read every 10 s; now
    view.tick()
    assert view.right.currentWidget() is view.pick  # nothing picked yet
    assert [(r["name"], r["status"]) for r in view.model.rows] == [("Desk lamp", PortStatus.ACTIVE)]
    assert view.model.index(0, 1).data() == "● in use" and not view.empty.isVisible()
    hub.writer.flush()
    view.ops._read_at = 0.0
    view.tick()
    assert view.model.rows[0]["kwh_today"] >= 0.0 and view.model.index(0, 3).data().endswith(" kWh")
    assert view.model.rows[0]["always_on"] == pytest.approx(103.75, abs=0.5)  # one minute's mean so far
    with qtbot.waitSignal(view.historyShown, timeout=5000):
        view.select_ports([lamp.id])
    assert view.right.currentWidget() is view.graphs
    assert [label for label, b in view.range_buttons.items() if b.isChecked()] == ["Day"]
    curve = view._live_curves[lamp.id]
    assert list(curve.getData()[1]) == [103.5, 104.0]
    assert view.series.tier == "minute"  # a day: per-minute rollups
    assert "Desk lamp" in view.readout.text() and "kWh in the shown range" in view.readout.text()
    with qtbot.waitSignal(view.historyShown, timeout=5000):
        view.show_range(3600)
    assert view.series.tier == "raw" and view.series.mean == [103.5, 104.0]
    assert [label for label, b in view.range_buttons.items() if b.isChecked()] == ["Hour"]
    assert view.export_csv(str(tmp_path / "e.csv")) == 2
    with (tmp_path / "e.csv").open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["port", "time", "mean (W)", "min (W)", "max (W)", "resolution"]
    assert rows[1][0] == "Desk lamp" and rows[1][2] == "103.5" and rows[1][5] == "each reading"
    assert view.export_png(str(tmp_path / "e.png")) and (tmp_path / "e.png").stat().st_size > 1000

    note = hub.energy_store.notify("phantom", lamp.id, "Phantom load on Desk lamp: 4.0 W", "detail", 4.0, 900, 0.4)
    view.refresh_alerts()  # what the 1 s tick does every fifth time
    assert view.alerts.count() == 1 and view.alerts_title.text() == "Alerts (1 to acknowledge)"
    view.alerts.setCurrentRow(0)
    view.acknowledge_selected()
    assert view.alerts.count() == 0 and hub.energy_store.notifications() == []
    assert hub.energy_store.notifications(open_only=False)[0].id == note


def test_tiers_follow_the_visible_span() -> None:
    from kiosk.core.energy import choose_tier

    assert [choose_tier(s) for s in (600, 3600, 86400, 7 * 86400, 30 * 86400, 365 * 86400)] == \
        ["raw", "raw", "minute", "hour", "hour", "day"]


def test_a_hidden_tab_does_no_work_and_catches_up_when_shown(view: EnergyView) -> None:
    calls: list[str] = []
    real = view.ops

    class Counting:
        def __getattr__(self, name: str) -> object:
            calls.append(name)
            return getattr(real, name)

    view.ops = Counting()
    view.hide()
    view.tick()
    assert calls == []
    view.show()  # showing it refreshes at once
    assert "port_rows" in calls and "notifications" in calls


def history_port(hub: Hub, name: str, hours: int, base: float, meter: Any = None) -> tuple[Any, str]:
    """A port with one reading an hour for the last `hours` hours, through the real pipeline (raw rows and
    rollups); returns (meter, port id)."""
    from kiosk.protocol.payloads import EnergyReading

    if meter is None:
        meter, _ = hub.registry.create(f"{name} meter", "energy", "test")
    channel = str(len(hub.energy_store.ports()) + 1)
    port = hub.energy_store.add_port(meter.id, name, "test", channel=channel)
    now = time.time()
    for hour in range(hours, 0, -1):
        hub.energy.reading(meter.id, EnergyReading(channel, 230.0, (base + hour % 3) / 230.0, base + hour % 3),
                           now - hour * 3600)
    hub.writer.flush()
    return meter, port.id


def show(qtbot: Any, view: EnergyView, ports: list[str], span: float) -> None:
    view.ops._read_at = 0.0
    view.tick()
    with qtbot.waitSignal(view.historyShown, timeout=5000):
        view.select_ports(ports)
    with qtbot.waitSignal(view.historyShown, timeout=5000):
        view.show_range(span)


def test_few_points_show_as_markers_and_several_ports_share_the_history_in_their_live_colours(
        qtbot: Any, hub: Hub, view: EnergyView) -> None:
    meter, lamps = history_port(hub, "Desk lamps", 48, 100.0)
    _, fridge = history_port(hub, "Staff fridge", 48, 40.0, meter)
    show(qtbot, view, [lamps, fridge], 7 * 86400)
    assert view.series.tier == "hour" and set(view.history) == {lamps, fridge}
    curves = view._history_curves
    assert [len(curves[p].getData()[0]) for p in (lamps, fridge)] == [48, 48]
    assert all(curves[p].opts["symbol"] == "o" for p in (lamps, fridge))  # 48 points a week wide: each a dot
    for port_id in (lamps, fridge):  # one colour per port, the same live and in the history
        assert curves[port_id].opts["pen"].color().name() == view._live_curves[port_id].opts["pen"].color().name()
    assert view.colour(lamps) != view.colour(fridge)
    legend = [label.text for _, label in view.history_legend.items]
    assert legend == [r["name"] for r in view.model.rows]  # in the port table's order
    assert "Desk lamps" in view.readout.text() and "Staff fridge" in view.readout.text()
    assert view.history_plot.plotItem.titleLabel.text.startswith("2 ports")

    with qtbot.waitSignal(view.historyShown, timeout=5000):
        view.select_ports([fridge])  # one port again: its colour stays, the lamps leave the history
    assert set(view._history_curves) == {fridge} and view.colour(fridge) == curves[fridge].opts["pen"].color().name()


def test_many_points_are_a_line_without_markers(qtbot: Any, hub: Hub, view: EnergyView) -> None:
    _, port = history_port(hub, "Reading room", 24 * 6, 120.0)
    show(qtbot, view, [port], 7 * 86400)
    assert len(view.series.xs) == 144 and view._history_curves[port].opts["symbol"] is None


def test_a_pan_leaves_the_range_button_and_the_hover_read_out_stays_while_the_mouse_does(
        qtbot: Any, hub: Hub, view: EnergyView) -> None:
    from PySide6.QtCore import QEvent, QPointF
    from PySide6.QtWidgets import QApplication

    _, port = history_port(hub, "Desk lamps", 30, 100.0)
    show(qtbot, view, [port], 86400)
    box = view.history_plot.getViewBox()
    at = view.series.xs[10]
    view._hover(box.mapViewToScene(QPointF(at, 100.0)))
    stamp = time.strftime("%a %d %b %Y %H:%M", time.localtime(at))
    assert view.pointer.text().startswith(stamp) and "Desk lamps" in view.pointer.text()
    with qtbot.waitSignal(view.historyShown, timeout=5000):  # a reload (the range settled) keeps the read-out
        view._load_history()
    assert view.pointer.text().startswith(stamp)
    QApplication.sendEvent(view.history_plot.viewport(), QEvent(QEvent.Type.Leave))
    assert view.pointer.text() == ""

    low, high = view.visible_range()
    with qtbot.waitSignal(view.historyShown, timeout=5000):
        view.history_plot.setXRange(low - 6 * 3600, high - 6 * 3600, padding=0)  # a pan
    assert not any(b.isChecked() for b in view.range_buttons.values())
    assert "_to_" in view.export_name("csv")  # a panned range is named by its dates


def test_exports_are_named_by_port_and_range_confirm_where_they_went_and_remember_the_folder(
        qtbot: Any, hub: Hub, view: EnergyView, tmp_path: Path) -> None:
    from PySide6.QtWidgets import QFileDialog

    from kiosk.ui.widgets.tables import ExportFolder

    _, port = history_port(hub, "Desk lamp (west)", 20, 100.0)
    show(qtbot, view, [port], 7 * 86400)
    today = time.strftime("%Y-%m-%d")
    assert view.export_name("csv") == f"desk-lamp-west_week_{today}.csv"
    ExportFolder._folder = ""
    view.csv_button.click()
    dialog = view.findChild(QFileDialog)
    assert dialog is not None and dialog.selectedFiles()[0].endswith(f"desk-lamp-west_week_{today}.csv")
    target = tmp_path / "exports" / "lamp.csv"
    target.parent.mkdir()
    dialog.selectFile(str(target))
    dialog.accept()
    assert view.saved.text() == f"Saved 20 rows to {target}"
    with target.open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert len(rows) == 21 and {r[0] for r in rows[1:]} == {"Desk lamp (west)"}
    assert {r[5] for r in rows[1:]} == {"per hour"}
    assert ExportFolder.get() == target.parent
    qtbot.waitUntil(lambda: view.findChild(QFileDialog) is None)  # the dialog deletes itself
    view.png_button.click()  # the next export opens where the last one went
    dialog = view.findChild(QFileDialog)
    assert Path(dialog.directory().absolutePath()) == target.parent
    dialog.reject()


def test_an_alert_that_ended_says_since_when(hub: Hub, view: EnergyView) -> None:
    meter, lamp = history_port(hub, "Desk lamp", 2, 100.0)
    ended = time.time() - 600
    hub.energy_store.notify("phantom", lamp, "Phantom load on Desk lamp: 4.0 W", "detail", 4.0, 900, 0.4,
                            ended_at=ended)
    view.refresh_alerts()
    text = view.alerts.item(0).text()
    assert f"over since {time.strftime('%H:%M', time.localtime(ended))}" in text or "over since yesterday" in text
    assert meter.id not in text and lamp not in text  # names, never ids
