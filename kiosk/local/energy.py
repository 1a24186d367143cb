"""The Energy tab's reads on a hub in this process: the same queries the API answers (kiosk.services.energy_queries)."""

from kiosk.services.energy_queries import DESK_ACTOR, EnergyOperations

__all__ = ["DESK_ACTOR", "EnergyOperations"]
