"""Whether a TCP port is free to listen on, and which program holds it when it is not (from /proc)."""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path


class PortTaken(RuntimeError):
    """A port the hub needs is held by another program; the message names it and says what to do."""


def holder(port: int, proc: Path = Path("/proc")) -> str | None:
    """Which program listens on TCP `port` on this machine ("mosquitto (pid 812)"), None if none does."""
    inodes = set()
    for table in ("net/tcp", "net/tcp6"):
        try:
            lines = (proc / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    if not inodes:
        return None
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    return f"{(entry / 'comm').read_text().strip()} (pid {entry.name})"
        except OSError:
            continue
    return "another program (run `sudo kiosk doctor` to see which)"


def problem(label: str, bind: str, port: int, flag: str) -> str | None:
    """A sentence when `port` cannot be listened on at `bind` (taken, privileged), None when it can."""
    if not port:
        return None
    probe = socket.socket(socket.AF_INET6 if ":" in (bind or "") else socket.AF_INET, socket.SOCK_STREAM)
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do: TIME_WAIT is not "taken"
    try:
        probe.bind((bind or "0.0.0.0", port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return (f"{label} port {port} is taken by {holder(port) or 'another program'}: stop it (a Mosquitto from "
                    f"Debian: `sudo systemctl disable --now mosquitto`), or give the kiosk another port ({flag})")
        if exc.errno == errno.EACCES:
            return f"{label} port {port} is below 1024 and this user may not listen on it: use a port above 1023"
        if exc.errno == errno.EADDRNOTAVAIL:
            return f"{label} address {bind} is not an address of this machine: check the {label} bind setting"
        return f"{label} port {port} on {bind}: {exc.strerror}"
    finally:
        probe.close()
    return None
