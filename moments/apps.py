from django.apps import AppConfig


class MomentsConfig(AppConfig):
    name = "moments"
    verbose_name = "Moments"

    def ready(self) -> None:
        from library.owners import usage_owner_register

        from .services.compose import OWNER_TYPE, moment_task_names

        # The library's "used by" lists name a task's materials' owner: "Moments task 春季新品…".
        usage_owner_register(OWNER_TYPE, label="Moments task", names=moment_task_names)
