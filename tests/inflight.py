"""Requests the test process is serving right now (its live server's threads included).

A test's teardown waits for them to end before the database is flushed (tests/conftest.py).
"""

from __future__ import annotations

import threading

_served = threading.Condition()
_in_flight = 0


class InFlightMiddleware:
    """Counts requests in progress; first in the test settings' middleware, so it sees them all."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        global _in_flight
        with _served:
            _in_flight += 1
        try:
            return self.get_response(request)
        finally:
            with _served:
                _in_flight -= 1
                _served.notify_all()


def wait_until_idle(timeout: float) -> bool:
    """True when no request is in progress (within ``timeout`` seconds)."""
    with _served:
        return _served.wait_for(lambda: _in_flight == 0, timeout)
