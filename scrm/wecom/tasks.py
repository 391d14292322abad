from celery import shared_task

from scrm.tenancy.tasks import tenant_task

from . import services


# acks_late: processing is idempotent (a claim by conditional UPDATE; handlers re-read from WeCom),
# so a message redelivered after a worker died just runs the event again.
@tenant_task(name="wecom.process_callback_event", queue="realtime", time_limit=90, acks_late=True)
def process_callback_event(tenant, event_id: int) -> None:
    services.callback_event_process(tenant=tenant, event_id=event_id)


@tenant_task(name="wecom.drain_callback_events", queue="realtime", time_limit=600, acks_late=True)
def drain_callback_events(tenant) -> int:
    return services.callback_events_drain(tenant=tenant)


@shared_task(name="wecom.requeue_stale_events", queue_name="default", time_limit=60, soft_time_limit=50)
def requeue_stale_events() -> int:
    return services.callback_events_requeue_stale()
