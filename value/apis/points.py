"""Points and membership levels: ``/contacts/{id}/points/`` (a customer's ledger), ``/points/grant/`` and
``/points/redeem/``, ``/points/rules/`` and ``/levels/``.

Everyone reads: the ledger of a customer it can see (a sales member: its own customers; another
customer, like another tenant's, answers 404), the rules and the levels. Admins and operators (and their
API keys) grant and redeem; admins change rules and levels. Grants and redemptions honour
``Idempotency-Key``: the same key from the same caller answers the first entry again (200).
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.urls import path, re_path
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from contacts.apis.common import IDEMPOTENCY_KEY
from contacts.selectors import contacts_visible
from scrm.api.permissions import AdminWrites, IsTenantAdminOrOperator, IsTenantMember
from scrm.api.viewsets import ID_PATTERN, TenantAPIView, TenantViewMixin
from scrm.tenancy.actors import Actor

from ..models import Level, PointsRule
from ..serializers_points import (
    LevelSerializer,
    LevelUpdateSerializer,
    PointsChangeResultSerializer,
    PointsChangeSerializer,
    PointsEntrySerializer,
    PointsRuleSerializer,
    PointsRuleUpdateSerializer,
)
from ..services import points as services

# -- a customer's ledger ------------------------------------------------------------------------------


@extend_schema(tags=["value"])
class ContactPointsView(TenantAPIView):
    permission_classes = [IsTenantMember]
    serializer_class = PointsEntrySerializer
    filter_backends: list = []

    @extend_schema(
        summary="A customer's points ledger, latest first (paginated like the timeline)",
        parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH)],
        responses=PointsEntrySerializer(many=True),
        description="Earned, granted, redeemed, expired and reversed lines with the balance after each. "
        "The balance, level and next level are in /contacts/{id}/value/.",
    )
    def get(self, request, pk: str):
        contact = get_object_or_404(contacts_visible(self.principal), pk=pk)
        page = self.paginate_queryset(services.points_ledger(contact))
        return self.get_paginated_response(PointsEntrySerializer(page, many=True).data)


# -- grants and redemptions ---------------------------------------------------------------------------


def _change_schema(*, summary: str, description: str, refusals: dict):
    return extend_schema(
        tags=["value"],
        summary=summary,
        description=description,
        request=PointsChangeSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            201: PointsChangeResultSerializer,
            200: OpenApiResponse(
                PointsChangeResultSerializer,
                description="The entry this Idempotency-Key made before (header Idempotent-Replay: true); "
                "balance and level are as they are now.",
            ),
            400: OpenApiResponse(description="Invalid input (an unknown customer: does_not_exist)."),
            **refusals,
        },
    )


_KEY_REUSED = "idempotency_key_reused: the key was used for another customer, number of points or kind."


class _PointsChangeView(TenantAPIView):
    permission_classes = [IsTenantAdminOrOperator]
    serializer_class = PointsChangeSerializer
    change = staticmethod(services.points_grant)

    def post(self, request):
        serializer = PointsChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        entry = self.change(
            contact=data["contact"],
            points=data["points"],
            note=data["note"],
            actor=Actor.of(self.principal),
            idempotency_key=request.headers.get("Idempotency-Key", ""),
        )
        account = services.points_account(entry.contact_id)
        body = {
            "entry": PointsEntrySerializer(entry).data,
            "balance": account.balance,
            "level": _level(account.level),
        }
        if entry.replayed:
            return Response(body, status=status.HTTP_200_OK, headers={"Idempotent-Replay": "true"})
        return Response(body, status=status.HTTP_201_CREATED)


def _level(level: Level | None) -> dict | None:
    if level is None:
        return None
    return {"id": level.pk, "name": level.name, "color": level.color, "min_points": level.min_points}


class PointsGrantView(_PointsChangeView):
    change = staticmethod(services.points_grant)

    @_change_schema(
        summary="Give a customer points (admins, operators; honours Idempotency-Key)",
        description="A credit that counts towards the level and expires after the tenant's "
        "points_expire_days (value settings; 0: never).",
        refusals={409: OpenApiResponse(description=_KEY_REUSED)},
    )
    def post(self, request):
        return super().post(request)


class PointsRedeemView(_PointsChangeView):
    change = staticmethod(services.points_redeem)

    @_change_schema(
        summary="Redeem a customer's points (admins, operators; honours Idempotency-Key)",
        description="Spends the oldest credits first. Never more than the balance, even under concurrent "
        "requests: that is a 409 insufficient_points, and nothing changes.",
        refusals={
            409: OpenApiResponse(description=f"insufficient_points: beyond the balance; {_KEY_REUSED}")
        },
    )
    def post(self, request):
        return super().post(request)


# -- rules and levels ---------------------------------------------------------------------------------


class _SettingsViewSet(TenantViewMixin, viewsets.ModelViewSet):
    # Small per-tenant lists the settings page edits: never paged. Every member reads; admins write.
    permission_classes = [AdminWrites]
    pagination_class = None
    filter_backends: list = []
    lookup_value_regex = ID_PATTERN
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]


@extend_schema(tags=["value"])
@extend_schema_view(
    list=extend_schema(summary="The points rules, by action"),
    retrieve=extend_schema(summary="A points rule"),
    create=extend_schema(
        summary="Add the rule of an action (admins; one per action: a second is a 400 unique)",
        responses={201: PointsRuleSerializer},
    ),
    partial_update=extend_schema(
        summary="Change a rule's points or turn it on or off (admins; its action stays)",
        request=PointsRuleUpdateSerializer,
        responses=PointsRuleSerializer,
    ),
    destroy=extend_schema(summary="Delete a rule (admins; what it earned stays in the ledgers)"),
)
class PointsRuleViewSet(_SettingsViewSet):
    queryset = PointsRule.objects
    serializer_class = PointsRuleSerializer

    def create(self, request):
        serializer = PointsRuleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        rule = services.rule_create(**serializer.validated_data)
        return Response(PointsRuleSerializer(rule).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        rule = self.get_object()
        serializer = PointsRuleUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        # The action is not a field of the update; one sent is checked by the service (immutable).
        data = {**serializer.validated_data}
        if "action" in request.data:
            data["action"] = request.data["action"]
        rule = services.rule_update(rule=rule, data=data)
        return Response(PointsRuleSerializer(rule).data)

    def destroy(self, request, pk=None):
        services.rule_delete(rule=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["value"])
@extend_schema_view(
    list=extend_schema(summary="The membership levels, lowest first, with their customers"),
    retrieve=extend_schema(summary="A membership level"),
    create=extend_schema(
        summary="Add a level (admins); the customers who reach it move up at once",
        responses={201: LevelSerializer},
    ),
    partial_update=extend_schema(
        summary="Change a level (admins); a new threshold moves the customers it concerns at once",
        request=LevelUpdateSerializer,
        responses=LevelSerializer,
    ),
    destroy=extend_schema(summary="Delete a level (admins); its customers fall to the level below"),
)
class LevelViewSet(_SettingsViewSet):
    queryset = Level.objects
    serializer_class = LevelSerializer

    def _data(self, levels, *, many: bool = False):
        return LevelSerializer(levels, many=many, context={"counts": services.level_customer_counts()}).data

    def list(self, request):
        return Response(self._data(self.get_queryset().order_by("min_points", "pk"), many=True))

    def retrieve(self, request, pk=None):
        return Response(self._data(self.get_object()))

    def create(self, request):
        serializer = LevelSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        level = services.level_create(data=serializer.validated_data)
        return Response(self._data(level), status=status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        level = self.get_object()
        serializer = LevelUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        level = services.level_update(level=level, data=serializer.validated_data)
        return Response(self._data(level))

    def destroy(self, request, pk=None):
        services.level_delete(level=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


router = SimpleRouter(trailing_slash=True)
router.register("points/rules", PointsRuleViewSet, basename="points-rule")
router.register("levels", LevelViewSet, basename="level")

urlpatterns = [
    # Digits only (ID_PATTERN): the contacts router's own routes under contacts/{id}/ never match here.
    re_path(
        rf"^contacts/(?P<pk>{ID_PATTERN})/points/$",
        ContactPointsView.as_view(),
        name="contact-points",
    ),
    path("points/grant/", PointsGrantView.as_view(), name="points-grant"),
    path("points/redeem/", PointsRedeemView.as_view(), name="points-redeem"),
    *router.urls,
]
