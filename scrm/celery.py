import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scrm.settings.base")

app = Celery("scrm")
app.config_from_object("django.conf:settings", namespace="CELERY")
# default: ordinary work; realtime: callbacks and welcome messages (a welcome_code lives 20 s);
# bulk: syncs, campaigns, analytics — long jobs that must never delay the realtime queue.
QUEUES = ("default", "realtime", "bulk")
app.conf.task_queues = [Queue(name) for name in QUEUES]


def route_by_queue_name(name, args, kwargs, options, task=None, **kw):
    """Every task declares ``queue_name`` where it is defined (Celery 6 drops the ``queue`` attribute)."""
    queue = getattr(task, "queue_name", None)
    return {"queue": queue} if queue else None


app.conf.task_routes = (route_by_queue_name,)
app.autodiscover_tasks()
