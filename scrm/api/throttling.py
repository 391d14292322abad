from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from rest_framework import exceptions, throttling
from rest_framework.permissions import SAFE_METHODS

from scrm.tenancy.authentication import ApiKeyUser


class WriteRateThrottle(throttling.SimpleRateThrottle):
    """Limits writes (every unsafe method) per API key, per user, or per address when anonymous."""

    scope = "write"

    def get_cache_key(self, request, view):
        if request.method in SAFE_METHODS:
            return None
        user = request.user
        if isinstance(user, ApiKeyUser):
            ident = f"key:{user.api_key.pk}"
        elif user is not None and user.is_authenticated:
            ident = f"user:{user.pk}"
        else:
            ident = f"addr:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class LoginFailureLimiter:
    """Counts failed logins per (username, address) and per address; 429 once either is exhausted.

    Successful logins do not count, so a user who types the password right is never throttled by
    their own earlier successes; an attacker spraying usernames from one address hits the address
    limit (four times the per-user one).
    """

    def __init__(self, request, username: str):
        # The connection's address, or the one the configured proxies saw (NUM_PROXIES): never an
        # X-Forwarded-For the client wrote itself.
        addr = throttling.BaseThrottle().get_ident(request)
        self.window = settings.LOGIN_FAILURE_WINDOW_SECONDS
        self.limits = {
            f"login-fail:user:{username.strip().lower()}:{addr}": settings.LOGIN_MAX_FAILURES,
            f"login-fail:addr:{addr}": settings.LOGIN_MAX_FAILURES * 4,
        }

    def check(self) -> None:
        counts = cache.get_many(list(self.limits))
        if any(counts.get(key, 0) >= limit for key, limit in self.limits.items()):
            raise exceptions.Throttled(wait=self.window, detail="Too many failed logins. Try again later.")

    def record_failure(self) -> None:
        for key in self.limits:
            # add() is a no-op if the key exists; incr() is atomic on Redis.
            cache.add(key, 0, timeout=self.window)
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.set(key, 1, timeout=self.window)

    def reset(self) -> None:
        cache.delete_many([key for key in self.limits if ":user:" in key])
