from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"

    def ready(self) -> None:
        # The tasks register the dispatch with the stale-work sweep (scrm.durable), which every
        # process that runs the sweep needs; Celery would import them only in workers.
        from . import tasks  # noqa: F401
