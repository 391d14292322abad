from django.core.management.base import BaseCommand, CommandError

from scrm.tenancy import services
from scrm.tenancy.models import Role, Tenant


class Command(BaseCommand):
    help = "Create an API key for a tenant. Prints the key alone on stdout (it is not stored)."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="Tenant slug.")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--name", default="command line")

    def handle(self, *args, **opts):
        tenant = Tenant.objects.filter(slug=opts["tenant"]).first()
        if tenant is None:
            raise CommandError(f"No tenant with slug {opts['tenant']!r}.")
        _, key = services.api_key_create(tenant=tenant, role=opts["role"], name=opts["name"])
        self.stdout.write(key)
