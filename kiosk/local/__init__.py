"""The window's in-process road to a hub it hosts: the tabs' operations on the hub's own objects.

Each facade has the same methods as its API client in kiosk.client (`lockers.LockerOperations` and
`kiosk.client.lockers.RemoteLockers`), so a tab works the same on either road; the composition root (kiosk.app)
picks one. This package goes away as each tab moves onto the API (docs/architecture.md).
"""
