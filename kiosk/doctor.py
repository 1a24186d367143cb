"""`kiosk doctor`: checks an installation and says what to fix, one line each.

The data folder (yours, private, writable), the broker's and HTTP ports (free, or held by this folder's own hub; if
another program holds one, which), USB serial access (the dialout group, the boards present), the udev rule that
keeps ModemManager off the boards, the card reader set in `desk.reader_device`, whether Qt can open a window here,
and the database's schema. Exit code 0 when nothing needs fixing, 1 otherwise. Every check reads; none changes
anything.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kiosk.config import Config
from kiosk.services import ports

UDEV_RULE = "99-front-desk-kiosk.rules"
UDEV_DIRS = (Path("/etc/udev/rules.d"), Path("/lib/udev/rules.d"), Path("/usr/lib/udev/rules.d"))
QT_PROBE = ("import sys\nfrom PySide6.QtWidgets import QApplication, QWidget\napp = QApplication(sys.argv[:1])\n"
            "w = QWidget(); w.show(); app.processEvents()\nprint(app.platformName())\n")


@dataclass(frozen=True)
class Finding:
    ok: bool
    what: str  # what was checked, and what was found
    fix: str = ""  # what to do about it (empty when ok)


@dataclass
class Machine:
    """What the checks look at, so that tests can show them another machine."""

    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    uid: int = field(default_factory=os.getuid)
    groups: Iterable[int] = field(default_factory=os.getgroups)
    dev: Path = Path("/dev")
    udev_dirs: tuple[Path, ...] = UDEV_DIRS
    which: Callable[[str], str | None] = shutil.which


def user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def check_data_dir(path: Path, machine: Machine) -> list[Finding]:
    me = user_name(machine.uid)
    if not path.exists():
        parent = next((p for p in path.parents if p.exists()), Path("/"))
        if os.access(parent, os.W_OK | os.X_OK) or machine.uid == 0:
            return [Finding(True, f"data folder {path}: not made yet (the first start makes it, private to {me})")]
        return [Finding(False, f"data folder {path}: does not exist, and {parent} is not writable for {me}",
                        f"sudo install -d -m 700 -o {me} {path}")]
    info = path.stat()
    owner = user_name(info.st_uid)
    if info.st_uid != machine.uid and machine.uid != 0:
        return [Finding(False, f"data folder {path}: belongs to {owner}, not to {me} who runs this",
                        f"run the kiosk as {owner}, or `sudo chown -R {me} {path}`")]
    if not os.access(path, os.W_OK | os.X_OK):
        return [Finding(False, f"data folder {path}: not writable for {me}", f"sudo chmod u+rwx {path}")]
    findings = []
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        findings.append(Finding(False, f"data folder {path}: others may read it (mode {mode:04o}); it holds member "
                                       "names, the audit log and the kiosk's secrets", f"chmod 700 {path}"))
    shared = sorted(p.name for p in path.iterdir() if p.is_file() and stat.S_IMODE(p.stat().st_mode) & 0o077)
    if shared:
        findings.append(Finding(False, f"files others may read in {path}: {', '.join(shared[:5])}"
                                       + (f" and {len(shared) - 5} more" if len(shared) > 5 else ""),
                                f"chmod 600 {path}/*  (the hub also does it at its next start)"))
    if not findings:
        findings.append(Finding(True, f"data folder {path}: {owner}'s, private ({mode:04o}), writable"))
    return findings


def check_port(label: str, bind: str, port: int, ours: dict[str, object] | None, key: str) -> Finding:
    if not port:
        return Finding(True, f"{label}: off")
    if ours and ours.get(key) == port:
        return Finding(True, f"{label} port {port}: held by this data folder's hub (pid {ours.get('pid', '?')})")
    flag = "--broker-port" if key == "broker_port" else "--http-port"
    trouble = ports.problem(label, bind, port, flag)
    if trouble is not None:
        what, _, fix = trouble.partition(": ")
        return Finding(False, what, fix)
    return Finding(True, f"{label} port {port}: free")


def unusable_data_dir(path: Path) -> str | None:
    """Why this user cannot run a hub on `path` (another user's, not writable, not creatable), None when it can:
    the one line a start says instead of a traceback."""
    me = user_name(os.getuid())
    if path.exists():
        if os.access(path, os.R_OK | os.W_OK | os.X_OK):
            return None
        info = path.stat()
        owner = user_name(info.st_uid)
        if info.st_uid != os.getuid():
            return (f"the data folder {path} belongs to {owner} (mode {stat.S_IMODE(info.st_mode):04o}) and {me} "
                    f"may not use it: run the kiosk as {owner}, or `sudo chown -R {me} {path}`")
        return f"the data folder {path} is not writable for {me}: `chmod u+rwx {path}`"
    parent = next((p for p in path.parents if p.exists()), Path("/"))
    if not os.access(parent, os.W_OK | os.X_OK):
        return (f"the data folder {path} does not exist and {me} may not make it in {parent}: "
                f"`sudo install -d -m 700 -o {me} {path}`, or give another --data-dir")
    return None


def check_serial(machine: Machine) -> list[Finding]:
    findings = []
    try:
        dialout = grp.getgrnam("dialout").gr_gid
    except KeyError:
        dialout = None
    me = user_name(machine.uid)
    if machine.uid != 0 and dialout is not None and dialout not in set(machine.groups):
        findings.append(Finding(False, f"USB serial: {me} is not in the dialout group (USB boards cannot be opened)",
                                f"sudo usermod -aG dialout {me}, then sign in again"))
    ports = sorted(p for pattern in ("ttyACM*", "ttyUSB*") for p in machine.dev.glob(pattern))
    for path in ports:
        if not os.access(path, os.R_OK | os.W_OK):
            findings.append(Finding(False, f"USB serial {path}: {me} may not open it",
                                    f"sudo usermod -aG dialout {me} (and install packaging/{UDEV_RULE})"))
    if not findings:
        found = ", ".join(p.name for p in ports) if ports else "no board plugged in"
        findings.append(Finding(True, f"USB serial: allowed ({found})"))
    return findings


def check_udev(machine: Machine) -> Finding:
    rule = next((d / UDEV_RULE for d in machine.udev_dirs if (d / UDEV_RULE).exists()), None)
    if rule is not None:
        return Finding(True, f"udev rule: {rule}")
    if machine.which("ModemManager") or any((d / "ModemManager").exists() for d in (Path("/usr/sbin"), Path("/sbin"))):
        return Finding(False, "udev rule: missing, and ModemManager runs here: it probes each new board for about "
                              "30 s (and sends it AT commands)",
                       f"sudo cp packaging/{UDEV_RULE} /etc/udev/rules.d/ && sudo udevadm control --reload")
    return Finding(True, f"udev rule: not installed (no ModemManager here; packaging/{UDEV_RULE} also gives each "
                         "board a name by USB port)")


def check_reader(device: str) -> Finding | None:
    if not device:
        return None
    path = Path(device)
    if not path.exists():
        return Finding(False, f"card reader {device}: not there (unplugged, or another name)",
                       "ls -l /dev/input/by-id/ and set desk.reader_device to the reader's -event-kbd line")
    if not os.access(path, os.R_OK):
        return Finding(False, f"card reader {device}: not readable for {user_name(os.getuid())}",
                       f"sudo usermod -aG input {user_name(os.getuid())}, then sign in again")
    return Finding(True, f"card reader {device}: readable")


def check_display(machine: Machine) -> Finding:
    env = machine.env
    platform = env.get("QT_QPA_PLATFORM", "")
    if not platform and not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
        return Finding(True, "display: none here (no DISPLAY or WAYLAND_DISPLAY): the headless hub runs; the desk "
                             "window and the wall display need a screen")
    if getattr(sys, "frozen", False):  # a PyInstaller bundle has no interpreter to run the probe with
        return Finding(True, "display: not checked from the bundle (start the window once to see that it opens)")
    try:
        probe = subprocess.run([sys.executable, "-c", QT_PROBE], env=dict(env), capture_output=True, text=True,
                               timeout=30)
    except subprocess.TimeoutExpired:
        return Finding(False, "display: Qt did not start within 30 s", "check the display server")
    if probe.returncode == 0:
        return Finding(True, f"display: Qt opens a window here ({probe.stdout.strip() or platform})")
    last = next((line for line in reversed(probe.stderr.splitlines()) if line.strip()), "no reason given")
    return Finding(False, f"display: Qt cannot open a window here: {last.strip()[:200]}",
                   "sudo bash packaging/system-deps.sh (Qt's system libraries)")


def check_database(config: Config) -> Finding:
    url = config.database_url
    if not url.startswith("sqlite:///"):
        return Finding(True, f"database: {config.database_label} (not checked here: not SQLite)")
    path = Path(url.removeprefix("sqlite:///"))
    if not path.exists():
        return Finding(True, f"database {path}: not made yet (the first start makes it)")
    head = _newest_migration()
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
            row = db.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error as exc:
        return Finding(False, f"database {path}: cannot be read: {exc}",
                       "restore the newest backup (`kiosk restore`), see docs/operations.md")
    version = row[0] if row else "none"
    if version == head:
        return Finding(True, f"database {path}: schema {version}, the newest")
    return Finding(True, f"database {path}: schema {version}; the next start upgrades it to {head}")


def _newest_migration() -> str:
    versions = Path(__file__).parent / "store" / "migrations" / "versions"
    names = sorted(p.name.split("_", 1)[0] for p in versions.glob("[0-9]*_*.py"))
    return names[-1] if names else "none"


def examine(config: Config, machine: Machine | None = None) -> list[Finding]:
    from kiosk.client.local_hub import lock_info

    machine = machine or Machine()
    ours = lock_info(config.data_dir) if config.data_dir.exists() else None
    findings = check_data_dir(config.data_dir, machine)
    if config.broker.url:
        findings.append(Finding(True, f"broker: external, {config.broker.url}"))
    else:
        findings.append(check_port("broker", config.broker.bind, config.broker.port, ours, "broker_port"))
    findings.append(check_port("HTTP", config.http.bind, config.http.port, ours, "http_port"))
    findings += check_serial(machine)
    findings.append(check_udev(machine))
    reader = check_reader(config.desk.reader_device)
    if reader is not None:
        findings.append(reader)
    findings.append(check_display(machine))
    findings.append(check_database(config))
    return findings


def report(findings: list[Finding], out: Callable[[str], object] = print) -> int:
    for finding in findings:
        out(f"  {'ok ' if finding.ok else 'FIX'}  {finding.what}")
        if finding.fix:
            out(f"       -> {finding.fix}")
    broken = sum(not f.ok for f in findings)
    out("nothing to fix" if not broken else f"{broken} thing{'s' if broken != 1 else ''} to fix")
    return 0 if not broken else 1
