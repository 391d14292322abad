import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from scrm.tenancy import services


class Command(BaseCommand):
    help = "Create a tenant (one WeCom corp). Prints one JSON object: id, slug, callback_url."

    def add_arguments(self, parser):
        parser.add_argument("--slug", required=True)
        parser.add_argument("--name", required=True)
        parser.add_argument("--corp-id", default="")
        parser.add_argument("--secret", default="", help="The self-built app's secret (stored encrypted).")
        parser.add_argument("--agent-id", default="")
        parser.add_argument("--token", default="", help="Callback token (stored encrypted).")
        parser.add_argument("--aes-key", default="", help="Callback EncodingAESKey (stored encrypted).")
        parser.add_argument("--api-base", default="", help="WeCom API base URL; empty means WECOM_API_BASE.")

    def handle(self, *args, **opts):
        try:
            tenant = services.tenant_create(
                slug=opts["slug"],
                name=opts["name"],
                corp_id=opts["corp_id"],
                corp_secret=opts["secret"],
                agent_id=opts["agent_id"],
                callback_token=opts["token"],
                encoding_aes_key=opts["aes_key"],
                api_base=opts["api_base"],
            )
        except ValidationError as exc:
            raise CommandError(_describe(exc)) from exc
        self.stdout.write(
            json.dumps({"id": tenant.id, "slug": tenant.slug, "callback_url": tenant.callback_url})
        )


def _describe(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
    return " ".join(exc.messages)
