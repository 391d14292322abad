"""Base views: every tenant-owned route inherits one of these.

The tenant is taken from the authenticated principal and pinned in the ContextVar for the whole
request (reset in ``finally``), so the fail-closed managers scope every query, including the
querysets of related fields validated in input serializers (pass them the *manager*, e.g.
``queryset=Tag.objects``, so it is evaluated inside the request). ``get_queryset`` additionally
filters by the principal's tenant explicitly, and creation sets the tenant: input serializers never
accept one.
"""

from __future__ import annotations

import re

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Q
from rest_framework import generics, mixins, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.metadata import SimpleMetadata

from scrm.tenancy.context import reset_current_tenant, set_current_tenant
from scrm.tenancy.models import TenantModel
from scrm.tenancy.principal import Principal

from .principal import get_principal

# Ids in URLs: ASCII digits only (``\d`` would also match "１２", which int() reads as 12), and few
# enough to fit the 64-bit id columns; anything else is no object, a 404. Viewsets that route ids
# with their own pattern use this one; the others are checked in ``get_object``.
ID_PATTERN = r"[0-9]{1,18}"


class TenantViewMixin:
    _tenant_token = None

    @property
    def principal(self) -> Principal:
        return get_principal(self.request)

    def initial(self, request, *args, **kwargs):
        # Authenticate first (DRF would do it lazily inside initial) so the tenant is in context
        # before permissions, throttles and the handler touch any tenant-owned table.
        self.perform_authentication(request)
        principal = get_principal(request)
        if principal is not None and principal.tenant is not None:
            self._tenant_token = set_current_tenant(principal.tenant)
        super().initial(request, *args, **kwargs)

    def dispatch(self, request, *args, **kwargs):
        try:
            return super().dispatch(request, *args, **kwargs)
        finally:
            if self._tenant_token is not None:
                reset_current_tenant(self._tenant_token)
                self._tenant_token = None

    def get_queryset(self):
        queryset = super().get_queryset()
        if not issubclass(queryset.model, TenantModel):
            raise ImproperlyConfigured(
                f"{type(self).__name__} serves {queryset.model}, which is not tenant-owned"
            )
        return queryset.filter(tenant=self.principal.tenant)

    def get_object(self):
        lookup = self.kwargs.get(self.lookup_url_kwarg or self.lookup_field)
        if lookup is not None and not re.fullmatch(ID_PATTERN, str(lookup)):
            raise NotFound()
        return super().get_object()

    def perform_create(self, serializer):
        serializer.save(tenant=self.principal.tenant)


class ActionMetadata(SimpleMetadata):
    """OPTIONS for routes that are not model CRUD: DRF would fetch the object a PUT replaces to check
    permissions on it, and these routes have no queryset to fetch it from (a 500, not an answer)."""

    def determine_actions(self, request, view):
        get_object, view.get_object = view.get_object, lambda: None
        try:
            return super().determine_actions(request, view)
        finally:
            view.get_object = get_object


class TenantAPIView(TenantViewMixin, generics.GenericAPIView):
    """For tenant routes that are not plain model CRUD (actions, reports)."""

    metadata_class = ActionMetadata


class TenantModelViewSet(TenantViewMixin, viewsets.ModelViewSet):
    pass


class TenantReadOnlyViewSet(TenantViewMixin, viewsets.ReadOnlyModelViewSet):
    pass


class WeComObjectViewSet(
    TenantViewMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    # Objects kept in WeCom and edited here (channel codes, group codes, group welcome templates):
    # newest first, a text search on ``search_fields`` in lists, numeric ids, PATCH for changes (WeCom's
    # updates overwrite, so the service merges what was sent). Subclasses write ``create`` and
    # ``partial_update`` through their services, and ``perform_destroy``. A comment, not a docstring:
    # drf-spectacular would publish a docstring as every route's description.

    filter_backends: list = []  # a search on a few text fields, no filterset
    lookup_value_regex = ID_PATTERN
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    search_param = "q"
    search_fields: tuple[str, ...] = ("name",)

    def get_queryset(self):
        queryset = super().get_queryset().order_by("-id")
        text = self.request.query_params.get(self.search_param, "").strip()
        if self.action == "list" and text:
            matches = Q()
            for field in self.search_fields:
                matches |= Q(**{f"{field}__icontains": text})
            queryset = queryset.filter(matches)
        return queryset
