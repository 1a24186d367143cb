"""Tab operations straight on the store and the hub's objects, without the API: the views' own tests drive the tabs
with them (fast, no HTTP), and the benchmarks measure the API against them as the in-process reference.

The product never uses them: every window is a client of the hub's API (kiosk.client, kiosk.ui.hub_link).
Each has the same methods as its API client (`lockers.LockerOperations` and kiosk.client.lockers.RemoteLockers).
"""
