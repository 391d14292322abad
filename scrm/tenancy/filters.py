import django_filters

from scrm.api.filters import BooleanFilter, FilterSet

from .models import ApiKey, Invitation, InvitationStatus, Membership, Role


class MemberFilter(FilterSet):
    role = django_filters.ChoiceFilter(choices=Role.choices)
    username = django_filters.CharFilter(field_name="user__username", lookup_expr="icontains")

    class Meta:
        model = Membership
        fields = ["role", "username"]


class ApiKeyFilter(FilterSet):
    prefix = django_filters.CharFilter(field_name="prefix", lookup_expr="startswith")
    revoked = BooleanFilter(field_name="revoked_at", lookup_expr="isnull", exclude=True)

    class Meta:
        model = ApiKey
        fields = ["prefix", "role", "revoked"]


class InvitationFilter(FilterSet):
    status = django_filters.ChoiceFilter(choices=InvitationStatus.choices)

    class Meta:
        model = Invitation
        fields = ["status"]
