"""The Stalls tab: tiles by restroom, a stall's detail, the figures, the restroom editor, the legacy board's Wi-Fi
reset.
"""
