from django.apps import AppConfig


class LibraryConfig(AppConfig):
    name = "library"
    verbose_name = "Content library"

    def ready(self) -> None:
        # Celery imports task modules only in workers; the web process queues them too (uploads ahead).
        from . import tasks  # noqa: F401
