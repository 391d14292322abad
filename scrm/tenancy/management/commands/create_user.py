from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from scrm.tenancy import services
from scrm.tenancy.models import Role, Tenant

from .create_tenant import _describe


class Command(BaseCommand):
    help = "Create a user (or reuse an existing one) and make them a member of a tenant with a role."

    def add_arguments(self, parser):
        parser.add_argument("--username", required=True)
        parser.add_argument("--password", required=True)
        parser.add_argument("--tenant", required=True, help="Tenant slug.")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--userid", default="", help="The WeCom userid this member is.")

    @transaction.atomic
    def handle(self, *args, **opts):
        tenant = Tenant.objects.filter(slug=opts["tenant"]).first()
        if tenant is None:
            raise CommandError(f"No tenant with slug {opts['tenant']!r}.")
        try:
            user, created = services.user_get_or_create(username=opts["username"], password=opts["password"])
            if not created:
                services.user_set_password(user=user, password=opts["password"])
            services.membership_add(tenant=tenant, user=user, role=opts["role"], wecom_userid=opts["userid"])
        except ValidationError as exc:
            raise CommandError(_describe(exc)) from exc
        self.stdout.write(f"{user.username} is now {opts['role']} of {tenant.slug}")
