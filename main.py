"""Launcher: `python main.py` starts the same program as `kiosk` and `python -m kiosk`."""
import sys

from kiosk.app import main

if __name__ == "__main__":
    sys.exit(main())
