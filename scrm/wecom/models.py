from django.db import models

from scrm.tenancy.models import TenantModel


class EventStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSING = "processing", "Processing"
    DONE = "done", "Done"
    IGNORED = "ignored", "Ignored (no handler)"
    FAILED = "failed", "Failed, will retry"
    PARKED = "parked", "Parked, needs replay"


class CallbackEvent(TenantModel):
    """A decrypted WeCom callback, stored before WeCom gets its 200, processed from here by workers.

    ``dedupe_key`` is the SHA-256 of the decrypted message: WeCom's retries (after 5 s without an
    answer) carry the same message, so a retried or replayed delivery is stored once.
    """

    dedupe_key = models.CharField(max_length=64)
    event = models.CharField(max_length=64)
    change_type = models.CharField(max_length=64, blank=True)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=EventStatus.choices, default=EventStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantModel.Meta):
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "dedupe_key"], name="callbackevent_unique_dedupe"),
        ]
        indexes = [
            models.Index(fields=["tenant", "status", "-id"], name="callbackevent_tenant_status"),
            models.Index(fields=["tenant", "event", "change_type", "-id"], name="callbackevent_tenant_type"),
        ]

    def __str__(self) -> str:
        return f"{self.event}/{self.change_type} #{self.pk} ({self.status})"
