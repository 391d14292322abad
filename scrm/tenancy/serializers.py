from __future__ import annotations

from django.contrib.auth import get_user_model

from scrm.api import serializers
from scrm.api.fields import ActorField

from .models import ApiKey, DataScope, Invitation, Membership, Role, Tenant
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


class InvitationSerializer(serializers.ModelSerializer):
    created_by = ActorField()

    class Meta:
        model = Invitation
        fields = [
            "id",
            "username",
            "role",
            "data_scope",
            "wecom_userid",
            "department_ids",
            "status",
            "created_by",
            "created_at",
            "responded_at",
        ]
        read_only_fields = fields


class InvitationCreateSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    email = serializers.EmailField(
        required=False,
        default="",
        max_length=254,
        help_text="For a new account only; an existing account keeps its own.",
    )
    password = serializers.CharField(
        required=False,
        write_only=True,
        trim_whitespace=False,
        max_length=128,
        help_text=(
            "Creates an account with this password if the username is new; ignored if it exists. "
            "The answer is the same either way."
        ),
    )
    role = serializers.ChoiceField(choices=Role.choices)
    data_scope = serializers.ChoiceField(choices=DataScope.choices, required=False)
    wecom_userid = serializers.CharField(max_length=64, required=False, default="")
    department_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, default=list
    )


class MyInvitationSerializer(serializers.ModelSerializer):
    """An invitation as the invited user sees it: which tenant, and with which role."""

    tenant = TenantBriefSerializer()

    class Meta:
        model = Invitation
        fields = ["id", "tenant", "role", "data_scope", "status", "created_at", "responded_at"]
        read_only_fields = fields


class MemberUpdateSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices, required=False)
    data_scope = serializers.ChoiceField(choices=DataScope.choices, required=False)
    wecom_userid = serializers.CharField(max_length=64, required=False, allow_blank=True)
    department_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False)


class ApiKeySerializer(serializers.ModelSerializer):
    revoked = serializers.BooleanField(read_only=True)
    created_by = ActorField()

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
    """Secrets are write-only; reads say only whether each one is set. WeCom's rules for the values
    (and the deployment's for the API base) are checked by the service, for the command line too."""

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
