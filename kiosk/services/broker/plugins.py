"""amqtt plugins that hand authentication and topic checks to the kiosk's Gatekeeper.

amqtt builds plugins from dotted paths in its config, so the Gatekeeper is attached after the broker is built
(`attach_gatekeeper`). Until then every login and topic is refused. Both hooks return explicit booleans: amqtt 0.12.1
treats `None` from a topic plugin as a refusal, and an exception escaping `authenticate` kills the connection
handler (../shared/AMQTT.md).
"""

from __future__ import annotations

import logging
from typing import Any

from amqtt.contexts import Action
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
from amqtt.session import Session

from kiosk.services.broker.gatekeeper import Gatekeeper

log = logging.getLogger(__name__)


class _Attached:
    gatekeeper: Gatekeeper | None = None


class DeviceAuthPlugin(BaseAuthPlugin, _Attached):
    async def authenticate(self, *, session: Session) -> bool | None:
        if self.gatekeeper is None:
            return False
        try:
            return await self.gatekeeper.authenticate(session.username, session.password, session.client_id,
                                                      getattr(session, "remote_address", None))
        except Exception:
            log.exception("authentication plugin failed; refusing the login")
            return False


class DeviceTopicPlugin(BaseTopicPlugin, _Attached):
    async def topic_filtering(self, *, session: Session | None = None, topic: str | None = None,
                              action: Action | None = None) -> bool | None:
        if self.gatekeeper is None or session is None or topic is None:
            return False
        subscribing = action != Action.PUBLISH
        return self.gatekeeper.may_use(session.username, topic, subscribing, session.client_id)


def attach_gatekeeper(plugins: list[Any], gatekeeper: Gatekeeper) -> None:
    found = [p for p in plugins if isinstance(p, _Attached)]
    if len(found) != 2:
        raise RuntimeError("the kiosk's broker plugins are not loaded; refusing to run an open broker")
    for plugin in found:
        plugin.gatekeeper = gatekeeper


PLUGINS = {
    f"{__name__}.DeviceAuthPlugin": {},
    f"{__name__}.DeviceTopicPlugin": {},
}
