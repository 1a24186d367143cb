"""Settings: every one declared once, read from defaults < TOML file < KIOSK_* environment < command line.

Each value remembers where it came from so that `kiosk config show` can say why a setting has its value. The module
imports only the standard library and platformdirs, so reading settings costs nothing before the first paint.
"""

from __future__ import annotations

import logging
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar, overload

import platformdirs

log = logging.getLogger(__name__)

APP_NAME = "front-desk-kiosk"
CONFIG_FILE_NAME = "kiosk.toml"
RUNTIME_FILE_NAME = "runtime.toml"  # written by the kiosk when an admin changes a run-time setting
CONFIG_VERSION = 1
ROLES = ("hub", "display", "headless", "station")


class ConfigError(Exception):
    """A setting or the settings file cannot be used; the message names the file, line or key."""


@dataclass(frozen=True)
class Setting:
    """One setting: its dotted key, type, default and help; env and flag names derive from the key."""

    key: str
    type: type
    default: Any
    help: str
    flag: str | None = None
    choices: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None  # a text setting must match this (e.g. a time of day)
    example: str = ""
    runtime: bool = False  # an admin may change it in the Admin tab while the kiosk runs (kept in runtime.toml)

    @property
    def env(self) -> str:
        return "KIOSK_" + self.key.upper().replace(".", "_")

    def parse(self, raw: Any) -> Any:
        """Turn a file, environment or flag value into the declared type, or raise ConfigError."""
        try:
            value = _coerce(self.type, raw)
        except ConfigError as exc:
            raise ConfigError(f"{self.key}: {exc}") from None
        if self.choices is not None and value not in self.choices:
            raise ConfigError(f"{self.key}: {value!r} is not one of {', '.join(map(str, self.choices))}")
        if self.minimum is not None and value < self.minimum:
            raise ConfigError(f"{self.key}: {value} is below the minimum {self.minimum}")
        if self.maximum is not None and value > self.maximum:
            raise ConfigError(f"{self.key}: {value} is above the maximum {self.maximum}")
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            raise ConfigError(f"{self.key}: {value!r} is not like {self.example!r}")
        return value


def _coerce(kind: type, raw: Any) -> Any:
    if kind is bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"expected true or false, got {raw!r}")
    if kind is int:
        if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
            raise ConfigError(f"expected a whole number, got {raw!r}")
        try:
            return int(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"expected a whole number, got {raw!r}") from None
    if kind is float:
        if isinstance(raw, bool):
            raise ConfigError(f"expected a number, got {raw!r}")
        try:
            return float(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"expected a number, got {raw!r}") from None
    if kind is str:
        if isinstance(raw, (dict, list)):
            raise ConfigError(f"expected text, got {raw!r}")
        return str(raw)
    raise ConfigError(f"unsupported setting type {kind}")


T = TypeVar("T")
S = TypeVar("S", bound="Section")


class Option(Generic[T]):
    """One setting declared on its section: `port = option(int, 1883, "...")` in BrokerSettings is the setting
    broker.port, read as `config.broker.port` (an int to the type checker) and as `config.broker.port`."""

    def __init__(self, kind: type[T], default: T, help: str, **details: Any) -> None:
        self.kind = kind
        self.default = default
        self.help = help
        self.details = details
        self.setting: Setting | None = None
        self.name = ""

    def __set_name__(self, owner: type[Section], name: str) -> None:
        self.name = name

    def declare(self, prefix: str) -> Setting:
        key = f"{prefix}.{self.name}" if prefix else self.name
        self.setting = Setting(key, self.kind, self.default, self.help, **self.details)
        return self.setting

    @overload
    def __get__(self, section: None, owner: type[Section]) -> Option[T]: ...

    @overload
    def __get__(self, section: Section, owner: type[Section]) -> T: ...

    def __get__(self, section: Section | None, owner: type[Section]) -> Option[T] | T:
        if section is None:
            return self
        assert self.setting is not None
        return section.config[self.setting.key]  # type: ignore[no-any-return]


def option(kind: type[T], default: T, help: str, **details: Any) -> Option[T]:
    """A setting of the section it is assigned in (see Option); `details` are Setting's optional fields."""
    return Option(kind, default, help, **details)


class Section:
    """The settings under one prefix, read live from a Config (an admin's change in the Admin tab shows at once)."""

    prefix = ""

    def __init__(self, config: Config) -> None:
        self.config = config

    @classmethod
    def declared(cls) -> list[Setting]:
        return [value.declare(cls.prefix) for value in vars(cls).values() if isinstance(value, Option)]


class SectionOf(Generic[S]):
    """`broker = SectionOf(BrokerSettings)` on Config: `config.broker` is that section of this config."""

    def __init__(self, kind: type[S]) -> None:
        self.kind = kind

    def __get__(self, config: Config, owner: type[Config]) -> S:
        return self.kind(config)


class General(Section):
    """What this program runs and where its data lives."""

    prefix = ""
    role = option(str, "hub", "What this program runs: hub (GUI + services), display (wall view), headless, "
        "station (a desk window following a hub elsewhere).",
        choices=ROLES)
    data_dir = option(str, "", "Where the database, secrets and logs live (empty: the user's data directory).",
        flag="--data-dir")


class LogSettings(Section):
    """Logging."""

    prefix = "log"
    level = option(str, "INFO", "Log level: DEBUG, INFO, WARNING or ERROR.",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"))


class BrokerSettings(Section):
    """The MQTT broker (embedded, or one elsewhere)."""

    prefix = "broker"
    embedded = option(bool, True, "Run the embedded MQTT broker in this process.")
    process = option(str, "child", "Run the embedded broker in a supervised child process (child) or on a "
        "thread of the hub (thread). A child has its own CPU core and cannot take the window down.",
        choices=("child", "thread"))
    bind = option(str, "0.0.0.0", "Address the embedded broker listens on (0.0.0.0: all interfaces).")
    port = option(int, 1883, "TCP port of the embedded broker.", flag="--broker-port", minimum=1,
        maximum=65535)
    url = option(str, "", "Broker the device worker connects to, e.g. mqtt://hub:1883 "
        "(empty: the embedded broker on this machine).", flag="--broker")
    username = option(str, "", "Username for broker.url (empty: the hub's internal account).")
    password = option(str, "", "Password for broker.url (empty: the hub's internal account).")
    websocket = option(bool, False, "Also accept MQTT over WebSocket (browsers, some gateways).")
    websocket_port = option(int, 9001, "Port of the WebSocket listener.", minimum=1, maximum=65535)
    tls = option(bool, False, "Also accept MQTT over TLS; needs broker.tls_cert and broker.tls_key.")
    tls_port = option(int, 8883, "Port of the TLS listener.", minimum=1, maximum=65535)
    tls_cert = option(str, "", "PEM certificate file for the TLS listener.")
    tls_key = option(str, "", "PEM private key file for the TLS listener.")
    max_connections = option(int, 2000, "Most simultaneous connections per listener.", minimum=1)
    connect_timeout_s = option(float, 10.0, "A connection that sends no CONNECT within this time is closed.",
        minimum=1, maximum=300)
    max_inflight = option(int, 20, "Unacknowledged QoS 1/2 messages per client; more wait in its queue.",
        minimum=1, maximum=65535)
    session_expiry_s = option(float, 7 * 86400, "A persistent session (clean session 0) whose client stays "
        "away this long is forgotten, with its queued messages.", minimum=1)
    journal = option(bool, True, "Write every device message to the journal (journal.db in the data "
        "folder) before the embedded broker acknowledges it, so that a PUBACK means the reading is on disk and "
        "is stored even if the kiosk is stopped or killed before it reaches the database.")
    journal_sync = option(str, "full", "How the journal reaches the disk: full (an acknowledged message "
        "survives a power cut), normal (it survives a crash of the kiosk, not a power cut), off (left to the "
        "operating system). See docs/reliability.md for what each costs.", choices=("full", "normal", "off"))
    max_packet_bytes = option(int, 256 * 1024, "Largest MQTT packet accepted; a larger one closes the "
        "connection.", minimum=1024, maximum=256 * 1024 * 1024)


class HttpSettings(Section):
    """The HTTP server: the API, device readings, health, metrics, firmware downloads."""

    prefix = "http"
    bind = option(str, "0.0.0.0", "Address the HTTP server (health, device API) listens on.")
    port = option(int, 8080, "Port of the HTTP server (0: off).", flag="--http-port", minimum=0,
        maximum=65535)
    request_timeout_s = option(float, 10.0, "A request's headers must arrive within this time of its "
        "connection opening (or of the previous answer), and then its body within the same time; slower "
        "connections are closed.", minimum=1, maximum=600)
    max_connections_per_address = option(int, 20, "Open HTTP connections one client address may hold; more "
        "are closed at once.", minimum=1)
    status_token = option(str, "", "If set, /metrics and /api/v1/health answer only requests with "
        "\"Authorization: Bearer <this token>\" (Prometheus: authorization.credentials). Empty: open on the LAN.")
    status_bind = option(str, "", "If set (host:port, e.g. 127.0.0.1:9100), /metrics and /api/v1/health are "
        "served there and no longer on http.port.", pattern=r"|[^\s:]*:\d{1,5}", example="127.0.0.1:9100")
    advertised_host = option(str, "", "Host name or address devices use to reach this kiosk's HTTP server "
        "(firmware downloads); empty: the address of the network interface that has the default route.")


class OtaSettings(Section):
    """Firmware updates over the air."""

    prefix = "ota"
    parallel = option(int, 3, "Firmware updates in flight at once during a rollout.", minimum=1, maximum=50,
        runtime=True)
    orders_per_minute = option(int, 6, "New firmware update orders per minute during a rollout.", minimum=1,
        maximum=600, runtime=True)


class DatabaseSettings(Section):
    """The database."""

    prefix = "database"
    url = option(str, "", "SQLAlchemy URL (empty: SQLite file kiosk.db in the data directory).")


class IngestSettings(Section):
    """Taking device readings in."""

    prefix = "ingest"
    max_payload_bytes = option(int, 16384, "Largest device payload accepted; larger ones are rejected.",
        minimum=64)
    batch_ms = option(int, 50, "Longest a reading waits before it is committed (milliseconds).", minimum=5,
        maximum=5000)
    batch_rows = option(int, 500, "Store writer commits when this many rows are waiting.", minimum=1)
    max_past_s = option(float, 7 * 86400, "A reading that carries its own time (`ts`: a device's offline "
        "backlog) is kept if it is at most this old; older ones are rejected as out_of_range.", minimum=60)
    max_future_s = option(float, 300.0, "A reading's own time may be this far ahead of the kiosk's clock "
        "(a device clock running fast); further ahead it is rejected as out_of_range.", minimum=0)


class DevicesSettings(Section):
    """Devices' liveness."""

    prefix = "devices"
    offline_after_s = option(float, 90.0, "Seconds without a message after which a device whose report "
        "rhythm is not learned yet shows NO SIGNAL (a known rhythm: about three missed reports).",
        minimum=1, runtime=True)


class StallsSettings(Section):
    """Restroom stalls."""

    prefix = "stalls"
    legacy_stallsense = option(bool, False, "Accept legacy StallSense boards: anonymous MQTT, limited to "
        "the topics N, N/id, N/ip and N/rst of their own name N. Off by default.",
        flag="--legacy-stallsense")
    legacy_max_pending = option(int, 50, "Legacy mode: at most this many new StallSense boards wait for "
        "an admin at once; further new names are refused (counted as \"too many pending boards\").", minimum=1,
        maximum=10_000)
    debounce_s = option(float, 2.0, "A sensor input that flips again within this time must hold this long "
        "before the stall changes (the first change shows at once).", minimum=0, maximum=60)
    door_left_shut_s = option(float, 600.0, "A closed door with nobody inside for this long is flagged "
        "\"door left shut\".", minimum=30)
    report_interval_s = option(float, 10.0, "A stall sensor's report interval until its own is learned; "
        "a sensor that misses about three reports makes its stall NO SIGNAL.", minimum=1)


class SecuritySettings(Section):
    """Logins and tokens."""

    prefix = "security"
    login_free_failures = option(int, 10, "Failed MQTT logins or wrong HTTP device tokens a minute, per "
        "source address and per name, before further failures are answered only after a growing delay (good "
        "logins never wait).", minimum=1)
    login_max_delay_s = option(float, 30.0, "Longest delay before a repeated failed login or token is "
        "answered.", minimum=0.1, maximum=600)


class DisplaySettings(Section):
    """The wall display."""

    prefix = "display"
    dim_from = option(str, "22:00", "Wall display: dim from this time (HH:MM; equal to dim_to: never).")
    dim_to = option(str, "06:00", "Wall display: back to full brightness at this time (HH:MM).")
    dim_brightness = option(float, 40.0, "Wall display: brightness while dimmed, in percent.", minimum=5,
        maximum=100)
    show_lockers = option(bool, False, "Wall display: also show how many lockers are free.")


class StationSettings(Section):
    """A station: a desk window following a hub elsewhere."""

    prefix = "station"
    hub_url = option(str, "", "A station's hub: its API address, e.g. http://hub.local:8080 (flag: "
        "--station --hub URL).", example="http://192.168.1.20:8080")
    token = option(str, "", "A station's token (a device of kind station: `kiosk device add --kind "
        "station`). Prefer station.token_file or the environment; never logged.")
    token_file = option(str, "", "A file holding the station's token (readable by the kiosk's user "
        "only).")


class LockersSettings(Section):
    """Lockers."""

    prefix = "lockers"
    count = option(int, 150, "Number of lockers (1..count). Fewer than before hides the lockers above "
        "it once they are free; their history stays.", minimum=1, maximum=5000)
    bank_size = option(int, 50, "Lockers per bank: 1..bank_size are the first bank, and so on.", minimum=1)
    bank_labels = option(str, "", "Names of the banks in order, comma-separated (e.g. \"Ground floor, "
        "First floor\"); unnamed banks are Bank A, Bank B...")
    policy = option(str, "lowest", "Which free locker a member gets: lowest (the lowest number) or spread "
        "(a locker in the bank with the most free lockers).", choices=("lowest", "spread"))
    due_hours = option(float, 4.0, "An assignment is due this many hours after it was made (unless "
        "lockers.closing_time is set).", minimum=0.1, maximum=24 * 14)
    closing_time = option(str, "", "If set (HH:MM), every assignment is due at this time of day instead "
        "of after lockers.due_hours.", pattern=r"|([01]?\d|2[0-3]):[0-5]\d", example="21:30")


class DeskSettings(Section):
    """The front desk window."""

    prefix = "desk"
    reader_max_gap_ms = option(float, 50.0, "A card reader types a card's number and Enter faster than a person: keys "
                               "at most this far apart (milliseconds), ended by Enter, are a swipe, taken to the "
                               "locker desk from any tab.", minimum=5, maximum=500)
    reader_min_chars = option(int, 4, "A swipe has at least this many characters before its Enter.", minimum=2,
                              maximum=64)
    signin_idle_s = option(int, 7200, "Staff who sign in at the desk (their name then goes into the audit log "
                           "instead of 'front desk') are signed out after this many seconds without a desk action.",
                           minimum=300, maximum=12 * 3600)
    reader_device = option(str, "", "A card reader read as its own input device instead of as keys in the window: its "
                           "event device, best by id (/dev/input/by-id/usb-...-event-kbd). Its keys then reach no "
                           "window; the kiosk's user needs the 'input' group. Empty: readers type into the window.",
                           example="/dev/input/by-id/usb-ACME_Card_Reader-event-kbd")
    hub_file = option(str, "", "The desk window attaches to the hub this file describes (one that desk.share_file "
                      "of a hub run as a service writes) and never starts a hub of its own: the package's menu entry "
                      "uses /run/front-desk-kiosk/desk.json. Empty: the hub of this data folder, started when none "
                      "runs.", flag="--hub-file", example="/run/front-desk-kiosk/desk.json")
    share_file = option(str, "", "While it runs, the hub writes its address and this machine's station token to "
                        "this file (removed at its stop), readable by desk.share_group, so that people signed in "
                        "at this PC may open the desk window (desk.hub_file). The package's service: "
                        "/run/front-desk-kiosk/desk.json. Empty: none.", example="/run/front-desk-kiosk/desk.json")
    share_group = option(str, "", "The group that may read desk.share_file (the package: kiosk-desk; the hub's user "
                         "must be in it). Empty: the hub's user only.", example="kiosk-desk")


class AdminSettings(Section):
    """The Admin tab."""

    prefix = "admin"
    idle_lock_s = option(int, 300, "The admin tab locks itself after this many seconds without input.",
        minimum=30, maximum=3600, runtime=True)


class SerialSettings(Section):
    """USB-serial energy boards."""

    prefix = "serial"
    enabled = option(bool, True, "Read energy boards on USB serial ports (Arduino: one JSON line per "
        "reading).")
    ports = option(str, "", "Serial ports to open besides the USB boards found by id, comma-separated "
        "(e.g. /dev/ttyUSB0).")
    usb_ids = option(str, "2341:0043,2341:0001,2341:0042,2a03:0043,1a86:7523,0403:6001,10c4:ea60",
        "USB vendor:product ids of boards to open when plugged in (Arduino Uno, CH340, FTDI, CP210x); empty: "
        "only serial.ports.", pattern=r"\s*|[0-9a-fA-F]{4}:[0-9a-fA-F]{4}(\s*,\s*[0-9a-fA-F]{4}:[0-9a-fA-F]{4})*",
        example="2341:0043,1a86:7523")
    baud = option(int, 9600, "Baud rate of the serial boards.", minimum=300, maximum=2_000_000)
    max_lines_per_s = option(int, 100, "Lines per second a board may send; more are dropped and counted.",
        minimum=1)


class EnergySettings(Section):
    """Energy ports and their history."""

    prefix = "energy"
    tariff_per_kwh = option(float, 0.15, "Electricity price per kWh, for the cost of phantom loads.",
        minimum=0, runtime=True)
    raw_retention_days = option(float, 90.0, "Raw energy readings older than this are deleted (0: kept "
        "forever); the per-minute, hour and day rollups keep the history.", minimum=0)
    minute_retention_days = option(float, 400.0, "Per-minute rollups older than this are deleted (0: kept "
        "forever); hour and day rollups are kept forever.", minimum=0)
    currency = option(str, "", "Currency shown with costs (e.g. EUR, INR); empty: none.", runtime=True,
        pattern=r"[A-Za-z$€£¥₹ .]{0,8}", example="EUR")


SECTIONS: tuple[type[Section], ...] = (General, LogSettings, BrokerSettings, HttpSettings, OtaSettings,
                                        DatabaseSettings, IngestSettings, DevicesSettings, StallsSettings,
                                        SecuritySettings, DisplaySettings, StationSettings, LockersSettings,
                                        DeskSettings, AdminSettings, SerialSettings, EnergySettings)
SETTINGS: tuple[Setting, ...] = tuple(s for section in SECTIONS for s in section.declared())

_BY_KEY = {s.key: s for s in SETTINGS}


def setting(key: str) -> Setting:
    """The declaration of one setting (KeyError for an unknown key)."""
    return _BY_KEY[key]


@dataclass(frozen=True)
class Value:
    value: Any
    source: str


@dataclass
class Config:
    """The effective settings and where each came from; `config_dir` and `file` locate the TOML file."""

    values: dict[str, Value]
    config_dir: Path
    file: Path
    warnings: list[str] = field(default_factory=list)

    general = SectionOf(General)
    log = SectionOf(LogSettings)
    broker = SectionOf(BrokerSettings)
    http = SectionOf(HttpSettings)
    ota = SectionOf(OtaSettings)
    database = SectionOf(DatabaseSettings)
    ingest = SectionOf(IngestSettings)
    devices = SectionOf(DevicesSettings)
    stalls = SectionOf(StallsSettings)
    security = SectionOf(SecuritySettings)
    display = SectionOf(DisplaySettings)
    station = SectionOf(StationSettings)
    lockers = SectionOf(LockersSettings)
    desk = SectionOf(DeskSettings)
    admin = SectionOf(AdminSettings)
    serial = SectionOf(SerialSettings)
    energy = SectionOf(EnergySettings)

    def __getitem__(self, key: str) -> Any:
        return self.values[key].value

    def source(self, key: str) -> str:
        return self.values[key].source

    @property
    def role(self) -> str:
        return self.general.role

    @property
    def data_dir(self) -> Path:
        return Path(self["data_dir"]) if self["data_dir"] else Path(platformdirs.user_data_dir(APP_NAME))

    @property
    def database_url(self) -> str:
        return self["database.url"] or f"sqlite:///{self.data_dir / 'kiosk.db'}"

    @property
    def database_label(self) -> str:
        """The database as a person should read it: a file path, or the URL without its password."""
        url = self.database_url
        if url.startswith("sqlite:///"):
            return url.removeprefix("sqlite:///")
        return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)

    def with_overrides(self, **overrides: Any) -> Config:
        """A copy with some values replaced (tests and sub-commands); keys use underscores for dots."""
        values = dict(self.values)
        for name, raw in overrides.items():
            key = name.replace("__", ".")
            values[key] = Value(_BY_KEY[key].parse(raw), "override")
        return Config(values, self.config_dir, self.file, list(self.warnings))


def default_config_dir(env: Mapping[str, str]) -> Path:
    return Path(env.get("KIOSK_CONFIG_DIR") or platformdirs.user_config_dir(APP_NAME))


def load(flags: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None,
         config_dir: str | Path | None = None, strict_file: bool = True) -> Config:
    """Build the effective settings.

    Args:
        flags: values given on the command line, keyed by setting key; None entries are ignored.
        env: the environment (os.environ by default).
        config_dir: the --config-dir flag, if given.
        strict_file: a file that is not valid TOML raises ConfigError (naming the line) when True; when False the
            file is ignored with a loud warning and the defaults are used.
    """
    env = os.environ if env is None else env
    cdir = Path(config_dir) if config_dir else default_config_dir(env)
    path = cdir / CONFIG_FILE_NAME
    values = {s.key: Value(s.default, "default") for s in SETTINGS}
    warnings: list[str] = []

    file_values, text = _read_file(path, strict_file, warnings)
    _apply(values, file_values, f"file {path}", warnings, lambda key: _line_of(text, key))
    runtime_path = cdir / RUNTIME_FILE_NAME
    runtime_values, _ = _read_file(runtime_path, False, warnings)
    _apply(values, {k: v for k, v in runtime_values.items() if k in _BY_KEY and _BY_KEY[k].runtime},
           f"admin tab ({runtime_path})", warnings, lambda key: None)
    env_values = {s.key: env[s.env] for s in SETTINGS if s.env in env}
    _apply(values, env_values, "env {env}", warnings, lambda key: None)
    flag_values = {k: v for k, v in (flags or {}).items() if v is not None}
    for key, raw in flag_values.items():
        try:
            values[key] = Value(_BY_KEY[key].parse(raw), "command line")
        except ConfigError as exc:
            raise ConfigError(f"command line: {exc}") from None
    for message in warnings:
        log.warning("%s", message)
    return Config(values, cdir, path, warnings)


def _read_file(path: Path, strict: bool, warnings: list[str]) -> tuple[dict[str, Any], str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}, ""
    except (OSError, UnicodeDecodeError) as exc:
        message = f"settings file {path} cannot be read ({exc}); using defaults"
        if strict:
            raise ConfigError(message) from None
        warnings.append("!!! " + message)
        return {}, ""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = f"settings file {path} is not valid TOML: {exc}"
        if strict:
            raise ConfigError(message) from None
        warnings.append(f"!!! {message}; IGNORING THE WHOLE FILE and using defaults")
        return {}, text
    return _migrate(_flatten(data), path, warnings), text


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for name, value in data.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict):
            flat.update(_flatten(value, key + "."))
        else:
            flat[key] = value
    return flat


def _migrate(flat: dict[str, Any], path: Path, warnings: list[str]) -> dict[str, Any]:
    """Upgrade an older file's keys in memory; the file itself is left as the admin wrote it."""
    version = flat.pop("version", CONFIG_VERSION)
    if not isinstance(version, int) or version > CONFIG_VERSION:
        warnings.append(f"settings file {path}: version {version!r} is newer than this program "
                        f"understands ({CONFIG_VERSION}); reading the keys it knows")
    return flat


def _apply(values: dict[str, Value], raw_values: Mapping[str, Any], source: str, warnings: list[str],
           line_of: Callable[[str], int | None]) -> None:
    for key, raw in raw_values.items():
        setting = _BY_KEY.get(key)
        where = source.format(env=setting.env if setting else key)
        line = line_of(key)
        at = f"{where}{f' line {line}' if line else ''}"
        if setting is None:
            warnings.append(f"{at}: unknown setting {key!r} ignored")
            continue
        try:
            values[key] = Value(setting.parse(raw), where)
        except ConfigError as exc:
            warnings.append(f"!!! {at}: {exc}; using {values[key].value!r} instead")


def _line_of(text: str, key: str) -> int | None:
    leaf = re.escape(key.rsplit(".", 1)[-1])
    for number, line in enumerate(text.splitlines(), start=1):
        if re.match(rf"\s*(\"?){leaf}\1\s*=", line):
            return number
    return None


def describe(config: Config) -> str:
    """The effective settings as `kiosk config show` prints them."""
    lines = [f"# settings file: {config.file}{'' if config.file.exists() else ' (not present)'}",
             f"# data directory: {config.data_dir}",
             "# each setting can also be set as KIOSK_<KEY> in the environment (dots become underscores)", ""]
    width = max(len(s.key) for s in SETTINGS)
    for s in SETTINGS:
        value = config[s.key]
        shown = "***" if s.key.endswith(("password", "token")) and value else repr(value)
        lines.append(f"{s.key:<{width}} = {shown:<24} # {config.source(s.key)}")
    return "\n".join(lines)


def runtime_settings() -> list[Setting]:
    """Settings an admin may change while the kiosk runs."""
    return [s for s in SETTINGS if s.runtime]


def save_runtime(config_dir: Path, changes: Mapping[str, Any]) -> Path:
    """Merge validated values into runtime.toml (written whole, atomically); returns its path. The file has one
    quoted key per line, which TOML reads as the dotted setting key."""
    path = Path(config_dir) / RUNTIME_FILE_NAME
    current, _ = _read_file(path, False, [])
    merged = {k: v for k, v in current.items() if k in _BY_KEY and _BY_KEY[k].runtime}
    for key, value in changes.items():
        if key not in _BY_KEY or not _BY_KEY[key].runtime:
            raise ConfigError(f"{key} cannot be changed while the kiosk runs")
        merged[key] = _BY_KEY[key].parse(value)
    lines = ["# Written by Front Desk Kiosk when an admin changes a setting in the Admin tab.",
             "# kiosk.toml, the environment and the command line are read too; the environment and the",
             "# command line win over this file."]
    lines += [f"{toml_string(key)} = {_toml_value(value)}" for key, value in sorted(merged.items())]
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".new")
    temporary.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(temporary, path)
    return path


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return toml_string(str(value))


_TOML_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def toml_string(text: str) -> str:
    """A TOML basic string for any text. (json.dumps wrote characters outside the basic plane, an emoji say, as a
    surrogate pair of \\u escapes, which TOML refuses.) Text goes as UTF-8; only quotes, backslashes and control
    characters are escaped."""
    out = []
    for char in text:
        if char in _TOML_ESCAPES:
            out.append(_TOML_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}")
        elif 0xD800 <= ord(char) <= 0xDFFF:
            out.append("\\uFFFD")  # a lone surrogate is not text; TOML cannot hold it
        else:
            out.append(char)
    return '"' + "".join(out) + '"'

