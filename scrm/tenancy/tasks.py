"""``@tenant_task`` (the decorator every tenant job uses) and the tenancy app's own tasks."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from celery import shared_task
from django.contrib.sessions.models import Session
from django.utils import timezone

from scrm.celery import QUEUES

from .context import tenant_context
from .models import Tenant

logger = logging.getLogger(__name__)


def tenant_task(
    *,
    name: str,
    queue: str,
    time_limit: int,
    soft_time_limit: int | None = None,
    acks_late: bool = False,
    **options,
) -> Callable:
    """A Celery task whose first argument is a tenant id; the body runs with that tenant in context.

    The conventions of DESIGN.md §7 are required arguments, so no task forgets them: an explicit
    name, a queue, a time limit. ``acks_late`` stays off unless the task is idempotent (a task
    acknowledged late runs again if the worker dies). A task for a tenant that was deleted or
    deactivated meanwhile is skipped with a log line rather than failing forever.
    """
    if queue not in QUEUES:
        raise ValueError(f"Unknown queue {queue!r}; use one of {QUEUES}.")

    def decorator(func: Callable) -> Callable:
        @shared_task(
            name=name,
            queue_name=queue,
            time_limit=time_limit,
            soft_time_limit=soft_time_limit or max(1, time_limit - 10),
            acks_late=acks_late,
            **options,
        )
        @functools.wraps(func)
        def run(tenant_id: int, *args, **kwargs):
            tenant = Tenant.objects.filter(pk=tenant_id, is_active=True).first()
            if tenant is None:
                logger.warning("Skipping %s: tenant %s is gone or inactive", name, tenant_id)
                return None
            with tenant_context(tenant):
                return func(tenant, *args, **kwargs)

        return run

    return decorator


@shared_task(name="tenancy.clear_expired_sessions", queue_name="bulk", time_limit=300, soft_time_limit=280)
def clear_expired_sessions() -> int:
    """Expired dashboard sessions are never read again; drop them so the table stays small."""
    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return deleted
