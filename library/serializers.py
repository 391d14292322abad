"""Shapes of the content library's routes, and of the reference other apps store (``MaterialRef``).

A new material is created from JSON (text, link, mini program: one request shape per ``kind``, so
that the schema states each kind's own fields and patterns) or from a multipart upload (image, video,
file). What JSON Schema cannot say is left to the services, with its own error codes: UTF-8 byte limits
(``too_many_bytes``), which ids exist (``does_not_exist``), what kind of material an id or an existing
material is (``wrong_kind``), what a file's bytes are (``unsupported_file``).
"""

from __future__ import annotations

from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema_field
from rest_framework import serializers as drf

from scrm.api import serializers
from scrm.api.fields import ActorField

from .models import Folder, Material, MaterialKind
from .services import (
    APPID_INVALID,
    FOLDER_NAME_MAX,
    HTTP_URL_PATTERN,
    LINK_DESCRIPTION_MAX,
    LINK_TITLE_MAX,
    MAX_TAGS,
    MINIPROGRAM_APPID_PATTERN,
    MINIPROGRAM_PAGE_PATTERN,
    MINIPROGRAM_TITLE_MAX_BYTES,
    NOT_BLANK_PATTERN,
    PAGE_INVALID,
    TAG_MAX,
    TITLE_MAX,
    URL_INVALID,
    URL_MAX,
)


def _string(
    pattern: str = NOT_BLANK_PATTERN, *, invalid: str = "This field may not be blank.", **kwargs
) -> serializers.RegexField:
    """A string checked as sent (not trimmed): what the schema's pattern says is what is accepted."""
    return serializers.RegexField(
        pattern, trim_whitespace=False, error_messages={"invalid": invalid}, **kwargs
    )


class MaterialRefSerializer(serializers.Serializer):
    """An attachment as messages store it: a material of the library, by id."""

    material_id = serializers.IntegerField(help_text="A material of the library (GET /materials/).")


def _tags() -> serializers.ListField:
    return serializers.ListField(
        child=serializers.CharField(max_length=TAG_MAX),
        required=False,
        max_length=MAX_TAGS,
        help_text=f"Tag names (≤ {MAX_TAGS}, each ≤ {TAG_MAX} characters); new names are created.",
    )


def _folder(**kwargs) -> serializers.IntegerField:
    return serializers.IntegerField(
        required=False, allow_null=True, help_text="A folder's id; null for none.", **kwargs
    )


def _url(**kwargs) -> serializers.RegexField:
    return _string(HTTP_URL_PATTERN, invalid=URL_INVALID, max_length=URL_MAX, **kwargs)


def _picture_url(**kwargs) -> serializers.RegexField:
    return serializers.RegexField(
        HTTP_URL_PATTERN,
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        max_length=URL_MAX,
        error_messages={"invalid": URL_INVALID},
        help_text="The card's picture by http(s) URL, sent to WeCom as is (a cover image wins over it).",
        **kwargs,
    )


class TextMaterialCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["text"])
    title = serializers.CharField(
        required=False, allow_blank=True, max_length=TITLE_MAX, help_text="Empty: the text's first line."
    )
    text = _string(help_text="≤ 4,000 bytes (UTF-8).")
    folder = _folder()
    tags = _tags()


class LinkMaterialCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["link"])
    title = _string(
        max_length=LINK_TITLE_MAX, help_text=f"The card's title, ≤ {LINK_TITLE_MAX} bytes (UTF-8)."
    )
    url = _url()
    description = serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        max_length=LINK_DESCRIPTION_MAX,
        help_text=f"≤ {LINK_DESCRIPTION_MAX} bytes (UTF-8).",
    )
    picture_url = _picture_url()
    cover = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="An image of the library drawn on the card (WeCom keeps a copy: media/uploadimg).",
    )
    folder = _folder()
    tags = _tags()


class MiniprogramMaterialCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["miniprogram"])
    title = _string(
        max_length=MINIPROGRAM_TITLE_MAX_BYTES,
        help_text=f"The card's title, ≤ {MINIPROGRAM_TITLE_MAX_BYTES} bytes (UTF-8).",
    )
    appid = _string(MINIPROGRAM_APPID_PATTERN, invalid=APPID_INVALID, help_text="wx + 16 hex digits.")
    page = _string(
        MINIPROGRAM_PAGE_PATTERN,
        invalid=PAGE_INVALID,
        help_text="A path ending in .html, e.g. pages/index.html.",
    )
    cover = serializers.IntegerField(
        help_text="An image of the library: the card's cover (required by WeCom)."
    )
    folder = _folder()
    tags = _tags()


CREATE_SERIALIZERS: dict[str, type[serializers.Serializer]] = {
    "text": TextMaterialCreateSerializer,
    "link": LinkMaterialCreateSerializer,
    "miniprogram": MiniprogramMaterialCreateSerializer,
}

MaterialCreateSchema = PolymorphicProxySerializer(
    component_name="MaterialCreate", serializers=CREATE_SERIALIZERS, resource_type_field_name="kind"
)


class MaterialUploadSerializer(serializers.Serializer):
    """A multipart form: every value is a string there, so the folder is read from its digits."""

    kind = serializers.ChoiceField(
        choices=["image", "video", "file"],
        help_text="image: JPG/PNG ≤ 10 MB; video: MP4 ≤ 10 MB; file: 6 bytes to 20 MB.",
    )
    file = serializers.FileField(help_text="The bytes, checked against WeCom's limits for the kind.")
    title = serializers.CharField(
        required=False, allow_blank=True, max_length=TITLE_MAX, help_text="Empty: the file's name."
    )
    folder = drf.IntegerField(required=False, help_text="A folder's id.")
    tags = _tags()


class MaterialUpdateSerializer(serializers.Serializer):
    """The fields a material may change; a field of another kind is refused (``wrong_kind``). The
    bytes of an image, a video or a file are not replaced: upload a new material."""

    title = _string(required=False, max_length=TITLE_MAX)
    folder = _folder()
    tags = _tags()
    text = _string(required=False, help_text="text: ≤ 4,000 bytes.")
    url = _url(required=False, help_text="link.")
    description = serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        max_length=LINK_DESCRIPTION_MAX,
        help_text="link.",
    )
    picture_url = _picture_url()
    appid = _string(
        MINIPROGRAM_APPID_PATTERN, invalid=APPID_INVALID, required=False, help_text="miniprogram."
    )
    page = _string(MINIPROGRAM_PAGE_PATTERN, invalid=PAGE_INVALID, required=False, help_text="miniprogram.")
    cover = serializers.IntegerField(
        required=False, allow_null=True, help_text="link (optional), miniprogram (required): an image's id."
    )


class UsageCountSerializer(serializers.Serializer):
    owner_type = serializers.CharField(help_text="channel_code, welcome_default, group_welcome, campaign...")
    label = serializers.CharField()
    count = serializers.IntegerField()


class MaterialUserSerializer(serializers.Serializer):
    owner_type = serializers.CharField()
    owner_id = serializers.IntegerField()
    label = serializers.CharField(help_text="What the owner is: Channel code, Campaign...")
    name = serializers.CharField()


def _file_url(request, material: Material | None) -> str | None:
    if material is None or not material.file:
        return None
    path = f"/api/v1/materials/{material.pk}/file/"
    return request.build_absolute_uri(path) if request is not None else path


class MaterialSerializer(serializers.ModelSerializer):
    """A material of the library, with its tags and how much it is used."""

    kind = serializers.ChoiceField(choices=MaterialKind.choices)
    tags = serializers.SerializerMethodField()
    file_url = serializers.SerializerMethodField(
        help_text="image, video, file: the bytes (members of the tenant only); ?download=1 as a file."
    )
    preview_url = serializers.SerializerMethodField(
        help_text="An image to show: the image itself, or a card's cover (its file, else its picture URL)."
    )
    usage_count = serializers.SerializerMethodField(help_text="How many owners use it now.")
    usage = serializers.SerializerMethodField(help_text="Its users, counted by type.")
    created_by = ActorField()

    class Meta:
        model = Material
        fields = [
            "id", "kind", "title", "folder", "tags", "text", "url", "description", "picture_url", "appid",
            "page", "cover", "filename", "content_type", "size", "sha256", "file_url", "preview_url",
            "usage_count", "usage", "created_by", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields

    def _page(self, key: str, material: Material):
        return self.context.get(key, {}).get(material.pk)

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_tags(self, material: Material) -> list[str]:
        return self._page("tags", material) or []

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_file_url(self, material: Material) -> str | None:
        return _file_url(self.context.get("request"), material)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_preview_url(self, material: Material) -> str | None:
        request = self.context.get("request")
        if material.kind == "image":
            return _file_url(request, material)
        if material.kind in ("link", "miniprogram"):
            return _file_url(request, material.cover) or material.picture_url or None
        return None

    def get_usage_count(self, material: Material) -> int:
        return sum((self._page("usage", material) or {}).values())

    @extend_schema_field(UsageCountSerializer(many=True))
    def get_usage(self, material: Material) -> list[dict]:
        from .owners import owner_label

        counts = self._page("usage", material) or {}
        return [{"owner_type": t, "label": owner_label(t), "count": n} for t, n in sorted(counts.items())]


class MaterialDetailSerializer(MaterialSerializer):
    """A material, with who uses it."""

    used_by = serializers.SerializerMethodField(help_text="Who uses it, by name.")

    class Meta(MaterialSerializer.Meta):
        fields = [*MaterialSerializer.Meta.fields, "used_by"]
        read_only_fields = fields

    @extend_schema_field(MaterialUserSerializer(many=True))
    def get_used_by(self, material: Material) -> list[dict]:
        return self.context.get("used_by", [])


class FolderSerializer(serializers.ModelSerializer):
    """A folder of the library."""

    material_count = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = Folder
        fields = ["id", "name", "material_count", "created_at"]
        read_only_fields = fields


class FolderInputSerializer(serializers.Serializer):
    name = _string(max_length=FOLDER_NAME_MAX, help_text="Unique in the library.")


class MaterialTagCountSerializer(serializers.Serializer):
    name = serializers.CharField()
    material_count = serializers.IntegerField()
