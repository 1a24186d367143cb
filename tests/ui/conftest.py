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
