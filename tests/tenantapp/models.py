from django.db import models

from scrm.tenancy.models import TenantModel


class Folder(TenantModel):
    name = models.CharField(max_length=50)


class Widget(TenantModel):
    name = models.CharField(max_length=50)
    folder = models.ForeignKey(Folder, null=True, blank=True, on_delete=models.SET_NULL)
    owner_userid = models.CharField(max_length=64, blank=True)
    department_id = models.IntegerField(null=True, blank=True)
    tags = models.JSONField(default=list, blank=True)
