import sys

from kiosk.app import main

if __name__ == "__main__":  # the broker's child process re-imports this module (spawn): it must not start a kiosk
    sys.exit(main())
