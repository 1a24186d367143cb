"""`kiosk doctor` on this machine and on machines it is shown: each check says what it found and what to fix."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

from kiosk.config import Config, load
from kiosk.doctor import Machine, check_data_dir, check_display, check_serial, check_udev, examine
from kiosk.services.hub_lock import HubLock
from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[2]


def config_for(tmp_path: Path, broker: int, http: int) -> Config:
    return load({"data_dir": str(tmp_path / "data"), "broker.port": broker, "http.port": http,
                 "broker.bind": "127.0.0.1", "http.bind": "127.0.0.1"}, env={}, config_dir=tmp_path / "config")


def by_start(findings: list, start: str):
    return next(f for f in findings if f.what.startswith(start))


def test_a_fresh_installation_has_nothing_to_fix(tmp_path: Path) -> None:
    env = {**os.environ, "KIOSK_DATA_DIR": str(tmp_path / "data"), "KIOSK_CONFIG_DIR": str(tmp_path / "config"),
           "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([sys.executable, "-m", "kiosk", "--broker-port", str(free_port()),
                           "--http-port", str(free_port()), "doctor"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.rstrip().endswith("nothing to fix")
    assert "ok   display: Qt opens a window here (offscreen)" in done.stdout


def test_a_port_another_program_holds_is_named_and_our_own_hub_s_is_fine(tmp_path: Path) -> None:
    broker, http = free_port(), free_port()
    squatter = socket.socket()
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    squatter.bind(("127.0.0.1", broker))
    squatter.listen()
    try:
        findings = examine(config_for(tmp_path, broker, http), Machine(env={}))
        taken = by_start(findings, f"broker port {broker}")
        assert not taken.ok and f"(pid {os.getpid()})" in taken.what and "--broker-port" in taken.fix
        assert by_start(findings, f"HTTP port {http}").ok
        config = config_for(tmp_path, broker, http)
        lock = HubLock(config.data_dir)
        config.data_dir.mkdir(parents=True, exist_ok=True)
        lock.acquire({"broker_port": broker, "http_port": http})  # as a running hub does
        try:
            held = by_start(examine(config, Machine(env={})), f"broker port {broker}")
            assert held.ok and "held by this data folder's hub" in held.what
        finally:
            lock.release()
    finally:
        squatter.close()


def test_a_data_folder_of_another_user_or_open_to_others_is_said(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    (folder / "kiosk.db").write_bytes(b"")
    os.chmod(folder / "kiosk.db", 0o644)
    stranger = Machine(uid=os.getuid() + 4242)
    if os.getuid() == 0:  # root may use any folder: show the check a plain user
        stranger = Machine(uid=4242)
    [other] = check_data_dir(folder, stranger)
    assert not other.ok and "belongs to" in other.what and "sudo chown -R" in other.fix
    mine = check_data_dir(folder, Machine())
    assert [f.ok for f in mine] == [False, False]
    assert "others may read it (mode 0755)" in mine[0].what and mine[0].fix == f"chmod 700 {folder}"
    assert "kiosk.db" in mine[1].what
    os.chmod(folder, 0o700)
    os.chmod(folder / "kiosk.db", 0o600)
    assert [f.ok for f in check_data_dir(folder, Machine())] == [True]


def test_serial_access_the_udev_rule_and_the_display(tmp_path: Path) -> None:
    import grp

    try:
        grp.getgrnam("dialout")
    except KeyError:
        grp_exists = False
    else:
        grp_exists = True
    outsider = check_serial(Machine(uid=4242, groups=[], dev=tmp_path))
    assert outsider[0].ok is (not grp_exists)
    if grp_exists:
        assert "not in the dialout group" in outsider[0].what and "usermod -aG dialout" in outsider[0].fix
    rules = tmp_path / "rules.d"
    rules.mkdir()
    modem = Machine(udev_dirs=(rules,), which=lambda name: "/usr/sbin/ModemManager")
    missing = check_udev(modem)
    assert not missing.ok and "ModemManager" in missing.what and "udevadm control --reload" in missing.fix
    (rules / "99-front-desk-kiosk.rules").write_text((ROOT / "packaging" / "99-front-desk-kiosk.rules").read_text())
    assert check_udev(modem).ok
    assert check_display(Machine(env={})).ok  # no screen: the hub runs, nothing to fix
    broken = check_display(Machine(env={**os.environ, "QT_QPA_PLATFORM": "nosuchplatform"}))
    assert not broken.ok and "Qt cannot open a window here" in broken.what


def test_an_old_schema_is_said_to_be_upgraded_at_the_next_start(tmp_path: Path) -> None:
    config = config_for(tmp_path, free_port(), free_port())
    config.data_dir.mkdir(mode=0o700)
    with sqlite3.connect(config.data_dir / "kiosk.db") as db:
        db.execute("CREATE TABLE alembic_version (version_num TEXT)")
        db.execute("INSERT INTO alembic_version VALUES ('0009')")
    os.chmod(config.data_dir / "kiosk.db", 0o600)
    finding = by_start(examine(config, Machine(env={})), "database")
    assert finding.ok and "schema 0009; the next start upgrades it to 0011" in finding.what
