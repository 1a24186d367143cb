"""Command line: the roles (hub, display, headless) and the sub-commands.

Heavy modules (SQLAlchemy, paho, amqtt) are imported inside the commands, so that `kiosk` paints its window fast.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from kiosk import __version__, logs
from kiosk.config import Config, ConfigError, describe, load
from kiosk.core.words import plural

EPILOG = """\
roles:
  hub (default)   window + embedded MQTT broker + database + device I/O
  --display       full-screen stall occupancy for a wall monitor (needs no database)
  --headless      the hub without a window: broker, ingest, database, HTTP; logs to the console
  --station       a second desk: the Lockers tab of a hub elsewhere (--hub URL, a token of kind station)

examples:
  kiosk                                   start the hub (window, or headless when there is no screen)
  kiosk device add --name "Stall W-2" --kind stall
  kiosk simulate                          run demo devices against the hub on this machine
  kiosk --station --hub http://hub.local:8080   (token in KIOSK_STATION_TOKEN or station.token_file)
  kiosk config show                       print every setting and where its value came from
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kiosk", description="Front Desk Kiosk " + __version__,
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"kiosk {__version__}")
    role = parser.add_mutually_exclusive_group()
    role.add_argument("--station", dest="role", action="store_const", const="station",
                      help="run as a desk station following the hub given by --hub URL")
    role.add_argument("--display", dest="role", action="store_const", const="display",
                      help="run as a wall display of stall occupancy")
    role.add_argument("--headless", dest="role", action="store_const", const="headless",
                      help="run the hub without a window")
    parser.add_argument("--hub", dest="hub", nargs="?", const="", default=None, metavar="URL",
                        help="run as the hub (the default); with --station: the hub's address, "
                        "e.g. http://hub.local:8080")
    parser.add_argument("--hub-file", metavar="FILE", help="the desk window: attach to the hub this file describes "
                        "(written by the hub service, e.g. /run/front-desk-kiosk/desk.json), never start one")
    parser.add_argument("--config-dir", help="folder of kiosk.toml (env KIOSK_CONFIG_DIR)")
    parser.add_argument("--data-dir", help="folder of the database and secrets (env KIOSK_DATA_DIR)")
    parser.add_argument("--broker-port", type=int, help="embedded broker TCP port (default 1883)")
    parser.add_argument("--http-port", type=int, help="HTTP server port (default 8080, 0 turns it off)")
    parser.add_argument("--broker", help="use this broker instead of the embedded one, e.g. mqtt://hub:1883")
    parser.add_argument("--log-level", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    parser.add_argument("--legacy-stallsense", action="store_true", default=None,
                        help="accept anonymous legacy StallSense boards (limited to their own topics)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    sub.add_parser("run", help="start the program in its role (the default)")

    config = sub.add_parser("config", help="settings").add_subparsers(dest="config_command", required=True)
    config.add_parser("show", help="print the effective settings and where each came from")

    device = sub.add_parser("device", help="devices and their tokens").add_subparsers(dest="device_command",
                                                                                       required=True)
    add = device.add_parser("add", help="register a device; prints its id and token (shown only once)")
    add.add_argument("--name", required=True)
    add.add_argument("--kind", required=True, choices=("stall", "energy", "esp32", "sensor", "display", "station"),
                     help="display: a wall display's own MQTT login (it may only read kiosk/state/...); station: "
                     "a second desk's token for the hub's API (kiosk --station --hub URL)")
    add.add_argument("--organization", default="default")
    add.add_argument("--expires", help="token expiry: days from now (e.g. 90) or a date (2027-06-30)")
    device.add_parser("list", help="list registered devices")
    token = device.add_parser("token", help="issue a new token for a device")
    token.add_argument("--rotate", metavar="ID", required=True, help="device whose token to replace")
    token.add_argument("--expires", help="expiry of the new token: days or a date")
    revoke = device.add_parser("revoke", help="revoke a device's token and drop its live connection")
    revoke.add_argument("id")
    repair = device.add_parser("re-pair", help="a legacy StallSense board moved to another address: admit its "
                               "next login from wherever it comes, and pin that address")
    repair.add_argument("id")

    sim = sub.add_parser("simulate", help="run demo devices (provisioned with real tokens) against a broker")
    sim.add_argument("--stalls", type=int, default=4)
    sim.add_argument("--meters", type=int, default=2)
    sim.add_argument("--ports", type=int, default=2, help="ports per energy meter")
    sim.add_argument("--esp32", type=int, default=1)
    sim.add_argument("--interval", type=float, default=5.0, help="seconds between energy readings")
    sim.add_argument("--voltage", default="220-240", help="voltage range in V, e.g. 220-240")
    sim.add_argument("--current", default="0.3-0.8", help="current range in A, e.g. 0.3-0.8")
    sim.add_argument("--serial", type=int, default=1, help="virtual USB boards (pseudo-terminals the hub opens)")
    sim.add_argument("--http", type=int, default=1, help="meters posting to POST /api/sensor/reading")
    sim.add_argument("--duration", type=float, default=0, help="stop after this many seconds (0: until Ctrl+C)")

    admin = sub.add_parser("admin", help="the admin PIN (editing at the front desk, leaving a wall display)")
    admin_sub = admin.add_subparsers(dest="admin_command", required=True)
    set_pin = admin_sub.add_parser("set-pin", help="set or change this machine's admin PIN")
    set_pin.add_argument("--stdin", action="store_true", help="read the PIN from standard input (for scripts)")

    port = sub.add_parser("port", help="measured ports of energy devices").add_subparsers(dest="port_command",
                                                                                         required=True)
    port_add = port.add_parser("add", help="add a port to a device; prints the port id (HTTP readings name it)")
    port_add.add_argument("device_id")
    port_add.add_argument("--name", required=True, help='what is plugged in, e.g. "Desk lamp"')
    port_add.add_argument("--channel", default=None, help="the device's own name for the port (the 'port' field of "
                          "its readings); default: none")
    port_add.add_argument("--active-w", type=float, default=10.0, help="at or above this draw the port is in use "
                          "(default 10 W)")
    port_add.add_argument("--schedule", default="", help='when it is expected in use, e.g. "mon-fri 08:00-21:00"; '
                          "outside it any draw above the noise floor counts as phantom load")
    edit = port.add_parser("edit", help="change a port's name, active threshold, schedule or phantom delay")
    edit.add_argument("port_id")
    edit.add_argument("--name")
    edit.add_argument("--active-w", type=float)
    edit.add_argument("--schedule", help='e.g. "mon-fri 08:00-21:00"; "" for any time')
    edit.add_argument("--phantom-after-min", type=float, help="minutes of standby draw before an alert (default 15)")
    calibrate = port.add_parser("calibrate", help="set a port's noise floor from its last minutes of readings, "
                                "taken with the load unplugged")
    calibrate.add_argument("port_id")
    calibrate.add_argument("--minutes", type=float, default=10.0, help="how far back to look (default 10)")
    port_list = port.add_parser("list", help="ports, with their device, channel and thresholds")
    port_list.add_argument("device_id", nargs="?", default=None)

    operator = sub.add_parser("operator", help="operator accounts (staff and admins who sign in at the kiosk)"
                              ).add_subparsers(dest="operator_command", required=True)
    operator_add = operator.add_parser("add", help="add an operator (the first one must be an admin)")
    operator_add.add_argument("name")
    operator_add.add_argument("--admin", action="store_true", help="an admin (default: staff)")
    operator_add.add_argument("--stdin", action="store_true", help="read the password from standard input")
    operator_password = operator.add_parser("passwd", help="set an operator's password (also lifts a lockout)")
    operator_password.add_argument("name")
    operator_password.add_argument("--stdin", action="store_true", help="read the password from standard input")
    operator.add_parser("list", help="operators, their role, last sign-in and lockout")

    firmware = sub.add_parser("firmware", help="firmware images for OTA updates (ESP32)").add_subparsers(
        dest="firmware_command", required=True)
    upload = firmware.add_parser("upload", help="store and sign an image (then update devices in Admin > Firmware)")
    upload.add_argument("file", help="the application image (.bin) the ESP32 build writes for OTA")
    upload.add_argument("--version", required=True, help="its version, e.g. 1.4.2")
    upload.add_argument("--kind", default="esp32", help="device kind it is for (default esp32)")
    firmware.add_parser("list", help="uploaded images: kind, version, size, SHA-256")
    firmware.add_parser("public-key", help="print the site's Ed25519 public key (embed it in the firmware)")

    serial = sub.add_parser("serial", help="USB-serial energy boards").add_subparsers(dest="serial_command",
                                                                                     required=True)
    serial.add_parser("list", help="boards seen: id, device their readings go to, port path, firmware")
    serial_map = serial.add_parser("map", help="send a board's readings to another device")
    serial_map.add_argument("board", help="the board's id (hello id, USB serial number or path-NAME)")
    serial_map.add_argument("device_id")

    lockers = sub.add_parser("lockers", help="lockers: status, roster import, history export").add_subparsers(
        dest="lockers_command", required=True)
    lockers.add_parser("status", help="free / in use / overdue / out of order now, and the overdue lockers")
    roster = lockers.add_parser("import-roster", help="preview a roster CSV (enrollment,name,programme); --yes adds "
                                "the new members")
    roster.add_argument("file")
    roster.add_argument("--yes", action="store_true", help="add the new members (without it: preview only)")
    history = lockers.add_parser("export-history", help="write the locker history as CSV")
    history.add_argument("file")
    history.add_argument("--member", default="", help="enrollment number or part of a name")
    history.add_argument("--locker", type=int, default=None)
    history.add_argument("--since", default=None, help="first day, e.g. 2026-09-01")
    history.add_argument("--until", default=None, help="last day, e.g. 2026-09-30")

    backup = sub.add_parser("backup", help="consistent copy of the live database, journal, secrets (OTA signing "
                            "key), firmware images and settings, into a private folder")
    backup.add_argument("path", help="a new or empty folder (in a folder with other files: a new dated one inside)")
    backup.add_argument("--keep-days", type=float, default=None,
                        help="PATH is a folder of backups (the daily timer's): a new dated one goes inside it, then "
                        "the dated backups there older than this many days are removed (the newest stays)")
    stop = sub.add_parser("stop", help="stop the hub running on this data folder (headless or in a window) cleanly")
    stop.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for it to finish (default 30)")
    sub.add_parser("doctor", help="check this installation (data folder, ports, USB serial, udev, display, "
                   "database) and say what to fix")
    restore = sub.add_parser("restore", help="put a backup folder back into an empty data folder (hub stopped)")
    restore.add_argument("path", help="the backup folder (the one holding MANIFEST.json)")
    return parser


def settings(args: argparse.Namespace, strict_file: bool = True) -> Config:
    role = args.role or ("hub" if getattr(args, "hub", None) is not None else None)
    flags = {"role": role, "station.hub_url": getattr(args, "hub", None) or None, "data_dir": args.data_dir,
             "broker.port": args.broker_port, "http.port": args.http_port, "broker.url": args.broker,
             "log.level": args.log_level, "desk.hub_file": getattr(args, "hub_file", None),
             "stalls.legacy_stallsense": args.legacy_stallsense}
    return load(flags, config_dir=args.config_dir, strict_file=strict_file)


def parse_expiry(text: str | None, now: float) -> float | None:
    if not text:
        return None
    try:
        days = float(text)
    except ValueError:
        try:
            when = datetime.fromisoformat(text).timestamp()
        except ValueError:
            raise SystemExit(f"--expires {text!r}: give days (e.g. 90) or a date (e.g. 2027-06-30)") from None
        if when <= now:
            raise SystemExit(f"--expires {text}: that is in the past; a token that has expired cannot log in. "
                             "Give a later date or a number of days.") from None
        return when
    if days <= 0:
        raise SystemExit("--expires must be a positive number of days")
    return now + days * 86400


def actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def run_command(args: argparse.Namespace) -> int:
    try:
        config = settings(args)
    except ConfigError as exc:
        print(f"kiosk: {exc}", file=sys.stderr)
        return 2
    logs.setup("WARNING" if config.log.level == "INFO" else config.log.level, with_time=False)
    handler = {"config": _config, "device": _device, "simulate": _simulate, "backup": _backup,
               "admin": _admin, "lockers": _lockers, "port": _port, "serial": _serial,
               "operator": _operator, "firmware": _firmware, "restore": _restore, "stop": _stop,
               "doctor": _doctor}[args.command]
    return handler(args, config)


def _doctor(args: argparse.Namespace, config: Config) -> int:
    from kiosk import doctor

    print(f"kiosk doctor: data folder {config.data_dir}, settings {config.config_dir}")
    return doctor.report(doctor.examine(config))


def _admin(args: argparse.Namespace, config: Config) -> int:
    from kiosk.client.pin_file import write_pin_hash
    from kiosk.core.pin import PinError, check_new_pin, hash_pin

    if args.stdin:
        pin = sys.stdin.readline().strip()
    else:
        pin = getpass.getpass("New admin PIN (at least 6 digits): ")
        if getpass.getpass("The same PIN again: ") != pin:
            print("kiosk: the two PINs differ; nothing was changed", file=sys.stderr)
            return 1
    try:
        check_new_pin(pin)
    except PinError as exc:
        print(f"kiosk: {exc}", file=sys.stderr)
        return 1
    write_pin_hash(config.data_dir, hash_pin(pin))
    registry = _registry(config)
    registry.record(actor(), "admin.pin.set", "admin-pin", "")
    print(f"admin PIN set for {config.data_dir}")
    return 0


def _new_password(stdin: bool) -> str | None:
    if stdin:
        return sys.stdin.readline().rstrip("\n")
    password = getpass.getpass("Password (at least 10 characters): ")
    if getpass.getpass("The same password again: ") != password:
        print("kiosk: the two passwords differ; nothing was changed", file=sys.stderr)
        return None
    return password


def _operator(args: argparse.Namespace, config: Config) -> int:
    """Whoever runs the CLI on the hub's machine can read its database: they act as an admin (audited as cli:USER);
    only the very first account is made without one."""
    from kiosk.core.operators import Role

    with _admin_desk(config) as (admin, through):
        if args.operator_command == "list":
            accounts = admin.operators()
            if not accounts:
                print("no operators yet: `kiosk operator add NAME --admin` makes the first admin")
            for account in accounts:
                last = (f"{datetime.fromtimestamp(account.last_login):%Y-%m-%d %H:%M}" if account.last_login
                        else "never")
                state = "disabled" if account.disabled else ("locked" if account.locked_until > time.time() else "")
                print(f"{account.name:<24} {account.role.value:<6} last sign-in {last}  {state}".rstrip())
            return 0
        password = _new_password(args.stdin)
        if password is None:
            return 1
        if args.operator_command == "add":
            role = Role.ADMIN if args.admin else Role.STAFF
            admin.add_operator(args.name, role, password)
            print(f"operator {args.name.strip()} added ({role.value}){through}")
        else:
            admin.set_password(args.name, password)
            print(f"password of {args.name} set; any lockout is lifted{through}")
    return 0


def _firmware(args: argparse.Namespace, config: Config) -> int:
    """Acts as an admin (cli:USER), like `kiosk operator`; the site key is made here if the hub never ran."""
    with _admin_desk(config) as (admin, through):
        if args.firmware_command == "public-key":
            print(admin.public_key())
            return 0
        if args.firmware_command == "list":
            images = admin.firmware_images()
            if not images:
                print("no firmware images yet: `kiosk firmware upload FILE --version X.Y.Z`")
            for image in images:
                print(f"{image.kind:<8} {image.version:<12} {image.size:>10,} B  sha256 {image.sha256}  "
                      f"{image.filename}")
            return 0
        path = Path(args.file)
        try:
            data = path.read_bytes()
        except OSError as exc:
            print(f"kiosk: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
            return 1
        image = admin.upload_firmware(args.kind, args.version, path.name, data)
        print(f"stored {image.kind} {image.version}: {image.size:,} bytes{through}\nsha256    {image.sha256}\n"
              f"signature {image.signature}")
    return 0


def _serial(args: argparse.Namespace, config: Config) -> int:
    with _admin_desk(config) as (admin, through):
        if args.serial_command == "map":
            admin.map_serial_board(args.board, args.device_id)
            print(f"board {args.board}: readings now go to device {args.device_id}{through}")
            return 0
        boards = admin.serial_boards()
        if not boards:
            print("no USB boards seen yet (plug one in while the hub runs; `kiosk config show` lists serial.*)")
        for board in boards:
            print(f"{board.key:<24} device {board.device_id:<40} {board.path}  firmware {board.firmware or '?'}  "
                  f"last seen {datetime.fromtimestamp(board.last_seen):%Y-%m-%d %H:%M:%S}")
    return 0


def _port(args: argparse.Namespace, config: Config) -> int:
    with _admin_desk(config) as (admin, through):
        if args.port_command == "add":
            port = admin.add_port(args.device_id, args.name, args.channel, args.active_w, args.schedule)
            print(f"port id: {port.id}{through}")
            print(f"  {port.name} on device {port.device_id}" + (f", channel {port.channel}" if port.channel else ""))
            print('  HTTP readings: POST /api/sensor/reading {"deviceToken": ..., "portId": "' + port.id + '", ...}')
            return 0
        if args.port_command == "edit":
            port = admin.edit_port(args.port_id, args.name, args.active_w, args.schedule,
                                   None if args.phantom_after_min is None else args.phantom_after_min * 60)
            print(f"port {port.id}: {port.name}, active >= {port.active_w:g} W, schedule "
                  f"{port.schedule or 'any time'}, phantom after {port.phantom_after_s / 60:g} min{through}")
            return 0
        if args.port_command == "calibrate":
            floor = admin.calibrate(args.port_id, args.minutes)
            print(f"noise floor of port {args.port_id}: {floor:.2f} W{through}")
            return 0
        ports = admin.ports(args.device_id)
        if not ports:
            print("no ports yet: `kiosk port add DEVICE_ID --name NAME`")
        for port in ports:
            floor = "estimated" if port.noise_floor_w is None else f"{port.noise_floor_w:.2f} W"
            print(f"{port.id}  {port.name:<24} device {port.device_id}  channel {port.channel or '-'}  active >= "
                  f"{port.active_w:g} W  noise floor {floor}  schedule {port.schedule or 'any time'}")
    return 0


def _hub_client(config: Config, token_file: str) -> Any:
    """An API client for the hub running on this data folder, with this machine's token `token_file` (None: no hub
    runs here, it serves no HTTP, or the token is not there)."""
    from kiosk.client.local_hub import api_url, lock_info, read_station_token

    running = lock_info(config.data_dir)
    url = api_url(running, config.http.bind) if running else None
    token = read_station_token(config.data_dir, token_file) if url else None
    if not url or not token:
        return None
    from kiosk.client.http import ApiClient

    return ApiClient(url, token, actor=actor())


class _AdminDesk:
    """`with _AdminDesk(config) as (admin, through)`: the running hub's admin API as this machine's CLI (its
    changes reach every screen at once), else the data folder itself (kiosk.cli_offline: no hub to tell). A refusal
    or an unreachable hub is printed as one line and the command exits 1."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self._admin: Any = None

    def __enter__(self) -> tuple[Any, str]:
        from kiosk.client.local_hub import CLI_TOKEN_FILE

        client = _hub_client(self._config, CLI_TOKEN_FILE)
        if client is not None:
            from kiosk.client.admin import RemoteAdmin

            self._admin = RemoteAdmin(client)
            return self._admin, " (through the running hub)"
        from kiosk.cli_offline import OfflineAdmin

        self._admin = OfflineAdmin(self._config, actor())
        return self._admin, ""

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> bool:
        client = getattr(self._admin, "client", None)
        if client is not None:
            client.close()
        elif self._admin is not None:
            self._admin.close()
        if isinstance(exc, (LookupError, ValueError, PermissionError, ConnectionError)):
            text = str(exc).strip("'\"")
            hint = " (see `kiosk device list`)" if isinstance(exc, LookupError) and "device" in text else ""
            print(f"kiosk: {text}{hint}", file=sys.stderr)
            raise SystemExit(1) from None
        return False


_admin_desk = _AdminDesk


def _hub_lockers(config: Config) -> Any:
    """The running hub's Lockers API as this machine's CLI (None: no hub runs here, or it serves no HTTP)."""
    from kiosk.client.local_hub import STATION_TOKEN_FILE

    client = _hub_client(config, STATION_TOKEN_FILE)
    if client is None:
        return None
    from kiosk.client.lockers import RemoteLockers

    return RemoteLockers(client)


class _LocalLockers:
    """The locker desk in this process, with the methods the CLI shares with kiosk.client.lockers.RemoteLockers."""

    def __init__(self, desk: Any, operator: Any) -> None:
        self._desk = desk
        self._operator = operator
        self.board, self.member_count, self.counts = desk.board, desk.member_count, desk.counts

    def preview_roster(self, text: str) -> Any:
        from kiosk.core.lockers import preview_roster

        return preview_roster(text, self._desk.enrollments())

    def import_roster(self, preview: Any) -> int:
        return int(self._desk.import_roster(preview, self._operator))

    def export_history(self, wanted: Any, out: Any, progress: Any) -> int:
        return int(self._desk.export_history(wanted, out, progress))


def _lockers(args: argparse.Namespace, config: Config) -> int:
    from kiosk.client.http import HubUnreachable
    from kiosk.core.lockers import LockerError
    from kiosk.protocol.api import ApiError

    desk = _hub_lockers(config)  # a hub runs on this data folder: through its API, so every screen hears at once
    through = " (through the running hub)" if desk is not None else ""
    if desk is None:
        from kiosk.store.db import open_store
        from kiosk.store.lockers import Operator, Role, locker_desk_for

        desk = _LocalLockers(locker_desk_for(config, open_store(config.database_url)), Operator(actor(), Role.STAFF))
    try:
        return _lockers_command(args, desk, through)
    except (ApiError, LockerError) as exc:
        print(f"kiosk: the hub refused: {exc}", file=sys.stderr)
        return 1
    except (HubUnreachable, OSError) as exc:
        print(f"kiosk: {exc}", file=sys.stderr)
        return 1
    finally:
        client = getattr(desk, "client", None)
        if client is not None:
            client.close()


def _lockers_command(args: argparse.Namespace, desk: Any, through: str) -> int:
    from datetime import timedelta

    from kiosk.core.lockers import HistoryFilter, LockerStatus

    if args.lockers_command == "status":
        now = time.time()
        counts = desk.counts()
        print(f"{counts.free} free, {counts.in_use} in use ({counts.overdue} overdue), {counts.out_of_order} out of "
              f"order; {desk.member_count()} members")
        for state in desk.board():
            if state.status(now) is LockerStatus.OVERDUE:
                print(f"  overdue: locker {state.number} ({state.bank}) {state.member} {state.name}, due "
                      f"{datetime.fromtimestamp(state.due_at or 0):%Y-%m-%d %H:%M}")
        return 0
    if args.lockers_command == "import-roster":
        try:
            text = Path(args.file).read_bytes().decode("utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            print(f"kiosk: {args.file} could not be read as UTF-8 text: {exc}", file=sys.stderr)
            return 1
        preview = desk.preview_roster(text)
        print(f"{len(preview.new)} new members, {len(preview.known)} already on the roster, "
              f"{len(preview.errors)} rows refused")
        for line, problem in preview.errors:
            print(f"  line {line}: {problem}")
        if not args.yes:
            print("nothing imported yet: run again with --yes to add the new members")
            return 0
        print(f"added {desk.import_roster(preview)} members{through}")
        return 0
    try:
        since = datetime.fromisoformat(args.since).timestamp() if args.since else None
        until = ((datetime.fromisoformat(args.until) + timedelta(days=1)).timestamp() if args.until else None)
    except ValueError:
        print("kiosk: --since and --until take dates like 2026-09-30", file=sys.stderr)
        return 2
    with open(args.file, "w", newline="", encoding="utf-8") as out:
        written = desk.export_history(HistoryFilter(args.member, args.locker, since, until), out, lambda rows: True)
    print(f"wrote {written} assignments to {args.file}")
    return 0


def _config(_args: argparse.Namespace, config: Config) -> int:
    print(describe(config))
    return 0


def _registry(config: Config) -> Any:
    from kiosk.store.db import open_store
    from kiosk.store.devices import DeviceRegistry

    return DeviceRegistry(open_store(config.database_url))


def _device(args: argparse.Namespace, config: Config) -> int:
    with _admin_desk(config) as (admin, through):
        if args.device_command == "add":
            created = admin.create_device(args.name, args.kind, parse_expiry(args.expires, time.time()),
                                          args.organization)
            print(f"device id: {created.info.id}\ntoken:     {created.token}\n\n"
                  f"The token is shown only this once: write it into the device now.{through}\n"
                  f"MQTT login: username = device id, password = token; topics devices/{created.info.id}/...")
        elif args.device_command == "list":
            _print_devices(admin)
        elif args.device_command == "token":
            token = admin.rotate(args.rotate, parse_expiry(args.expires, time.time()))
            print(f"new token: {token}\n\nShown only this once. The old token no longer works.")
        elif args.device_command == "re-pair":
            admin.repair_legacy(args.id)
            print(f"{args.id}: its next login is admitted from any address, which is then pinned")
        elif args.device_command == "revoke":
            admin.revoke(args.id)
            print(f"revoked {args.id}" + ("; its live connection was dropped" if through else
                                          "; the hub is not running here (it will refuse the device when it starts)"))
    return 0


def _print_devices(admin: Any) -> None:
    rows = admin.devices()
    if not rows:
        print("no devices yet: `kiosk device add --name NAME --kind stall` or `kiosk simulate`")
        return
    expiry = admin.token_expiries()
    print(f"{'id':<36}  {'name':<20} {'kind':<10} {'state':<10} {'last seen':<19} {'msgs':>6} {'rej':>5}  token")
    for s in rows:
        seen = datetime.fromtimestamp(s.last_seen).strftime("%Y-%m-%d %H:%M:%S") if s.last_seen else "-"
        state = "revoked" if s.revoked else s.online.value
        exp = expiry.get(s.id)
        day = datetime.fromtimestamp(exp).strftime("%Y-%m-%d") if exp else ""
        token = "revoked" if s.revoked else ("valid" if not exp else
                                             f"EXPIRED {day}" if exp <= time.time() else f"expires {day}")
        if s.kind == "stallsense":
            token = "none (legacy)"
        print(f"{s.id:<36}  {s.name[:20]:<20} {s.kind:<10} {state:<10} {seen:<19} {s.received:>6} "
              f"{s.rejected:>5}  {token}")
    pending = [d for d in admin.sensors() if d.stall_id is None and not d.revoked and d.kind == "stallsense"]
    if pending:
        print("\nStallSense boards waiting to be assigned to a stall (Stalls tab, Edit):")
        for d in pending:
            kind = {"com.StallSense.DoorSensor": "door", "com.StallSense.ThermalSensor": "thermal"}.get(
                d.model or "", d.model or "type not reported yet")
            print(f"  {d.name:<20} {kind:<22} IP {d.ip or 'not reported yet'}")


def _stall_directory(registry: Any) -> Any:
    from kiosk.store.stalls import StallDirectory

    return StallDirectory(registry.engine)


def _range(text: str, what: str) -> tuple[float, float]:
    try:
        low, high = (float(x) for x in text.split("-", 1))
    except ValueError:
        raise SystemExit(f"--{what} {text!r}: give a range like 220-240") from None
    if low > high:
        raise SystemExit(f"--{what} {text!r}: the first number must not be larger than the second")
    return low, high


def _simulate(args: argparse.Namespace, config: Config) -> int:
    from kiosk.services.mqtt_client import BrokerAddress
    from kiosk.services.simulator import SimulationPlan, build_simulator, demo_restroom, demo_roster
    from kiosk.store.lockers import LockerDesk

    plan = SimulationPlan(args.stalls, args.meters, args.ports, args.esp32, args.interval,
                          _range(args.voltage, "voltage"), _range(args.current, "current"), serial_boards=args.serial,
                          http_meters=args.http)
    registry = _registry(config)
    address = (BrokerAddress.parse(config.broker.url) if config.broker.url
               else BrokerAddress("127.0.0.1", config.broker.port))
    simulator, devices = build_simulator(registry, config.data_dir, address, config.http.port, plan)
    if demo_restroom(_stall_directory(registry), devices):
        print("created the demo restroom; its stalls follow the demo stall sensors")
    if demo_roster(LockerDesk(registry.engine)):
        print("added the demo roster (10 students, CS2021001 Rahul Sharma ...) for the Lockers tab")
    simulator.start()
    print(f"simulating {len(devices)} devices against {address} (MQTT), {plan.serial_boards} virtual USB boards "
          f"in {config.data_dir / 'serial'} and {plan.http_meters if config.http.port else 0} HTTP meters; "
          "Ctrl+C stops")
    try:
        deadline = time.monotonic() + args.duration if args.duration else None
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        simulator.stop()
    print(f"published {simulator.published} messages")
    return 0


def _backup(args: argparse.Namespace, config: Config) -> int:
    from kiosk.store.backup import BackupError, backup
    from kiosk.store.db import open_store

    try:
        report = backup(open_store(config.database_url), config.data_dir, config.config_dir, Path(args.path),
                        dated=args.keep_days is not None)
    except BackupError as exc:
        print(f"kiosk: {exc}", file=sys.stderr)
        return 1
    print(f"backup written to {report.folder}: {plural(report.files, 'file')}, {report.bytes / 1e6:.1f} MB, with the "
          f"secrets {', '.join(report.secrets) or '(none yet)'}.\nKeep it where only you can read it: it holds the OTA "
          "signing key. Restore with `kiosk restore FOLDER` into an empty data folder.")
    if args.keep_days is not None:
        from kiosk.store.backup import prune

        removed = prune(Path(args.path), args.keep_days)
        print(f"removed {len(removed)} backup{'s' if len(removed) != 1 else ''} older than {args.keep_days:g} days"
              + (f": {', '.join(p.name for p in removed)}" if removed else ""))
    return 0


def _stop(args: argparse.Namespace, config: Config) -> int:
    """SIGTERM to the hub that holds this data folder's lock, then wait until the lock is free."""
    import signal

    from kiosk.services.hub_lock import running_hub

    info = running_hub(config.data_dir)
    if info is None:
        print(f"no hub is running on {config.data_dir}")
        return 0
    pid = info.get("pid")
    if not isinstance(pid, int):
        print(f"kiosk: a hub holds {config.data_dir} but did not say its process id", file=sys.stderr)
        return 1
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    except PermissionError:
        print(f"kiosk: the hub (process {pid}) belongs to another user: stop it as that user, or with "
              "`systemctl stop kiosk-hub`", file=sys.stderr)
        return 1
    deadline = time.monotonic() + args.timeout
    while running_hub(config.data_dir) is not None:
        if time.monotonic() > deadline:
            print(f"kiosk: the hub (process {pid}) is still stopping after {args.timeout:g} s", file=sys.stderr)
            return 1
        time.sleep(0.1)
    print(f"the hub (process {pid}) stopped (nothing it acknowledged is lost: what it had not stored yet waits in "
          "its journal for the next start)")
    return 0


def _restore(args: argparse.Namespace, config: Config) -> int:
    from kiosk.store.backup import BackupError, restore

    try:
        report = restore(Path(args.path), config.data_dir, config.config_dir)
    except BackupError as exc:
        print(f"kiosk: {exc}", file=sys.stderr)
        return 1
    secrets = ", ".join(report.secrets) or "none"
    print(f"restored {plural(report.files, 'file')} into {report.folder} (secrets: {secrets}); "
          "start the kiosk as usual")
    return 0


