"""The wall display: full-screen stall occupancy, readable from across the room."""
