"""The Lockers tab: the desk, the locker map, who holds what, members and the roster import, history and figures."""
