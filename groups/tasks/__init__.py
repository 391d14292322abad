"""Groups tasks, one module per area; imported here so that Celery and ``GroupsConfig.ready`` find them."""

from . import codes, sync  # noqa: F401
