from django.db import models

from scrm.tenancy.models import TenantModel


class Folder(TenantModel):
    name = models.CharField(max_length=50)

    class Meta(TenantModel.Meta):
        indexes = [models.Index(fields=["tenant", "name"], name="folder_tenant_name")]


class Widget(TenantModel):
    name = models.CharField(max_length=50)
    folder = models.ForeignKey(Folder, null=True, blank=True, on_delete=models.SET_NULL)
    owner_userid = models.CharField(max_length=64, blank=True)
    department_id = models.IntegerField(null=True, blank=True)
    tags = models.JSONField(default=list, blank=True)

    class Meta(TenantModel.Meta):
        indexes = [models.Index(fields=["tenant", "owner_userid"], name="widget_tenant_owner")]
