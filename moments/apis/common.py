"""What the Moments routes share: who may write, the tenant's days, and status conflicts as 409s."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, status

from scrm.api.permissions import IsTenantMember

from ..selectors import runs_moments
from ..services.compose import MomentTaskStateError

CONFLICT = {
    409: OpenApiResponse(
        description="The task's status does not allow it; the type says why (not_editable, not_deletable, "
        "not_publishable, not_cancellable, being_created, not_publishing, not_in_wecom)."
    )
}


class MomentConflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "The task's status does not allow this."

    def __init__(self, detail: str, *, code: str):
        super().__init__(detail, code)
        # The error shape's ``type`` (scrm.api.errors reads default_code): why, for the dashboard.
        self.default_code = code


@contextmanager
def state_conflicts() -> Iterator[None]:
    """A refusal for the task's status (raised by the services) as a 409 of its own type."""
    try:
        yield
    except MomentTaskStateError as exc:
        raise MomentConflict(str(exc), code=exc.code) from exc


class MomentsPermission(IsTenantMember):
    """Every member reads (sales: its own share); the actions in the view's ``runner_actions`` are for
    admins and operators."""

    message = "Only tenant admins and operators run Moments."

    def has_permission(self, request, view) -> bool:
        if not super().has_permission(request, view):
            return False
        # Plain views (reports) have no action and no runner actions.
        action = getattr(view, "action", None)
        return action not in getattr(view, "runner_actions", ()) or runs_moments(view.principal)
