"""What the screens share: the admin PIN dialog, the reason dialog, a table model of rows and its table, a background
job runner, the flow layout, the stall tile (the Stalls tab and the wall display), the banner of a screen whose hub
is gone, the status bar, the save dialog of an export.
"""
