import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scrm.settings.base")

app = Celery("scrm")
app.config_from_object("django.conf:settings", namespace="CELERY")
# default: ordinary work; realtime: callbacks and welcome messages (a welcome_code lives 20 s);
# bulk: syncs, campaigns, analytics — long jobs that must never delay the realtime queue.
app.conf.task_queues = [Queue(name) for name in ("default", "realtime", "bulk")]
app.autodiscover_tasks()
