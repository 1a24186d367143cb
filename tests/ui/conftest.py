import gc
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def collect_qt_objects_on_the_gui_thread() -> Iterator[None]:
    """Qt objects left in reference cycles must die here, on the GUI thread.

    Otherwise Python's cyclic GC may free them later from whatever thread allocates at that moment (a paho or
    simulator thread) and a QTimer deleted off its thread crashes the process.
    """
    yield
    gc.collect()


class _Quiet:
    """HubEvents for a hub whose screens follow it over the API only (as a hub process's screens do)."""

    def device_changed(self, snapshot: object) -> None:
        pass

    def device_removed(self, device_id: str) -> None:
        pass

    def hub_status(self, status: object) -> None:
        pass

    def stalls_changed(self, views: object, complete: bool = False) -> None:
        pass

    def lockers_changed(self) -> None:
        pass


class AttachedHub:
    """A real hub started in the test's process, and the desk window attached to it through the hub's real API
    and event stream, exactly as kiosk.app attaches the window to the hub's own process (tests reach the hub's
    objects through `_hub` to arrange and check what the window shows)."""

    def __init__(self, config: object, window: object) -> None:
        from kiosk.app import connect_window
        from kiosk.ui.hub_link import HubLink

        self._config = config
        self.window = window
        self.link = HubLink(window.bridge, window)
        window.follow(self.link)
        connect_window(window, self.link)
        self._hub: object = None

    def start(self) -> None:
        from kiosk.client.http import ApiClient
        from kiosk.client.local_hub import read_station_token
        from kiosk.services.hub import Hub

        self._hub = Hub(self._config, _Quiet())
        self._hub.start()
        token = read_station_token(self._config.data_dir)
        self.link.attach(ApiClient(f"http://127.0.0.1:{self._config['http.port']}", token))

    def stop(self) -> None:
        self.link.stop()
        if self._hub is not None:
            self._hub.stop()
            self._hub = None
