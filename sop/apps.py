from django.apps import AppConfig


class SopConfig(AppConfig):
    # SOP automations (客户SOP + 群SOP): versioned journeys, the engine that runs them from the event
    # stream and the database, the members' task lists and the reports. An app of its own rather than
    # part of campaigns: it uses campaigns (caps, do-not-disturb) and the library the way Moments does.
    name = "sop"
    verbose_name = "SOP automations"

    def ready(self) -> None:
        from library.owners import usage_owner_register

        from .services.sops import OWNER_TYPE, sop_names

        # The library's "used by" lists name the SOPs whose steps send a material.
        usage_owner_register(OWNER_TYPE, label="SOP", names=sop_names)
