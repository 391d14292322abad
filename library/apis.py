"""Routes of the content library (素材库).

- ``/materials/``: list (filters: kind, folder, tag, q, id; page numbers for the dashboard, cursors for
  keys), create (JSON for text, link, mini program; multipart for image, video, file), retrieve (with
  who uses it), change, delete (409 while something uses it, naming what);
- ``/materials/{id}/file/``: the bytes, to members of the tenant only (not a public URL);
- ``/materials/tags/``: the tags in use, with counts;
- ``/material-folders/``: the folders (flat), with counts.

Everyone in the tenant reads the library (sales send its materials from the sidebar later); admins
and operators change it.
"""

from __future__ import annotations

from django.http import FileResponse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from scrm.api.errors import problem
from scrm.api.filters import query_flag
from scrm.api.parsers import JSONParser
from scrm.api.permissions import OperatorWrites
from scrm.api.viewsets import ID_PATTERN, TenantViewMixin
from scrm.tenancy.actors import Actor

from . import selectors, services
from .filters import MaterialFilter
from .models import Folder, Material
from .serializers import (
    CREATE_SERIALIZERS,
    FolderInputSerializer,
    FolderSerializer,
    MaterialCreateSchema,
    MaterialDetailSerializer,
    MaterialSerializer,
    MaterialTagCountSerializer,
    MaterialUpdateSerializer,
    MaterialUploadSerializer,
    MaterialUserSerializer,
)


class MaterialInUse(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "material_in_use"


IN_USE = OpenApiResponse(
    MaterialUserSerializer(many=True),
    description="Something uses it (type material_in_use): `used_by` names what; remove it there first.",
)


@extend_schema(tags=["library"])
@extend_schema_view(
    list=extend_schema(summary="Materials of the library, newest first"),
    retrieve=extend_schema(summary="A material, with who uses it", responses=MaterialDetailSerializer),
    create=extend_schema(
        summary="Add a material: JSON for a text, a link or a mini program; a multipart upload for an "
        "image (JPG/PNG ≤ 10 MB), a video (MP4 ≤ 10 MB) or a file (6 bytes to 20 MB)",
        request={"application/json": MaterialCreateSchema, "multipart/form-data": MaterialUploadSerializer},
        responses={201: MaterialDetailSerializer},
    ),
    partial_update=extend_schema(
        summary="Change a material (its kind's fields; a file's bytes are not replaced)",
        request=MaterialUpdateSerializer,
        responses=MaterialDetailSerializer,
    ),
    destroy=extend_schema(
        summary="Delete a material (kept for what was sent with it; refused while something uses it)",
        responses={204: None, 409: IN_USE},
    ),
)
class MaterialViewSet(
    TenantViewMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    queryset = Material.objects
    serializer_class = MaterialSerializer
    filterset_class = MaterialFilter
    permission_classes = [OperatorWrites]
    parser_classes = [JSONParser, MultiPartParser]
    lookup_value_regex = ID_PATTERN
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    @property
    def filter_backends(self):
        return [DjangoFilterBackend] if self.action == "list" else []

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no principal
            return Material.objects.none()
        return selectors.materials_live().filter(tenant=self.principal.tenant).order_by("-id")

    def _context(self, materials: list[Material], *, detail: bool = False) -> dict:
        context = {**self.get_serializer_context(), **selectors.materials_page_context(materials)}
        if detail:
            context["used_by"] = services.material_uses(material=materials[0])
        return context

    def _one(self, material: Material, code: int = status.HTTP_200_OK) -> Response:
        material = self.get_queryset().get(pk=material.pk)
        return Response(
            MaterialDetailSerializer(material, context=self._context([material], detail=True)).data, code
        )

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(
            MaterialSerializer(page, many=True, context=self._context(page)).data
        )

    def retrieve(self, request, *args, **kwargs):
        return self._one(self.get_object())

    def create(self, request, *args, **kwargs):
        actor = Actor.of(self.principal)
        if request.content_type.startswith("multipart/"):
            form = MaterialUploadSerializer(data=request.data)
            form.is_valid(raise_exception=True)
            data = dict(form.validated_data)
            kind, upload = data.pop("kind"), data.pop("file")
            material = services.material_create(kind=kind, data=data, file=upload, actor=actor)
            return self._one(material, status.HTTP_201_CREATED)
        kind = request.data.get("kind") if isinstance(request.data, dict) else None
        serializer_class = CREATE_SERIALIZERS.get(kind) if isinstance(kind, str) else None
        if serializer_class is None:
            raise exceptions.ValidationError(
                {"kind": [f"One of: {', '.join(CREATE_SERIALIZERS)} (upload an image, a video or a file)."]}
            )
        body = serializer_class(data=request.data)
        body.is_valid(raise_exception=True)
        data = {k: v for k, v in body.validated_data.items() if k != "kind"}
        material = services.material_create(kind=kind, data=data, actor=actor)
        return self._one(material, status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        material = self.get_object()
        body = MaterialUpdateSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        # Only what the client sent: a partial update must not reset the rest to the defaults.
        sent = {k: v for k, v in body.validated_data.items() if k in request.data}
        return self._one(services.material_update(material=material, data=sent))

    def destroy(self, request, *args, **kwargs):
        material = self.get_object()
        try:
            services.material_delete(material=material)
        except services.MaterialInUseError as exc:
            body = problem(409, MaterialInUse.default_code, str(exc))
            body["used_by"] = MaterialUserSerializer(exc.uses, many=True).data
            return Response(body, status=status.HTTP_409_CONFLICT)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="A material's bytes (image, video, file): for members of the tenant only",
        parameters=[OpenApiParameter("download", bool, description="true: as a file to save.")],
        responses={
            (200, media_type): OpenApiResponse(OpenApiTypes.BINARY)
            for media_type in ("image/jpeg", "image/png", "video/mp4", "application/octet-stream")
        },
    )
    @action(detail=True, methods=["get"])
    def file(self, request, pk=None):
        material = self.get_object()
        if not material.file:
            raise exceptions.NotFound("This material has no file.")
        # An image or a video is what its first bytes said; any other file is only ever downloaded, never
        # shown by the browser (an uploaded .html must not run as a page of this site).
        return FileResponse(
            material.file.open("rb"),
            content_type=material.content_type if material.kind != "file" else "application/octet-stream",
            as_attachment=query_flag(request, "download") or material.kind == "file",
            filename=material.filename or f"material-{material.pk}",
        )

    @extend_schema(
        summary="The tags on the library's materials, with how many carry each",
        responses=MaterialTagCountSerializer(many=True),
    )
    @action(detail=False, methods=["get"], pagination_class=None)
    def tags(self, request):
        rows = selectors.tags_with_counts().values("name", "material_count")
        return Response(MaterialTagCountSerializer(rows, many=True).data)


@extend_schema(tags=["library"])
@extend_schema_view(
    list=extend_schema(summary="The library's folders, by name, with their materials' count"),
    retrieve=extend_schema(summary="A folder"),
    create=extend_schema(
        summary="Add a folder", request=FolderInputSerializer, responses={201: FolderSerializer}
    ),
    partial_update=extend_schema(summary="Rename a folder", request=FolderInputSerializer),
    destroy=extend_schema(summary="Delete a folder; its materials stay in the library, in no folder"),
)
class FolderViewSet(
    TenantViewMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    queryset = Folder.objects
    serializer_class = FolderSerializer
    permission_classes = [OperatorWrites]
    filter_backends: list = []
    pagination_class = None  # a sidebar's worth: every folder at once
    lookup_value_regex = ID_PATTERN
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Folder.objects.none()
        return selectors.folders_with_counts().filter(tenant=self.principal.tenant)

    def _counted(self, folder: Folder, code: int = status.HTTP_200_OK) -> Response:
        return Response(FolderSerializer(self.get_queryset().get(pk=folder.pk)).data, status=code)

    def create(self, request, *args, **kwargs):
        body = FolderInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._counted(services.folder_create(**body.validated_data), status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        folder = self.get_object()
        body = FolderInputSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        if "name" in body.validated_data:
            folder = services.folder_update(folder=folder, name=body.validated_data["name"])
        return self._counted(folder)

    def perform_destroy(self, instance):
        services.folder_delete(folder=instance)


router = SimpleRouter()
router.register("materials", MaterialViewSet, basename="material")
router.register("material-folders", FolderViewSet, basename="material-folder")

urlpatterns = router.urls
