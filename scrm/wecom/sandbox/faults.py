"""Injected faults per WeCom API: error probabilities, added latency and a concurrency limit, and
WeCom's published frequency limits, always in force.

The gateway must survive what WeCom really does under load: -1 (system busy), 45009 (frequency limit),
45033 (too many concurrent calls to one API), slow answers. A ``FaultPlan`` holds one ``ApiFaults`` per
API path (relative to ``cgi-bin/``) plus ``"*"`` for every API; its rolls come from a seeded
``random.Random`` so a single-threaded test sees the same faults on every run. See docs/sandbox.md.

Frequency limits (wecom-api.md §12): per corp and API, 10,000 calls a minute and 150,000 an hour; a
call past one is answered 45009, and so is every call of that API until the window ends (WeCom's
block lasts as long as its window). Windows are clock minutes and hours; ``rate_limits`` changes them.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

ALL_APIS = "*"
# WeCom does not publish its per-API concurrency limit; 45033 is reported on remark and mark_tag.
DEFAULT_CONCURRENCY: dict[str, int] = {"externalcontact/mark_tag": 10, "externalcontact/remark": 10}
_API_KEYS = frozenset({"errors", "latency_ms", "concurrency"})
# WeCom's published limits per corp and API (DOC 90454): calls per window, by window length in seconds.
DEFAULT_RATE_LIMITS: dict[str, int] = {"per_minute": 10_000, "per_hour": 150_000}
_WINDOWS = {"per_minute": 60, "per_hour": 3600}


@dataclass
class ApiFaults:
    errors: dict[int, float] = field(default_factory=dict)  # errcode -> probability per call
    latency_ms: float = 0.0
    concurrency: int | None = None  # max calls in flight; None = unlimited

    def describe(self) -> dict[str, Any]:
        return {
            "errors": {str(code): p for code, p in self.errors.items()},
            "latency_ms": self.latency_ms,
            "concurrency": self.concurrency,
        }


class FaultPlan:
    """Thread-safe: the server asks it, per request, whether to delay, fail or reject the call."""

    def __init__(self, seed: int):
        self._lock = threading.Lock()
        self._rng = random.Random(seed)  # noqa: S311 -- reproducible fault rolls, not secrets
        self._in_flight: Counter[str] = Counter()
        self.apis: dict[str, ApiFaults] = {}
        self.rate_limits: dict[str, int | None] = {}
        # (api, window name, window number) -> calls admitted in it; only the current windows are kept.
        self._calls: Counter[tuple[str, str, int]] = Counter()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.apis = {path: ApiFaults(concurrency=n) for path, n in DEFAULT_CONCURRENCY.items()}
            self.rate_limits = dict(DEFAULT_RATE_LIMITS)
            self._calls.clear()

    def set_rate_limits(self, limits: dict[str, int | None]) -> None:
        """Merge ``parse_rate_limits``' result; a window set to None is not limited."""
        with self._lock:
            self.rate_limits.update(limits)

    def admit(self, path: str, now: float) -> bool:
        """Count a call of ``path`` against WeCom's frequency limits; False: answer 45009 (the call
        past a limit, and every call after it until that window ends)."""
        with self._lock:
            windows = {name: int(now // _WINDOWS[name]) for name in _WINDOWS}
            if len(self._calls) > 10_000:  # forget windows that are over
                current = {(name, number) for name, number in windows.items()}
                for key in [k for k in self._calls if (k[1], k[2]) not in current]:
                    del self._calls[key]
            keys = [(path, name, number) for name, number in windows.items()]
            for key in keys:
                limit = self.rate_limits.get(key[1])
                if limit is not None and self._calls[key] >= limit:
                    return False
            for key in keys:
                self._calls[key] += 1
            return True

    def reseed(self, seed: int) -> None:
        with self._lock:
            self._rng.seed(seed)

    def apply(self, parsed: dict[str, dict[str, Any] | None]) -> None:
        """Merge entries from ``parse_apis``: given fields replace, left-out fields keep their value."""
        with self._lock:
            for path, entry in parsed.items():
                if entry is None:
                    self.apis.pop(path, None)
                    continue
                current = self.apis.setdefault(path, ApiFaults())
                if "errors" in entry:
                    current.errors = entry["errors"]
                if "latency_ms" in entry:
                    current.latency_ms = entry["latency_ms"]
                if "concurrency" in entry:
                    current.concurrency = entry["concurrency"]

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {path: faults.describe() for path, faults in self.apis.items()}

    def effective(self, path: str) -> ApiFaults:
        """The API's own settings, falling back field by field to ``"*"``."""
        with self._lock:
            default = self.apis.get(ALL_APIS, ApiFaults())
            own = self.apis.get(path)
            if own is None:
                return ApiFaults(dict(default.errors), default.latency_ms, default.concurrency)
            return ApiFaults(
                dict(own.errors or default.errors),
                own.latency_ms or default.latency_ms,
                own.concurrency if own.concurrency is not None else default.concurrency,
            )

    def enter(self, path: str, limit: int | None) -> bool:
        """Count a call in flight; False (and not counted) when that would pass the API's limit."""
        with self._lock:
            if limit is not None and self._in_flight[path] >= limit:
                return False
            self._in_flight[path] += 1
            return True

    def leave(self, path: str) -> None:
        with self._lock:
            self._in_flight[path] -= 1

    def roll(self, errors: dict[int, float]) -> int | None:
        """The errcode to answer with instead of calling the API, or None."""
        if not errors:
            return None
        with self._lock:
            r = self._rng.random()
        for code, probability in errors.items():
            if r < probability:
                return code
            r -= probability
        return None


def parse_rate_limits(limits: Any) -> dict[str, int | None]:
    """Validate ``{per_minute?, per_hour?}`` (positive integers, or null for no limit) whole."""
    if not isinstance(limits, dict) or set(limits) - set(_WINDOWS):
        raise ValueError(f"rate_limits must be an object with keys among {sorted(_WINDOWS)}")
    for name, value in limits.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"rate_limits.{name} must be a positive integer or null")
    return dict(limits)


def parse_apis(apis: Any) -> dict[str, dict[str, Any] | None]:
    """Validate ``{path: {errors?, latency_ms?, concurrency?} | null}`` whole: a typo never half-applies."""
    if not isinstance(apis, dict):
        raise ValueError("apis must be an object keyed by API path")
    return {path: None if entry is None else _parse_entry(path, entry) for path, entry in apis.items()}


def _parse_entry(path: str, entry: Any) -> dict[str, Any]:
    if not isinstance(path, str) or not path:
        raise ValueError("API paths must be non-empty strings such as 'externalcontact/mark_tag' or '*'")
    if not isinstance(entry, dict):
        raise ValueError(f"faults for {path} must be an object or null")
    unknown = set(entry) - _API_KEYS
    if unknown:
        raise ValueError(f"unknown fault fields for {path}: {sorted(unknown)}; allowed: {sorted(_API_KEYS)}")
    parsed: dict[str, Any] = {}
    if "errors" in entry:
        parsed["errors"] = _parse_errors(path, entry["errors"])
    if "latency_ms" in entry:
        latency = entry["latency_ms"]
        if isinstance(latency, bool) or not isinstance(latency, int | float) or not 0 <= latency <= 60_000:
            raise ValueError(f"latency_ms for {path} must be a number of milliseconds between 0 and 60000")
        parsed["latency_ms"] = float(latency)
    if "concurrency" in entry:
        limit = entry["concurrency"]
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
            raise ValueError(f"concurrency for {path} must be a non-negative integer or null")
        parsed["concurrency"] = limit or None  # 0 and null both mean unlimited
    return parsed


def _parse_errors(path: str, errors: Any) -> dict[int, float]:
    if not isinstance(errors, dict):
        raise ValueError(f"errors for {path} must be an object such as {{'-1': 0.1, '45009': 0.05}}")
    parsed: dict[int, float] = {}
    for code, probability in errors.items():
        try:
            errcode = int(code)
        except (TypeError, ValueError):
            raise ValueError(f"errors for {path}: {code!r} is not an errcode") from None
        if errcode == 0:
            raise ValueError(f"errors for {path}: 0 is success, not a fault")
        if (
            isinstance(probability, bool)
            or not isinstance(probability, int | float)
            or not 0 <= probability <= 1
        ):
            raise ValueError(f"errors for {path}: the probability of {code} must be between 0 and 1")
        parsed[errcode] = float(probability)
    if sum(parsed.values()) > 1 + 1e-9:
        raise ValueError(f"errors for {path}: probabilities add up to more than 1")
    return parsed
