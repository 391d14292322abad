"""Routes of group owner transfers: ``POST /group-transfers/`` (a background job with a result per
group), ``GET /group-transfers/`` and ``/group-transfers/{id}/``.

Handing groups to another member is what customer transfers are (``/transfers/``): admins only.
"""

from __future__ import annotations

from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from contacts.apis.common import IDEMPOTENCY_KEY
from scrm.api.permissions import IsTenantAdmin
from scrm.api.viewsets import ID_PATTERN, TenantViewMixin

from ..models import GroupTransfer, GroupTransferItem
from ..serializers_codes import (
    GroupTransferCreateSerializer,
    GroupTransferDetailSerializer,
    GroupTransferSerializer,
)
from ..services import transfers


class Admins(IsTenantAdmin):
    message = "Only tenant admins hand groups to another owner (as they transfer customers)."


@extend_schema_view(
    list=extend_schema(summary="Group owner transfers, newest first"),
    retrieve=extend_schema(summary="A group owner transfer with its result per group"),
)
class GroupTransferViewSet(
    TenantViewMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    queryset = GroupTransfer.objects.select_related("new_owner", "created_by", "created_by_api_key")
    permission_classes = [Admins]
    filter_backends: list = []
    lookup_value_regex = ID_PATTERN

    def get_queryset(self):
        queryset = super().get_queryset().order_by("-id")
        if self.action == "retrieve":
            items = GroupTransferItem.objects.select_related("group", "previous_owner").order_by("id")
            queryset = queryset.prefetch_related(Prefetch("items", queryset=items))
        return queryset

    def get_serializer_class(self):
        return GroupTransferDetailSerializer if self.action == "retrieve" else GroupTransferSerializer

    @extend_schema(
        summary="Hand groups to a new owner (a background job; results per group)",
        description=(
            "Groups whose owner resigned go through groupchat/transfer, the others through "
            "groupchat/onjob_transfer (kind onjob, resigned or mixed), 100 per call. Each group gets an "
            "item: pending until sent, then succeeded (the group's owner is updated) or failed with "
            "WeCom's errcode and what it means. A group the new owner already owns succeeds at once, "
            "with the note 'Already the owner' in error (as when WeCom says so during the run). "
            "202 with the new transfer; 200 with the existing one for a repeated Idempotency-Key."
        ),
        parameters=[IDEMPOTENCY_KEY],
        request=GroupTransferCreateSerializer,
        responses={
            202: GroupTransferDetailSerializer,
            200: OpenApiResponse(
                GroupTransferDetailSerializer, description="The transfer this Idempotency-Key started before."
            ),
            400: OpenApiResponse(description="Invalid groups or new owner (validation_error)."),
        },
    )
    def create(self, request, *args, **kwargs):
        data = GroupTransferCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        transfer, created = transfers.group_transfer_create(
            principal=self.principal,
            idempotency_key=request.headers.get("Idempotency-Key", ""),
            **data.validated_data,
        )
        items = GroupTransferItem.objects.select_related("group", "previous_owner").order_by("id")
        transfer = (
            GroupTransfer.objects.select_related("new_owner", "created_by", "created_by_api_key")
            .prefetch_related(Prefetch("items", queryset=items))
            .get(pk=transfer.pk)
        )
        data = GroupTransferDetailSerializer(transfer).data
        # As it is now: an eager or quick worker may have advanced it already.
        return Response(data, status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK)


router = SimpleRouter()
router.register("group-transfers", GroupTransferViewSet, basename="group-transfer")

urlpatterns = router.urls
