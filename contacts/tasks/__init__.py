"""Celery discovers ``contacts.tasks``; the tasks live in one module per area."""

from . import channels, churn, jobs, sync, transfers  # noqa: F401 -- imported to register the tasks
