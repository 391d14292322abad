from django.apps import AppConfig


class GroupsConfig(AppConfig):
    name = "groups"

    def ready(self) -> None:
        # The tasks register the groups sync's executor (contacts.sync.SYNC_TASKS), which the web
        # process needs to start a run; Celery would import them only in workers. The callback
        # handlers are found by scrm.wecom's autodiscovery of ``handlers`` modules.
        from . import tasks  # noqa: F401
