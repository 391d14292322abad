"""``manage.py wecom_sandbox``: serve the WeCom sandbox until interrupted (DESIGN.md §5, docs/sandbox.md)."""

from __future__ import annotations

import signal
import threading
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from scrm.tenancy.models import Tenant
from scrm.wecom.sandbox import (
    DEFAULT_AES_KEY,
    DEFAULT_AGENT_ID,
    DEFAULT_CORP_ID,
    DEFAULT_SECRET,
    DEFAULT_TOKEN,
    Sandbox,
)
from scrm.wecom.sandbox.endpoint_helpers import settings_update
from scrm.wecom.sandbox.endpoints_marketing import SETTINGS as MARKETING_SETTINGS

# The demo corp's shape; seed_demo reads these to give the demo sales login a real member's userid.
DEMO_SEED = 1
DEMO_STAFF = 20


class Command(BaseCommand):
    help = (
        "Serve the WeCom sandbox: a fake WeCom server API with a seeded demo corp. Prints one line with "
        "its base URL and API base, then serves until interrupted (Ctrl-C or SIGTERM)."
    )
    requires_system_checks: list[str] = []  # starts without touching the database (unless --tenant)

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--tenant",
            default=None,
            help="Serve the corp a tenant is connected to: its corp id, secret, callback keys and URL, and "
            "the port of its API base (how `make run` connects the demo tenant). Other options override.",
        )
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8001, help="0 picks a free port.")
        parser.add_argument("--seed", type=int, default=DEMO_SEED, help="Same seed, same corp.")
        parser.add_argument("--staff", type=int, default=DEMO_STAFF)
        parser.add_argument("--contacts", type=int, default=5000)
        parser.add_argument("--groups", type=int, default=40)
        parser.add_argument(
            "--followers",
            type=int,
            default=None,
            help="Exactly this many members (the first) have the customer-contact permission; default ~90%%.",
        )
        parser.add_argument("--corp-id", default=DEFAULT_CORP_ID)
        parser.add_argument("--secret", default=DEFAULT_SECRET)
        parser.add_argument("--agent-id", default=DEFAULT_AGENT_ID)
        parser.add_argument("--token", default=DEFAULT_TOKEN, help="Callback token.")
        parser.add_argument("--aes-key", default=DEFAULT_AES_KEY, help="Callback EncodingAESKey (43 chars).")
        parser.add_argument("--callback-url", default=None, help="Where to POST encrypted callbacks.")
        parser.add_argument("--token-ttl", type=int, default=7200, help="access_token lifetime, seconds.")
        parser.add_argument(
            "--mass-msg-auto-confirm",
            type=int,
            default=None,
            metavar="SECONDS",
            help="Members confirm corp mass messages by themselves 1-2x SECONDS after they are made (some "
            "never do, to show reminders); 0 turns it off. Kept in the data file (docs/sandbox.md).",
        )
        parser.add_argument(
            "--data",
            default=None,
            help="Data file: loaded if it exists, else generated and saved; kept up to date.",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["tenant"]:
            self._from_tenant(opts)
        try:
            sandbox = Sandbox(
                seed=opts["seed"],
                staff=opts["staff"],
                contacts=opts["contacts"],
                groups=opts["groups"],
                followers=opts["followers"],
                corp_id=opts["corp_id"],
                secret=opts["secret"],
                agent_id=opts["agent_id"],
                token=opts["token"],
                aes_key=opts["aes_key"],
                callback_url=opts["callback_url"],
                token_ttl=opts["token_ttl"],
                data_file=opts["data"],
            )
            if opts["mass_msg_auto_confirm"] is not None:
                settings_update(
                    sandbox.state,
                    MARKETING_SETTINGS,
                    {"mass_msg_auto_confirm_seconds": opts["mass_msg_auto_confirm"]},
                )
                sandbox.save()
            base = sandbox.serve_in_thread(opts["host"], opts["port"])
        except (ValueError, OSError) as e:
            raise CommandError(f"WeCom sandbox could not start: {e}") from e
        stop = threading.Event()
        # SIGTERM (honcho, docker stop) must save the data file like Ctrl-C does.
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        self.stdout.write(
            f"WeCom sandbox serving at {base}/ (API base {base}/cgi-bin/, corp {sandbox.corp_id})"
        )
        self.stdout.flush()
        try:
            while not stop.wait(1):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            sandbox.shutdown()

    def _from_tenant(self, opts: dict[str, Any]) -> None:
        tenant = Tenant.objects.filter(slug=opts["tenant"]).first()
        if tenant is None:
            raise CommandError(f"No tenant with slug {opts['tenant']!r}.")
        base = urlsplit(tenant.api_base)
        if not (tenant.corp_id and tenant.corp_secret and base.port):
            raise CommandError(
                f"Tenant {tenant.slug!r} is not connected to a local sandbox (api_base {tenant.api_base!r})."
            )
        opts.update(
            corp_id=tenant.corp_id,
            secret=tenant.corp_secret,
            agent_id=tenant.agent_id or opts["agent_id"],
            token=tenant.callback_token,
            aes_key=tenant.encoding_aes_key,
            callback_url=opts["callback_url"] or tenant.callback_url,
            host=base.hostname,
            port=base.port,
            data=opts["data"] or str(settings.VAR_DIR / f"sandbox-{tenant.slug}.pickle"),
        )
