"""Launch to first paint of the kiosk window, next to a bare Qt window measured in the same run.

    python bench/startup.py [runs]

Both run offscreen with a warm disk cache (one unmeasured launch first). The kiosk logs "window painted" from its
first paintEvent; the reference is a QMainWindow that does the same and nothing else.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMainWindow, QLabel
from kiosk.app import _since_launch
class W(QMainWindow):
    done = False
    def paintEvent(self, e):
        super().paintEvent(e)
        if not self.done:
            self.done = True
            print(f"window painted {_since_launch():.3f} s after launch", flush=True)
            QTimer.singleShot(0, app.quit)
app = QApplication(sys.argv[:1]); w = W(); w.setCentralWidget(QLabel("hello")); w.show(); app.exec()
"""
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


PAINTED = re.compile(r"window painted ([0-9.]+) s after launch")


def measure(command: list[str], env: dict[str, str], kill: bool) -> tuple[float, float]:
    """(seconds the program reports from its own start, seconds from Popen to reading that line)."""
    started = time.monotonic()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    seconds = None
    for line in process.stdout:
        found = PAINTED.search(line)
        if found:
            seconds = (float(found.group(1)), time.monotonic() - started)
            break
    if kill:
        process.send_signal(signal.SIGTERM)
    process.communicate(timeout=30)
    if seconds is None:
        raise RuntimeError(f"{command} never reported its first paint")
    return seconds


def main(runs: int = 7) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        # Real ports: the window starts its hub after the first paint, and SIGTERM stops it again (with port 0,
        # HTTP off, the hub was of no use to the window).
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "KIOSK_DATA_DIR": tmp, "KIOSK_CONFIG_DIR": tmp,
               "KIOSK_BROKER_PORT": str(free_port()), "KIOSK_HTTP_PORT": str(free_port()),
               "KIOSK_BROKER_BIND": "127.0.0.1", "KIOSK_HTTP_BIND": "127.0.0.1"}
        kiosk = [sys.executable, "main.py"]
        reference = [sys.executable, "-c", REFERENCE]
        measure(kiosk, env, kill=True)
        measure(reference, env, kill=False)
        rows: dict[str, list[tuple[float, float]]] = {"bare Qt window (reference)": [], "kiosk main window": []}
        for _ in range(runs):
            rows["bare Qt window (reference)"].append(measure(reference, env, kill=False))
            rows["kiosk main window"].append(measure(kiosk, env, kill=True))
            time.sleep(0.2)
    print(f"launch to first paint, offscreen, warm cache, {runs} runs each (seconds)")
    print(f"{'':28} {'self-reported median':>21} {'min':>6} {'max':>6} {'Popen-to-line median':>21}")
    for name, values in rows.items():
        own = [v[0] for v in values]
        outside = [v[1] for v in values]
        print(f"{name:28} {statistics.median(own):21.3f} {min(own):6.3f} {max(own):6.3f} "
              f"{statistics.median(outside):21.3f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
