"""Who can use a material: the owner types other apps register, with how to name their owners.

The library records uses by ``(owner_type, owner_id)`` and depends on none of the apps that use it;
each app registers its owner types here (at import of its services) so that "used by" lists can say
"Channel code 门店海报" rather than an id, and says which of them send on WeCom's fast path (a welcome
has 20 seconds): their materials' WeCom copies are renewed ahead of time. An owner type nobody
registered is still counted and listed, by its type and id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

Names = Callable[[list[int]], dict[int, str]]


@dataclass(frozen=True)
class OwnerType:
    name: str
    label: str  # what the dashboard calls one: "Channel code"
    names: Names | None = None  # owner ids → their names, in the tenant in context
    fast_path: bool = False


OWNER_TYPES: dict[str, OwnerType] = {}


def usage_owner_register(
    name: str, *, label: str, names: Names | None = None, fast_path: bool = False
) -> None:
    """Register (or re-register, on a module reload) an owner type."""
    OWNER_TYPES[name] = OwnerType(name=name, label=label, names=names, fast_path=fast_path)


def fast_path_owner_types() -> list[str]:
    return sorted(name for name, owner in OWNER_TYPES.items() if owner.fast_path)


def owner_names(owner_type: str, ids: Iterable[int]) -> dict[int, str]:
    """The owners' names; ``"<type> #<id>"`` for what the registry cannot name (gone, or unknown type)."""
    ids = sorted(set(ids))
    owner = OWNER_TYPES.get(owner_type)
    found = owner.names(ids) if owner is not None and owner.names is not None else {}
    label = owner.label if owner is not None else owner_type
    return {pk: found.get(pk) or f"{label} #{pk}" for pk in ids}


def owner_label(owner_type: str) -> str:
    owner = OWNER_TYPES.get(owner_type)
    return owner.label if owner is not None else owner_type
