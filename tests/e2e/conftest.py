"""Fixtures shared by the end-to-end tests."""

from tests.e2e.test_smoke import running  # noqa: F401 (the running-kiosk fixture, for the other e2e modules)
