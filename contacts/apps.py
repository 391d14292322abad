from django.apps import AppConfig


class ContactsConfig(AppConfig):
    name = "contacts"

    def ready(self) -> None:
        # The tasks register the contacts sync's executor (sync.SYNC_TASKS), which the web process
        # needs to start a run; Celery would import them only in workers.
        from . import tasks  # noqa: F401
