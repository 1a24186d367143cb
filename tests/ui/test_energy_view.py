"""The Energy tab offscreen, against a real hub: ports and their status, live curves, history by tier, alerts."""

import csv
import json
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
    assert view.empty.isVisible() and "kiosk port add" in view.empty.text()


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
    assert [(r["name"], r["status"]) for r in view.model.rows] == [("Desk lamp", PortStatus.ACTIVE)]
    assert view.model.index(0, 1).data() == "● in use" and not view.empty.isVisible()
    hub.writer.flush()
    view.ops._read_at = 0.0
    view.tick()
    assert view.model.rows[0]["kwh_today"] >= 0.0 and view.model.index(0, 3).data().endswith(" kWh")
    assert view.model.rows[0]["always_on"] == pytest.approx(103.75, abs=0.5)  # one minute's mean so far
    with qtbot.waitSignal(view.historyShown, timeout=5000):
        view.select_ports([lamp.id])
    curve = view._live_curves[lamp.id]
    assert list(curve.getData()[1]) == [103.5, 104.0]
    assert view.series.tier == "minute"  # a day: per-minute rollups
    assert "Desk lamp" in view.readout.text() and "kWh in the shown range" in view.readout.text()
    with qtbot.waitSignal(view.historyShown, timeout=5000):
        view.show_range(3600)
    assert view.series.tier == "raw" and view.series.mean == [103.5, 104.0]
    assert view.export_csv(str(tmp_path / "e.csv")) == 2
    with (tmp_path / "e.csv").open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["time", "mean_w", "min_w", "max_w", "tier"] and rows[1][1] == "103.5"
    view.export_png(str(tmp_path / "e.png"))
    assert (tmp_path / "e.png").stat().st_size > 1000

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
