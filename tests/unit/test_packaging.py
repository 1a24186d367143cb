"""The files packaging/ installs on a kiosk PC, checked by the tools that will read them."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def verified(tmp_path: Path, *names: str) -> None:
    """systemd-analyze verify, with ExecStart pointed at a program this machine has (it checks that it exists)."""
    for name in names:
        text = (ROOT / "packaging" / name).read_text()
        (tmp_path / name).write_text(re.sub(r"(?m)^ExecStart=.*$", "ExecStart=/bin/true", text))
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing: bash packaging/system-deps.sh installs systemd"
    units = [str(tmp_path / n.replace("@.", "@tty1.")) for n in names]  # a template is checked as an instance
    result = subprocess.run([analyze, "verify", *units], capture_output=True,
                            text=True, timeout=60, env={"SYSTEMD_LOG_LEVEL": "notice", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0 and not result.stderr.strip() and not result.stdout.strip(), \
        result.stdout + result.stderr  # an unknown key is only a warning: none may be printed


def test_the_hub_unit_is_valid_for_systemd_and_asks_for_what_the_hub_does(tmp_path: Path) -> None:
    unit = (ROOT / "packaging" / "kiosk-hub.service").read_text()
    verified(tmp_path, "kiosk-hub.service")
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(unit)
    service = parser["Service"]
    assert service["Type"] == "notify" and int(service["WatchdogSec"]) >= 10  # kiosk.services.systemd feeds it
    assert service["ExecStart"].endswith("kiosk --headless")
    assert service["ProtectSystem"] == "strict" and service["NoNewPrivileges"] == "yes"
    assert service["StateDirectoryMode"] == "0700" and service["UMask"] == "0077"
    assert "KIOSK_DATA_DIR=/var/lib/front-desk-kiosk" in service["Environment"]
    # ProtectSystem=strict makes /etc read-only: the settings folder (runtime.toml, Admin > Settings) must be let in
    assert "KIOSK_CONFIG_DIR=/etc/front-desk-kiosk" in service["Environment"]
    assert "/etc/front-desk-kiosk" in service["ReadWritePaths"].split()


UDEV_LINE = re.compile(r'^(?P<key>[A-Z_]+)(\{(?P<attr>[A-Za-z_]+)\})?(?P<op>==|!=|\+=|=|:=)"(?P<value>[^"]*)"$')
UDEV_KEYS = {"ACTION", "SUBSYSTEM", "SUBSYSTEMS", "ATTRS", "GOTO", "LABEL", "GROUP", "MODE", "ENV", "IMPORT",
             "SYMLINK"}


def test_the_udev_rules_parse_and_cover_exactly_the_boards_the_hub_opens() -> None:
    from kiosk.config import load

    rules = (ROOT / "packaging" / "99-front-desk-kiosk.rules").read_text().splitlines()
    labels, gotos, boards = set(), set(), set()
    for number, line in enumerate(rules, start=1):
        if not line.strip() or line.startswith("#"):
            continue
        pairs = [part.strip() for part in line.split(", ")]
        parsed = [UDEV_LINE.match(pair) for pair in pairs]
        assert all(parsed), f"line {number} does not parse as udev keys: {line}"
        keys = {m["key"]: m for m in parsed if m}
        assert set(keys) <= UDEV_KEYS, f"line {number}: unknown key in {line}"
        if "LABEL" in keys:
            labels.add(keys["LABEL"]["value"])
        if "GOTO" in keys:
            gotos.add(keys["GOTO"]["value"])
        vendor = [m["value"] for m in parsed if m and m["attr"] == "idVendor"]
        product = [m["value"] for m in parsed if m and m["attr"] == "idProduct"]
        if vendor and product:
            boards.add(f"{vendor[0]}:{product[0]}")
    assert gotos <= labels, "every GOTO has its LABEL"
    default = load({}, env={}, config_dir=ROOT / "nonexistent").serial.usb_ids
    assert boards == set(default.split(",")), "the rules and serial.usb_ids name the same boards"
    text = "\n".join(rules)
    assert 'ENV{ID_MM_DEVICE_IGNORE}="1"' in text and 'GROUP="dialout"' in text


def test_the_daily_backup_units_are_valid_and_keep_two_weeks(tmp_path: Path) -> None:
    verified(tmp_path, "kiosk-backup.service", "kiosk-backup.timer")
    service = (ROOT / "packaging" / "kiosk-backup.service").read_text()
    assert "kiosk backup /var/lib/front-desk-kiosk/backups --keep-days 14" in service
    timer = configparser.ConfigParser(strict=False, interpolation=None)
    timer.read_string((ROOT / "packaging" / "kiosk-backup.timer").read_text())
    assert timer["Timer"]["Persistent"] == "true" and timer["Timer"]["OnCalendar"].endswith("02:30:00")


def test_the_screens_boot_into_full_screen_under_cage_as_the_kiosk_user(tmp_path: Path) -> None:
    verified(tmp_path, "kiosk-display@.service", "kiosk-desk@.service")
    for name, command in (("kiosk-display@.service", "kiosk --display"), ("kiosk-desk@.service", "kiosk")):
        unit = configparser.ConfigParser(strict=False, interpolation=None)
        unit.optionxform = str  # type: ignore[assignment,method-assign]
        unit.read_string((ROOT / "packaging" / name).read_text())
        service = unit["Service"]
        assert service["ExecStart"].startswith("/usr/bin/cage -d -- ") and service["ExecStart"].endswith(command)
        assert service["User"] == "kiosk" and service["PAMName"] == "login" and service["TTYPath"] == "/dev/%I"
        assert "QT_QPA_PLATFORM=wayland" in service["Environment"]
        assert unit["Unit"]["Conflicts"] == "getty@%i.service"


def test_the_menu_entry_opens_the_desk_window_of_the_hub_service_that_shares_itself_with_kiosk_desk() -> None:
    """A person signed in at the PC: the menu entry attaches to kiosk-hub through the file the unit has the hub
    write (kiosk.services.desk_share), in the folder systemd makes for it, for the group the package makes."""
    validate = shutil.which("desktop-file-validate")
    assert validate, "desktop-file-validate is missing: bash packaging/system-deps.sh installs desktop-file-utils"
    entry_path = ROOT / "packaging" / "front-desk-kiosk.desktop"
    checked = subprocess.run([validate, str(entry_path)], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0 and not checked.stdout.strip(), checked.stdout + checked.stderr
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # type: ignore[assignment,method-assign]
    entry.read_string(entry_path.read_text())
    command = entry["Desktop Entry"]["Exec"].split()
    shared = command[command.index("--hub-file") + 1]
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string((ROOT / "packaging" / "kiosk-hub.service").read_text())
    service = unit["Service"]
    environment = dict(word.split("=", 1) for word in service["Environment"].replace("\\", " ").split())
    assert environment["KIOSK_DESK_SHARE_FILE"] == shared
    assert shared == f"/run/{service['RuntimeDirectory']}/desk.json" and service["RuntimeDirectoryMode"] == "0755"
    group = environment["KIOSK_DESK_SHARE_GROUP"]
    assert group in service["SupplementaryGroups"].split(), "the hub's user gives the file that group"
    postinst = (ROOT / "packaging" / "deb" / "postinst").read_text()
    assert f"addgroup --system {group}" in postinst and f"adduser kiosk {group}" in postinst
    assert f"delgroup --system {group}" in (ROOT / "packaging" / "deb" / "postrm").read_text()
    assert "usr/share/applications/front-desk-kiosk.desktop" in (ROOT / "packaging" / "deb" / "build.sh").read_text()
