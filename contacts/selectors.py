"""Reads of the contacts app. Data scope (DESIGN.md §3) is applied here, once, for every caller:
lists, details, exports and bulk jobs all start from ``contacts_visible``.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.db.models import Q, QuerySet
from django.http import QueryDict

from scrm.tenancy.models import DataScope, Role
from scrm.tenancy.principal import Principal

from .filters import FILTER_PARAMS, ContactFilter
from .models import Contact


def contact_scope_q(principal: Principal) -> Q:
    """What part of the tenant's customers ``principal`` may see and act on (facets keys, see facets.py)."""
    if principal.role in (Role.ADMIN, Role.OPERATOR) or principal.data_scope == DataScope.ALL:
        return Q()
    if not principal.wecom_userid:
        return Q(pk__in=[])
    own = Q(facets__has_key=f"s:{principal.wecom_userid}")
    if principal.data_scope == DataScope.DEPARTMENTS and principal.department_ids:
        return own | Q(facets__has_any_keys=[f"d:{d}" for d in principal.department_ids])
    return own


def contacts_visible(principal: Principal) -> QuerySet[Contact]:
    return Contact.objects.filter(contact_scope_q(principal))


def contacts_matching(*, principal: Principal, filters: Mapping[str, str]) -> QuerySet[Contact]:
    """The contacts a saved filter (the list's query parameters) selects, within the principal's scope.

    Raises DRF's ValidationError (400, naming the parameter) for invalid or unknown values.
    """
    from rest_framework.exceptions import ValidationError

    data = QueryDict(mutable=True)
    for key in FILTER_PARAMS:
        if filters.get(key) not in (None, ""):
            data[key] = str(filters[key])
    filterset = ContactFilter(data=data, queryset=contacts_visible(principal))
    if not filterset.is_valid():
        raise ValidationError(filterset.errors)
    return filterset.qs
