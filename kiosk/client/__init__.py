"""Clients of the hub's API: what every screen (window, wall display, remote station, CLI) uses to talk to the hub.

Standard library and `kiosk.core` / `kiosk.protocol` only: a screen's process loads no SQLAlchemy, aiohttp or amqtt.
`http.ApiClient` makes the calls, `events.EventStream` follows the pushed changes, `lockers.RemoteLockers` is the
Lockers tab's operations over the API.
"""
