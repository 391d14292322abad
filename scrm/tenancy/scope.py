"""The data-scope hook selectors call: what part of a tenant's customers a principal may see.

Admins and operators see everything; a sales member sees what it follows (``self``) or what its
departments' staff follow (``departments``). Applied in selectors, once, never in views.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from .models import DataScope, Role
from .principal import Principal


def data_scope_q(principal: Principal, *, userid_field: str, department_field: str | None = None) -> Q:
    """A filter for a queryset whose rows are owned by a WeCom member.

    ``userid_field`` is the lookup to the owning member's WeCom userid, ``department_field`` the
    lookup to that member's department id (required for ``departments`` scope to see anything
    beyond the member's own rows).
    """
    if principal.role in (Role.ADMIN, Role.OPERATOR) or principal.data_scope == DataScope.ALL:
        return Q()
    own = Q(**{userid_field: principal.wecom_userid}) if principal.wecom_userid else Q(pk__in=[])
    if principal.data_scope == DataScope.DEPARTMENTS and department_field and principal.department_ids:
        return own | Q(**{f"{department_field}__in": list(principal.department_ids)})
    return own


def apply_data_scope(
    queryset: QuerySet, principal: Principal, *, userid_field: str, department_field: str | None = None
) -> QuerySet:
    q = data_scope_q(principal, userid_field=userid_field, department_field=department_field)
    # Joins through a to-many relation can repeat rows; only pay for DISTINCT when scoped.
    return queryset.filter(q).distinct() if q else queryset
