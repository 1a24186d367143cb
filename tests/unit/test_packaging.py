"""The files packaging/ installs on a kiosk PC, checked by the tools that will read them."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_hub_unit_is_valid_for_systemd_and_asks_for_what_the_hub_does(tmp_path: Path) -> None:
    unit = (ROOT / "packaging" / "kiosk-hub.service").read_text()
    # systemd-analyze checks that ExecStart exists: point it at a program this machine has
    checked = tmp_path / "kiosk-hub.service"
    checked.write_text(unit.replace("/opt/front-desk-kiosk/.venv/bin/kiosk", "/bin/true"))
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing: bash packaging/system-deps.sh installs systemd"
    result = subprocess.run([analyze, "verify", str(checked)], capture_output=True, text=True, timeout=60,
                            env={"SYSTEMD_LOG_LEVEL": "notice", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0 and not result.stderr.strip() and not result.stdout.strip(), \
        result.stdout + result.stderr  # an unknown key is only a warning: none may be printed
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(unit)
    service = parser["Service"]
    assert service["Type"] == "notify" and int(service["WatchdogSec"]) >= 10  # kiosk.services.systemd feeds it
    assert service["ExecStart"].endswith("kiosk --headless")
    assert service["ProtectSystem"] == "strict" and service["NoNewPrivileges"] == "yes"
    assert service["StateDirectoryMode"] == "0700" and service["UMask"] == "0077"
    assert "KIOSK_DATA_DIR=/var/lib/front-desk-kiosk" in service["Environment"]
