"""Who is calling, in which tenant, with which role and data scope.

One ``Principal`` per request, resolved once after authentication, whether the caller is a
dashboard session or an integrator's API key. Views, permissions and selectors read it; nothing
else decides tenant or role.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.auth.base_user import AbstractBaseUser

from .models import ApiKey, DataScope, Membership, Role, Tenant

SESSION_TENANT_KEY = "siyu_active_tenant_id"


@dataclass(frozen=True)
class Principal:
    tenant: Tenant | None
    role: str | None
    data_scope: str = DataScope.ALL
    wecom_userid: str = ""
    department_ids: tuple[int, ...] = field(default_factory=tuple)
    user: AbstractBaseUser | None = None
    api_key: ApiKey | None = None
    # A session's active memberships (what the tenant switcher lists); empty for API keys.
    memberships: tuple[Membership, ...] = ()

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN


def user_memberships(user: AbstractBaseUser) -> list[Membership]:
    # Authentication runs before any tenant is known, hence unscoped; filtered by user instead.
    return list(
        Membership.unscoped.filter(user=user, tenant__is_active=True)
        .select_related("tenant", "user")
        .order_by("id")
    )


def principal_for_membership(membership: Membership, memberships: tuple[Membership, ...] = ()) -> Principal:
    return Principal(
        tenant=membership.tenant,
        role=membership.role,
        data_scope=membership.data_scope,
        wecom_userid=membership.wecom_userid,
        department_ids=tuple(membership.department_ids or ()),
        user=membership.user,
        memberships=memberships,
    )


def principal_for_session(request, user: AbstractBaseUser) -> Principal:
    """The user's active membership: the one chosen with switch-tenant, else their first."""
    memberships = tuple(user_memberships(user))
    if not memberships:
        return Principal(tenant=None, role=None, user=user)
    wanted = request.session.get(SESSION_TENANT_KEY)
    chosen = next((m for m in memberships if m.tenant_id == wanted), memberships[0])
    return principal_for_membership(chosen, memberships)


def principal_for_api_key(api_key: ApiKey) -> Principal:
    # A key acts with its role over the whole tenant: it belongs to no WeCom member, so a
    # sales-role key has the "self" scope with no userid and sees no customers' data.
    scope = DataScope.SELF if api_key.role == Role.SALES else DataScope.ALL
    return Principal(tenant=api_key.tenant, role=api_key.role, data_scope=scope, api_key=api_key)
