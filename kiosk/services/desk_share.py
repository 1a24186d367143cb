"""The desk window for the people signed in at this PC, when the hub runs as a service of its own user.

The service's data folder is its user's alone (0700), so a desk window started by someone else could neither find
the hub (hub.lock) nor read this machine's station token. With `desk.share_file` set, the hub writes both to that
file while it runs (`{"url": ..., "token": ..., "pid": ...}`), readable by its owner and by `desk.share_group` only
(0640), and removes it when it stops. A window started with `--hub-file FILE` (`desk.hub_file`, the package's
menu entry) attaches to that hub and never starts one of its own. Whoever is in the group may open the desk window,
as whoever may read `secrets/station.token` may: admin actions there still need an admin's sign-in.
"""

from __future__ import annotations

import grp
import json
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)


class ShareFailed(RuntimeError):
    """The share file cannot be written as asked; the message says why and what to do."""


class DeskShare:
    def __init__(self, path: Path, group: str, url: str, token: str) -> None:
        self.path = Path(path)
        self.group = group
        self.url = url
        self.token = token
        self.written = False

    def write(self) -> None:
        """Write the file (atomically: a window never reads half of it); raises ShareFailed."""
        gid = -1
        if self.group:
            try:
                gid = grp.getgrnam(self.group).gr_gid
            except KeyError:
                raise ShareFailed(f"desk.share_group: there is no group {self.group!r} on this machine "
                                  f"(sudo addgroup --system {self.group})") from None
        folder = self.path.parent
        if not folder.is_dir():
            raise ShareFailed(f"desk.share_file: the folder {folder} does not exist (the service unit makes "
                              "/run/front-desk-kiosk: RuntimeDirectory=)")
        temporary = folder / f".{self.path.name}.{os.getpid()}"
        body = json.dumps({"url": self.url, "token": self.token, "pid": os.getpid()}) + "\n"
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                if gid != -1:
                    os.fchown(fd, -1, gid)
                os.fchmod(fd, 0o640 if gid != -1 else 0o600)
                os.write(fd, body.encode())
            finally:
                os.close(fd)
            os.replace(temporary, self.path)
        except PermissionError as exc:
            temporary.unlink(missing_ok=True)
            hint = (f" (the hub's user must be in the group {self.group}: sudo adduser $USER {self.group})"
                    if self.group and exc.errno == 1 else "")
            raise ShareFailed(f"desk.share_file: cannot write {self.path}: {exc.strerror}{hint}") from None
        except OSError as exc:
            temporary.unlink(missing_ok=True)
            raise ShareFailed(f"desk.share_file: cannot write {self.path}: {exc.strerror}") from None
        self.written = True
        log.info("desk windows of the group %s may attach through %s", self.group or "(owner only)", self.path)

    def remove(self) -> None:
        """At the hub's stop: a window then says the hub is not running instead of knocking on a closed port."""
        if not self.written:
            return
        self.written = False
        try:
            with open(self.path, encoding="utf-8") as current:
                if json.load(current).get("pid") != os.getpid():  # another hub wrote it since: not ours to remove
                    return
        except (OSError, ValueError, AttributeError):
            return
        self.path.unlink(missing_ok=True)
