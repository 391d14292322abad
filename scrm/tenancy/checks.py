"""System check: every tenant table has an index or unique constraint whose first column is tenant.

DESIGN.md §3 puts tenant first in composite indexes (it is also what Citus would distribute by); the
tenant foreign key has no index of its own, so a tenant model without one would scan on every scoped
query and on tenant deletion.
"""

from __future__ import annotations

from django.apps import apps
from django.core import checks


def _leads_with_tenant(fields) -> bool:
    return bool(fields) and fields[0].lstrip("-") in ("tenant", "tenant_id")


@checks.register(checks.Tags.models)
def check_tenant_indexes(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    configs = app_configs or apps.get_app_configs()
    return tenant_index_errors([model for config in configs for model in config.get_models()])


def tenant_index_errors(models) -> list[checks.CheckMessage]:
    from .models import TenantModel

    errors = []
    for model in models:
        if not issubclass(model, TenantModel) or model._meta.abstract:
            continue
        meta = model._meta
        leading = [index.fields for index in meta.indexes]
        leading += [c.fields for c in meta.constraints if getattr(c, "fields", None)]
        leading += [list(fields) for fields in meta.unique_together]
        if not any(_leads_with_tenant(list(fields)) for fields in leading):
            errors.append(
                checks.Error(
                    f"{meta.label} has no index or unique constraint led by tenant.",
                    hint='Add e.g. models.Index(fields=["tenant", ...]) to its Meta.indexes.',
                    obj=model,
                    id="tenancy.E001",
                )
            )
    return errors
