"""What the Moments routes share: who may write, the tenant's days, and status conflicts as 409s."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from drf_spectacular.utils import OpenApiResponse

from scrm.api.errors import Conflict
from scrm.api.permissions import RunnerActions

from ..services.compose import MomentTaskStateError

CONFLICT = {
    409: OpenApiResponse(
        description="The task's status does not allow it; the type says why (not_editable, not_deletable, "
        "not_publishable, not_cancellable, being_created, not_publishing, not_in_wecom)."
    )
}


@contextmanager
def state_conflicts() -> Iterator[None]:
    """A refusal for the task's status (raised by the services) as a 409 of its own type."""
    try:
        yield
    except MomentTaskStateError as exc:
        raise Conflict(str(exc), code=exc.code) from exc


class MomentsPermission(RunnerActions):
    message = "Only tenant admins and operators run Moments."
