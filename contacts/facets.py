"""The contact-level view of a customer's follows, kept on ``Contact`` for fast filtering.

WeCom holds tags, channel and add way per follow; the dashboard filters customers. So each contact
carries, derived from its follows:

- ``facets``: a JSON object whose keys are the facts the list filters on. Keys, not an array, because
  key lookups (``has_key``, ``has_keys``, ``has_any_keys``) work on SQLite (the embedded default) and
  PostgreSQL alike, and on PostgreSQL a GIN index answers "tags A and B and staff S" by intersecting
  posting lists, without touching the rows that do not match:
    ``t:<tag id>``   a live corp tag (Siyu's id) on a counted follow
    ``s:<userid>``   a staff member with a counted follow
    ``d:<dept id>``  a WeCom department of such a staff member
    ``c:<state>``    a channel (the follow's ``state``)
    ``w:<add_way>``  how the follow was added
  The counted follows are the active ones; a customer no staff member follows any more (lost) keeps
  the facts of its ended follows, so its last salesperson still sees it and filters still find it.
- ``status``: active while any follow is, else lost; ``first_added_at``: the earliest follow.
- ``search_text``: lowercased name, remarks, mobiles and company names, for the ``search`` filter.

Every service that changes follows or tags calls ``contacts_refresh`` on the contacts it touched;
it writes only the contacts whose derived fields changed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from .models import Contact, ContactStatus, Follow, FollowStatus, Tag

REFRESH_BATCH = 1000


def tag_id_map() -> dict[str, int]:
    """WeCom tag id → Siyu tag id, for the live tags of the tenant in context."""
    return dict(Tag.objects.filter(deleted=False).values_list("wecom_id", "id"))


def facet_keys(follows: Iterable[dict], tag_ids: dict[str, int]) -> dict[str, int]:
    keys: dict[str, int] = {}
    for follow in follows:
        keys[f"s:{follow['staff__userid']}"] = 1
        for dept in follow["staff__department_ids"] or ():
            keys[f"d:{dept}"] = 1
        for wecom_tag in follow["tag_ids"] or ():
            if wecom_tag in tag_ids:
                keys[f"t:{tag_ids[wecom_tag]}"] = 1
        if follow["state"]:
            keys[f"c:{follow['state']}"] = 1
        keys[f"w:{follow['add_way']}"] = 1
    return dict(sorted(keys.items()))


_LAST = float("inf")


def contact_derived(*, name: str, corp_name: str, follows: list[dict], tag_ids: dict[str, int]) -> dict:
    """A contact's derived fields (status, first_added_at, facets, search_text) from all its follows.

    Each follow is a dict with ``id`` (None while unsaved), ``status``, ``added_at``, ``tag_ids``,
    ``state``, ``add_way``, ``remark``, ``remark_corp_name``, ``remark_mobiles``, ``staff__userid`` and
    ``staff__department_ids``. The one place these rules live: ``contacts_refresh`` and the full sync
    (which has the follows in memory) both call it. Follows are taken in (added_at, id) order, unknown
    dates and unsaved follows last, whatever order the caller (or the database's NULL ordering) gives.
    """
    follows = sorted(follows, key=lambda f: (f["added_at"] is None, f["added_at"] or 0, f["id"] or _LAST))
    active = [f for f in follows if f["status"] == FollowStatus.ACTIVE]
    added = [f["added_at"] for f in follows if f["added_at"] is not None]
    parts = [name, corp_name]
    for follow in follows:
        parts.extend((follow["remark"], follow["remark_corp_name"], *(follow["remark_mobiles"] or ())))
    seen: dict[str, None] = {}
    for part in parts:
        if part:
            seen.setdefault(part.lower(), None)
    return {
        "status": ContactStatus.ACTIVE if active or not follows else ContactStatus.LOST,
        "first_added_at": min(added) if added else None,
        "facets": facet_keys(active or follows, tag_ids),
        "search_text": "\n".join(seen),
    }


def contacts_refresh(contact_ids: Iterable[int], *, tag_ids: dict[str, int] | None = None) -> int:
    """Recompute the derived fields of these contacts from their follows; returns how many changed."""
    ids = sorted(set(contact_ids))
    if not ids:
        return 0
    tag_ids = tag_id_map() if tag_ids is None else tag_ids
    changed = 0
    for start in range(0, len(ids), REFRESH_BATCH):
        changed += _refresh_batch(ids[start : start + REFRESH_BATCH], tag_ids)
    return changed


def _refresh_batch(ids: list[int], tag_ids: dict[str, int]) -> int:
    follows: dict[int, list[dict]] = defaultdict(list)
    for row in Follow.objects.filter(contact_id__in=ids).values(
        "id",
        "contact_id",
        "status",
        "added_at",
        "tag_ids",
        "state",
        "add_way",
        "remark",
        "remark_corp_name",
        "remark_mobiles",
        "staff__userid",
        "staff__department_ids",
    ):
        follows[row["contact_id"]].append(row)
    fields = ("status", "first_added_at", "facets", "search_text")
    changed = []
    for contact in Contact.objects.filter(id__in=ids).only("id", "name", "corp_name", *fields):
        new = contact_derived(
            name=contact.name,
            corp_name=contact.corp_name,
            follows=follows.get(contact.pk, []),
            tag_ids=tag_ids,
        )
        if any(getattr(contact, name) != value for name, value in new.items()):
            for name, value in new.items():
                setattr(contact, name, value)
            changed.append(contact)
    if changed:
        Contact.objects.bulk_update(changed, fields)
    return len(changed)
