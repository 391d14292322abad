from django.apps import AppConfig


class GroupsConfig(AppConfig):
    # Registered now so the layout is stable; its models arrive with its own issue.
    name = "groups"
