import django_filters

from .models import ApiKey, Invitation, InvitationStatus, Membership, Role


class MemberFilter(django_filters.FilterSet):
    role = django_filters.ChoiceFilter(choices=Role.choices)
    username = django_filters.CharFilter(field_name="user__username", lookup_expr="icontains")

    class Meta:
        model = Membership
        fields = ["role", "username"]


class ApiKeyFilter(django_filters.FilterSet):
    prefix = django_filters.CharFilter(field_name="prefix", lookup_expr="startswith")
    revoked = django_filters.BooleanFilter(field_name="revoked_at", lookup_expr="isnull", exclude=True)

    class Meta:
        model = ApiKey
        fields = ["prefix", "role", "revoked"]


class InvitationFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=InvitationStatus.choices)

    class Meta:
        model = Invitation
        fields = ["status"]
