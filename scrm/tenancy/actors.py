"""Who did it: a member (a Django user) or an integrator's API key, never both; nobody for the system.

Every write that records its author takes an ``Actor`` built once from the request's principal
(``Actor.of(principal)``) or from the row that started the work (``Actor.creator_of(job)``, for a
job's runner). Models keep the pair as two nullable foreign keys named after one prefix:
``created_by`` + ``created_by_api_key``, ``author`` + ``author_api_key``, ``actor`` +
``actor_api_key``; ``actor.as_fields(prefix)`` fills them, so an API key is recorded as itself
rather than as nobody (an ``ApiKeyUser`` is not a user row) or, worse, as a 500.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser

from .models import ApiKey
from .principal import Principal

MEMBER = "member"
API_KEY = "api_key"


@dataclass(frozen=True)
class Actor:
    user: AbstractBaseUser | None = None
    api_key: ApiKey | None = None

    def __post_init__(self) -> None:
        if self.user is not None and self.api_key is not None:
            raise ValueError("An actor is a member or an API key, not both.")
        # Fail loudly on what used to be recorded silently as nobody: request.user of a key call.
        if self.user is not None and getattr(self.user, "pk", None) is None:
            raise TypeError(f"{self.user!r} is not a saved user; build the actor from the principal.")

    @classmethod
    def of(cls, principal: Principal) -> Actor:
        """The request's caller: its API key, else its user."""
        if principal.api_key is not None:
            return cls(api_key=principal.api_key)
        return cls(user=principal.user)

    @classmethod
    def creator_of(cls, obj: Any, prefix: str = "created_by") -> Actor:
        """Who a row records under ``prefix`` (``created_by``/``created_by_api_key``, ...)."""
        return cls(user=getattr(obj, prefix), api_key=getattr(obj, f"{prefix}_api_key"))

    def __bool__(self) -> bool:
        return self.user is not None or self.api_key is not None

    @property
    def kind(self) -> str | None:
        if self.api_key is not None:
            return API_KEY
        return MEMBER if self.user is not None else None

    def as_fields(self, prefix: str = "created_by") -> dict[str, Any]:
        """The model fields that record this actor: ``{prefix: user, prefix_api_key: key}``."""
        return {prefix: self.user, f"{prefix}_api_key": self.api_key}

    def is_creator_of(self, obj: Any, prefix: str = "created_by") -> bool:
        """Whether ``obj`` records this actor under ``prefix`` (ids only: no query)."""
        if not self:
            return False
        recorded = (getattr(obj, f"{prefix}_id"), getattr(obj, f"{prefix}_api_key_id"))
        return recorded == (getattr(self.user, "pk", None), getattr(self.api_key, "pk", None))

    def idempotency_scope(self) -> str:
        """The prefix of the Idempotency-Key values it sends: the same key from another member or API
        key is another request."""
        if self.api_key is not None:
            return f"key{self.api_key.pk}"
        return f"user{getattr(self.user, 'pk', None)}"


# The system: a sync, a callback, a schedule. Recorded as nobody.
SYSTEM = Actor()


def actor_display(*, user: AbstractBaseUser | None, api_key: ApiKey | None) -> dict[str, Any] | None:
    """How the API shows who did something: ``{"type": "member"|"api_key", "id", "name"}``, or None."""
    if api_key is not None:
        return {"type": API_KEY, "id": api_key.pk, "name": api_key.name}
    if user is not None:
        return {"type": MEMBER, "id": user.pk, "name": user.get_username()}
    return None
