"""Serializer fields shared by the apps' APIs."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers

from scrm.tenancy.actors import API_KEY, MEMBER, actor_display


class ActorSerializer(serializers.Serializer):
    """Who did something: a member of the tenant or one of its API keys."""

    type = serializers.ChoiceField(choices=[MEMBER, API_KEY])
    id = serializers.IntegerField(help_text="The user's id for a member, the key's id for an API key.")
    name = serializers.CharField(help_text="The member's username, or the API key's name.")


class ActorField(serializers.Field):
    """The actor a row records under ``prefix`` (``created_by`` + ``created_by_api_key``, ...);
    null when nobody did it (a sync, a callback) or the member's account was deleted.

    Views listing these rows ``select_related`` both foreign keys.
    """

    def __init__(self, prefix: str = "created_by", **kwargs: Any):
        self.prefix = prefix
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, value: Any) -> dict[str, Any] | None:
        return actor_display(
            user=getattr(value, self.prefix), api_key=getattr(value, f"{self.prefix}_api_key")
        )


class ActorFieldSchema(OpenApiSerializerFieldExtension):
    """An ``Actor`` or null in answers; nothing in requests (the field is read-only, and a serializer
    used for input too would otherwise publish an ``ActorRequest`` component that nothing refers to)."""

    target_class = ActorField

    def map_serializer_field(self, auto_schema, direction):
        if direction == "request":
            return None
        component = auto_schema.resolve_serializer(ActorSerializer, direction)
        return {"allOf": [component.ref], "nullable": True}
