"""Give a tenant (the demo's by default) orders, refunds, custom events and a few pending items,
pushed through the ingestion service (value.services.demo). Run it after the first contacts sync;
a tenant that has the demo's orders already is left alone."""

import json

from django.core.management.base import BaseCommand, CommandError

from scrm.tenancy.models import Tenant
from value.services.demo import SEED, demo_value_seed


class Command(BaseCommand):
    help = "Push demo orders and custom events for part of a tenant's customers (deterministic per seed)."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", default="demo", help="Tenant slug (default: demo).")
        parser.add_argument("--seed", type=int, default=SEED, help="Same seed, same pushes.")

    def handle(self, *args, **opts):
        tenant = Tenant.objects.filter(slug=opts["tenant"]).first()
        if tenant is None:
            raise CommandError(f"No tenant with slug {opts['tenant']!r}.")
        summary = demo_value_seed(tenant=tenant, seed=opts["seed"])
        if summary is None:
            raise CommandError(f"Tenant {tenant.slug!r} has no customers yet: run it after the first sync.")
        if summary.get("skipped"):
            self.stdout.write(f"Tenant {tenant.slug!r} has the demo's orders already: nothing pushed.")
            return
        self.stdout.write(json.dumps(summary, ensure_ascii=False, indent=2))
