"""Front Desk Kiosk: one program for a library front desk (see README.md)."""

__version__ = "0.1.0"
