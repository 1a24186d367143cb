"""The Admin tab: sign-in, devices and their tokens, commands, firmware, notifications, health, settings, operators,
the audit log.
"""
