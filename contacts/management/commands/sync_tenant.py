import json
import time

from django.core.management.base import BaseCommand, CommandError

from contacts import sync
from contacts.models import SyncRun
from scrm.durable import RunStatus
from scrm.tenancy.context import tenant_context
from scrm.tenancy.models import Tenant
from scrm.wecom.errors import WeComRateLimitedError


class Command(BaseCommand):
    help = (
        "Run a full WeCom → Siyu sync of one tenant in the foreground. Prints progress, then as its last "
        "line one JSON object: contacts, follows, tags, created, updated, unchanged, closed, api_calls, "
        "seconds (and run, status, errors). Exits 1 if the sync failed."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug")

    def handle(self, *args, slug: str, **opts):
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None:
            raise CommandError(f"No tenant with slug {slug!r}.")
        started = time.monotonic()
        with tenant_context(tenant):
            run = sync.sync_run_start(tenant=tenant, trigger="command", enqueue=False)
            claimed = sync.sync_run_claim(run.pk)
            if claimed is None:
                raise CommandError(f"Sync run #{run.pk} is already running in a worker; watch it there.")
            run = self._execute(claimed)
            summary = sync.sync_summary(run, seconds=time.monotonic() - started)
        self.stdout.write(json.dumps(summary, ensure_ascii=False))
        if run.status != RunStatus.SUCCEEDED:
            raise SystemExit(1)

    def _execute(self, run: SyncRun) -> SyncRun:
        last = [0.0]

        def progress(run: SyncRun) -> None:
            now = time.monotonic()
            if now - last[0] >= 1 or run.phase == "done":
                last[0] = now
                self.stdout.write(
                    f"[{run.phase}] {run.progress_done}/{run.progress_total} follows"
                    f" (created {run.created}, updated {run.updated}, unchanged {run.unchanged},"
                    f" closed {run.closed}; {run.api_calls} WeCom calls)"
                )

        while True:
            try:
                return sync.sync_run_execute(run, progress=progress)
            except WeComRateLimitedError as exc:
                self.stdout.write(f"WeCom rate limit: waiting {exc.retry_after:.0f}s")
                time.sleep(exc.retry_after)
                claimed = sync.sync_run_claim(run.pk)
                if claimed is None:
                    raise CommandError(f"Sync run {run.pk} was taken over while waiting.") from exc
                run = claimed
