"""Celery discovers ``contacts.tasks``; the tasks live in one module per area."""

from . import churn, jobs, sync, transfers  # noqa: F401 -- imported to register the tasks
