"""The hub on this machine, as a screen finds it: running on the same data folder (its `hub.lock` names its process
and ports), reached with this machine's station token (secrets/station.token, owner-only), started as its own
process (`kiosk --headless`) when none runs yet, and stopped with SIGTERM.

Standard library only: the desk window loads none of the hub's parts (SQLAlchemy, aiohttp, amqtt) to find it.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HUB_LOCK_FILE = "hub.lock"  # kiosk.services.hub_lock writes it
STATION_TOKEN_FILE = "station.token"  # in the data folder's secrets/ (made by the hub at its first start)
CLI_TOKEN_FILE = "cli.token"  # the CLI's admin token on this machine, beside it (made by the hub at its start)
HUB_LOG_FILE = "hub.log"  # what a hub started by a window prints, in the data folder
START_TIMEOUT_S = 60.0
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}  # hubs this process started, reaped when stopped here


class HubNotStarted(RuntimeError):
    """The hub could not be started or did not come up; the message says why (with the end of its log)."""


@dataclass(frozen=True)
class LocalHub:
    pid: int | None
    url: str  # http://HOST:PORT of its API
    started_here: bool  # this process started it (and may stop it)


def lock_info(data_dir: Path, name: str = HUB_LOCK_FILE) -> dict[str, Any] | None:
    """What the process holding `name` in the data folder wrote (pid, ports), or None when none holds it."""
    try:
        fd = os.open(Path(data_dir) / name, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                data = json.loads(os.pread(fd, 4096, 0) or b"{}")
            except ValueError:  # being written at this moment
                data = {}
            return data if isinstance(data, dict) and data else {"pid": None}
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def read_station_token(data_dir: Path, name: str = STATION_TOKEN_FILE) -> str | None:
    try:
        return (Path(data_dir) / "secrets" / name).read_text(encoding="ascii").strip() or None
    except FileNotFoundError:
        return None


def shared_hub(path: Path) -> tuple[LocalHub, str]:
    """The hub a hub service shares through `path` (its desk.share_file) with this machine's station token, for a
    desk window of another user; raises HubNotStarted saying what is wrong and what to do."""
    import getpass
    import grp

    try:
        with open(path, encoding="utf-8") as source:
            data = json.load(source)
    except FileNotFoundError:
        raise HubNotStarted(f"the hub service on this PC is not running ({path} is missing): start it with `sudo "
                            "systemctl start kiosk-hub`; `systemctl status kiosk-hub` says why it stopped") from None
    except PermissionError:
        try:
            group = grp.getgrgid(os.stat(path).st_gid).gr_name
        except (KeyError, OSError):
            group = "kiosk-desk"
        raise HubNotStarted(f"the hub on this PC runs as a service, and only members of the group {group} may open "
                            f"its desk window: ask an administrator to run `sudo adduser {getpass.getuser()} "
                            f"{group}`, then sign out and in again") from None
    except (OSError, ValueError) as exc:
        raise HubNotStarted(f"{path} cannot be read ({exc})") from None
    url, token, pid = (data.get("url"), data.get("token"), data.get("pid")) if isinstance(data, dict) else (0, 0, 0)
    if not isinstance(url, str) or not url or not isinstance(token, str) or not token:
        raise HubNotStarted(f"{path} does not describe a hub (no url or token in it)")
    return LocalHub(pid if isinstance(pid, int) else None, url, False), token


def api_url(info: dict[str, Any], http_bind: str) -> str | None:
    """Where this machine reaches the running hub's API; None when its HTTP server is off."""
    port = info.get("http_port")
    if not isinstance(port, int) or port <= 0:
        return None
    host = "127.0.0.1" if http_bind in ("", "0.0.0.0", "::") else http_bind
    return f"http://{'[' + host + ']' if ':' in host else host}:{port}"


def start_hub(data_dir: Path, command: Sequence[str], http_bind: str, answers: Callable[[str], bool],
              timeout_s: float = START_TIMEOUT_S, progress: Callable[[str], None] = lambda text: None) -> LocalHub:
    """The hub running on `data_dir`, started with `command` (argv of `kiosk --headless ...`) when none runs.

    The new hub gets a session of its own, so closing the terminal or killing the window leaves it running; its
    output goes to hub.log in the data folder. Returns once its API answers (`answers(url)`), or raises
    HubNotStarted with the reason.
    """
    info = lock_info(data_dir)
    if info is not None:
        return _running(info, http_bind, False)
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / HUB_LOG_FILE
    progress("starting the hub")
    with open(log_path, "ab") as log:
        os.chmod(log_path, 0o600)
        log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} started by the desk window (process {os.getpid()})\n"
                  .encode())
        log.flush()
        child = subprocess.Popen(list(command), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True, close_fds=True)
    _CHILDREN[child.pid] = child
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        code = child.poll()
        info = lock_info(data_dir)
        if info is not None and info.get("pid") not in (None, child.pid):
            _CHILDREN.pop(child.pid, None)
            child.wait(30)  # ours finds the folder taken and exits (code 3)
            return _running(info, http_bind, False)  # another start won the race: use that hub
        if code is not None:
            _CHILDREN.pop(child.pid, None)
            if info is None:
                raise HubNotStarted(f"the hub stopped at once (exit code {code}): {_tail(log_path)}")
        if info is not None and info.get("pid") == child.pid:
            try:
                hub = _running(info, http_bind, True)
            except HubNotStarted:  # one this window cannot use (its HTTP server off): not left running
                _stop_child(child)
                raise
            if answers(hub.url):
                progress("the hub is running")
                return hub
        time.sleep(0.1)
    _stop_child(child)
    raise HubNotStarted(f"the hub did not answer within {timeout_s:.0f} s: {_tail(log_path)}")


def _stop_child(child: subprocess.Popen[bytes]) -> None:
    child.terminate()
    try:
        child.wait(10)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait(5)
    _CHILDREN.pop(child.pid, None)


def _running(info: dict[str, Any], http_bind: str, started_here: bool) -> LocalHub:
    url = api_url(info, http_bind)
    if url is None:
        raise HubNotStarted("the hub running here has its HTTP server off (http.port = 0); the desk window "
                            "talks to the hub through its API: set http.port and restart the hub")
    pid = info.get("pid")
    return LocalHub(pid if isinstance(pid, int) else None, url, started_here)


def stop_hub(data_dir: Path, pid: int, timeout_s: float = 30.0) -> bool:
    """SIGTERM to the hub and wait until it freed the data folder; False if it is still stopping."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + timeout_s
    while lock_info(data_dir) is not None:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    child = _CHILDREN.pop(pid, None)
    if child is not None:  # our own child: collect its exit status so it does not linger as a zombie
        child.wait(5)
    return True


def hub_command(arguments: Sequence[str]) -> list[str]:
    """argv of the headless hub with the window's own settings flags (data folder, ports, config folder...)."""
    if getattr(sys, "frozen", False):  # a PyInstaller bundle: its program is the kiosk itself
        return [sys.executable, *arguments, "--headless"]
    return [sys.executable, "-m", "kiosk", *arguments, "--headless"]


def _tail(path: Path, lines: int = 6) -> str:
    try:
        with open(path, "rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - 4096))
            text = log.read().decode("utf-8", "replace")
    except OSError:
        return f"see {path}"
    last = [line for line in text.splitlines() if line.strip() and not line.startswith("---")][-lines:]
    return (" / ".join(last) or "it printed nothing") + f" (the whole log: {path})"

