from rest_framework import serializers

from scrm.api.viewsets import TenantModelViewSet
from scrm.tenancy.scope import apply_data_scope

from .models import Folder, Widget


class TagSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=10)


class WidgetSerializer(serializers.ModelSerializer):
    # The manager, not .all(): evaluated inside the request, so scoped to its tenant.
    folder = serializers.PrimaryKeyRelatedField(queryset=Folder.objects, allow_null=True, required=False)
    folder_name = serializers.CharField(source="folder.name", read_only=True, default=None)
    tags = TagSerializer(many=True, required=False)

    class Meta:
        model = Widget
        fields = ["id", "name", "folder", "folder_name", "owner_userid", "department_id", "tags"]

    # tags are plain JSON on the model; the nested serializer is there to produce nested error paths.
    def create(self, validated_data):
        return Widget.objects.create(**validated_data)

    def update(self, instance, validated_data):
        for field, value in validated_data.items():
            setattr(instance, field, value)
        instance.save()
        return instance


class WidgetViewSet(TenantModelViewSet):
    queryset = Widget.objects.select_related("folder").order_by("id")
    serializer_class = WidgetSerializer
    filterset_fields = ["name", "owner_userid"]
    ordering_fields = ["id", "name"]

    def get_queryset(self):
        return apply_data_scope(
            super().get_queryset(),
            self.principal,
            userid_field="owner_userid",
            department_field="department_id",
        )
