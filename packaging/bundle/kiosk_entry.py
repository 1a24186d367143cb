"""The bundle's program (make bundle): the same `kiosk` as the package's, in a PyInstaller one-folder build."""

import multiprocessing
import sys

from kiosk.app import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # the broker's child process (spawn) starts through this program too
    sys.exit(main())
