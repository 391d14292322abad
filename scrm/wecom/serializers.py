from scrm.api import serializers

from .models import CallbackEvent


class CallbackEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = CallbackEvent
        fields = [
            "id",
            "event",
            "change_type",
            "status",
            "attempts",
            "last_error",
            "payload",
            "received_at",
            "processed_at",
        ]
        read_only_fields = fields


class WeComErrorSerializer(serializers.Serializer):
    api = serializers.CharField()
    errcode = serializers.IntegerField(allow_null=True)
    errmsg = serializers.CharField()
    hint = serializers.CharField()


class ConnectionCheckSerializer(serializers.Serializer):
    check = serializers.CharField()
    label = serializers.CharField()
    ok = serializers.BooleanField()
    error = WeComErrorSerializer(allow_null=True)


class ConnectionTestSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    checks = ConnectionCheckSerializer(many=True)
