"""Routes of group welcome templates (入群欢迎语素材): ``/group-welcome-templates/``.

Kept in WeCom: create, update and delete go to WeCom first and a refusal changes nothing here
(``wecom_error``). Admins and operators only.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from contacts.apis.tags import WECOM_ERRORS
from scrm.api.viewsets import WeComObjectViewSet
from scrm.tenancy.actors import Actor

from ..models import GroupWelcomeTemplate
from ..serializers_codes import GroupWelcomeTemplateInputSerializer, GroupWelcomeTemplateSerializer
from ..services import welcome_templates
from .join_ways import AdminsAndOperators


@extend_schema_view(
    list=extend_schema(
        summary="Group welcome templates, newest first",
        parameters=[OpenApiParameter("q", str, description="Part of the name or text.")],
    ),
    retrieve=extend_schema(summary="A group welcome template"),
    create=extend_schema(
        summary="Add a group welcome template in WeCom (at most 100 per corp)",
        request=GroupWelcomeTemplateInputSerializer,
        responses={201: GroupWelcomeTemplateSerializer, **WECOM_ERRORS},
    ),
    partial_update=extend_schema(
        summary="Change a group welcome template (WeCom's copy too)",
        request=GroupWelcomeTemplateInputSerializer(partial=True),
        responses={200: GroupWelcomeTemplateSerializer, **WECOM_ERRORS},
    ),
    destroy=extend_schema(
        summary="Delete a group welcome template in WeCom (and here, even if WeCom had lost it)",
        responses={204: None, **WECOM_ERRORS},
    ),
)
class GroupWelcomeTemplateViewSet(WeComObjectViewSet):
    queryset = GroupWelcomeTemplate.objects.select_related("created_by", "created_by_api_key")
    serializer_class = GroupWelcomeTemplateSerializer
    permission_classes = [AdminsAndOperators]
    search_fields = ("name", "text")

    def create(self, request, *args, **kwargs):
        data = GroupWelcomeTemplateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        # The attachment as sent: the service validates it field by field (with paths).
        values = {**data.validated_data, "attachment": request.data.get("attachment") or {}}
        template = welcome_templates.group_welcome_template_create(actor=Actor.of(self.principal), **values)
        return Response(GroupWelcomeTemplateSerializer(template).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        template = self.get_object()
        data = GroupWelcomeTemplateInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        sent = {k: v for k, v in data.validated_data.items() if k in request.data}
        if "attachment" in request.data:
            sent["attachment"] = request.data.get("attachment") or {}
        template = welcome_templates.group_welcome_template_update(template=template, data=sent)
        return Response(GroupWelcomeTemplateSerializer(template).data)

    def perform_destroy(self, instance):
        welcome_templates.group_welcome_template_delete(template=instance)


router = SimpleRouter()
router.register("group-welcome-templates", GroupWelcomeTemplateViewSet, basename="group-welcome-template")

urlpatterns = router.urls
