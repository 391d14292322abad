from __future__ import annotations

import base64
import binascii

from django.contrib.auth import get_user_model
from rest_framework import serializers

from .models import ApiKey, DataScope, Membership, Role, Tenant
from .services import SECRET_FIELDS

User = get_user_model()


class LoginSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, style={"input_type": "password"}, trim_whitespace=False)


class SwitchTenantSerializer(serializers.Serializer):
    tenant = serializers.SlugField(help_text="Slug of a tenant the user is a member of.")


class TenantBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tenant
        fields = ["id", "slug", "name"]


class MyMembershipSerializer(serializers.ModelSerializer):
    tenant = TenantBriefSerializer()

    class Meta:
        model = Membership
        fields = ["tenant", "role", "data_scope", "wecom_userid"]


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.EmailField()
    active_tenant = TenantBriefSerializer(allow_null=True)
    role = serializers.ChoiceField(choices=Role.choices, allow_null=True)
    memberships = MyMembershipSerializer(many=True)
    csrf_token = serializers.CharField(help_text="Send back as the X-CSRFToken header on writes.")


class MemberSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)
    email = serializers.EmailField(source="user.email", read_only=True)

    class Meta:
        model = Membership
        fields = [
            "id",
            "username",
            "email",
            "role",
            "data_scope",
            "wecom_userid",
            "department_ids",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "username", "email", "created_at", "updated_at"]


class MemberCreateSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    email = serializers.EmailField(required=False, default="")
    password = serializers.CharField(
        required=False,
        write_only=True,
        trim_whitespace=False,
        help_text="Required when the username does not exist yet (a new user is created).",
    )
    role = serializers.ChoiceField(choices=Role.choices)
    data_scope = serializers.ChoiceField(choices=DataScope.choices, required=False)
    wecom_userid = serializers.CharField(max_length=64, required=False, default="")
    department_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, default=list
    )


class MemberUpdateSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices, required=False)
    data_scope = serializers.ChoiceField(choices=DataScope.choices, required=False)
    wecom_userid = serializers.CharField(max_length=64, required=False, allow_blank=True)
    department_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False)


class ApiKeySerializer(serializers.ModelSerializer):
    revoked = serializers.BooleanField(read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True, allow_null=True)

    class Meta:
        model = ApiKey
        fields = [
            "id",
            "name",
            "role",
            "prefix",
            "created_by",
            "created_at",
            "last_used_at",
            "revoked",
            "revoked_at",
        ]
        read_only_fields = fields


class ApiKeyCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    role = serializers.ChoiceField(choices=Role.choices)


class ApiKeyCreatedSerializer(ApiKeySerializer):
    key = serializers.CharField(read_only=True, help_text="The full key. Shown once; store it now.")

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]
        read_only_fields = fields


class TenantSettingsSerializer(serializers.ModelSerializer):
    """Secrets are write-only; reads say only whether each one is set."""

    callback_url = serializers.CharField(read_only=True)
    corp_secret = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=128)
    callback_token = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=32)
    encoding_aes_key = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=43)
    corp_secret_set = serializers.SerializerMethodField()
    callback_token_set = serializers.SerializerMethodField()
    encoding_aes_key_set = serializers.SerializerMethodField()

    class Meta:
        model = Tenant
        fields = [
            "id",
            "slug",
            "name",
            "corp_id",
            "agent_id",
            "api_base",
            "callback_url",
            *SECRET_FIELDS,
            "corp_secret_set",
            "callback_token_set",
            "encoding_aes_key_set",
        ]
        read_only_fields = ["id", "slug", "callback_url"]

    def get_corp_secret_set(self, tenant: Tenant) -> bool:
        return bool(tenant.corp_secret)

    def get_callback_token_set(self, tenant: Tenant) -> bool:
        return bool(tenant.callback_token)

    def get_encoding_aes_key_set(self, tenant: Tenant) -> bool:
        return bool(tenant.encoding_aes_key)

    def validate_encoding_aes_key(self, value: str) -> str:
        if not value:
            return value
        try:
            key = base64.b64decode(value + "=", validate=True)
        except binascii.Error as exc:
            raise serializers.ValidationError("Not valid base64.") from exc
        if len(value) != 43 or len(key) != 32:
            raise serializers.ValidationError("EncodingAESKey is 43 characters of base64 (a 32-byte key).")
        return value

    def validate_callback_token(self, value: str) -> str:
        if value and not (value.isascii() and value.isalnum()):
            raise serializers.ValidationError("The callback token is letters and digits only (WeCom's rule).")
        return value
