"""Reads of the tenancy app that are more than a ``.get()``."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import QuerySet

from .models import Invitation, InvitationStatus


def invitations_pending_for(user: AbstractBaseUser) -> QuerySet[Invitation]:
    """The invitations waiting for ``user``'s answer, from every active tenant (newest first).

    Read across tenants, hence unscoped: the user is not a member of those tenants yet, and the
    invitations name their account, which is all that entitles them to see these.
    """
    return (
        Invitation.unscoped.filter(
            username=user.get_username(), status=InvitationStatus.PENDING, tenant__is_active=True
        )
        .select_related("tenant")
        .order_by("-id")
    )
