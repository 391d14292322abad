"""The optional WeCom app message to a staff member a customer just deleted."""

from __future__ import annotations

import logging

from scrm.tenancy.tasks import tenant_task
from scrm.wecom.api import api_for
from scrm.wecom.errors import WeComError

from ..models import Follow
from ..services.churn import churn_app_message_text

logger = logging.getLogger(__name__)


@tenant_task(name="contacts.send_churn_app_message", queue="default", time_limit=60)
def send_churn_app_message(tenant, follow_id: int) -> None:
    follow = Follow.objects.select_related("contact", "staff").filter(pk=follow_id).first()
    if follow is None:
        return
    try:
        answer = api_for(tenant).message_send_text(
            agent_id=tenant.agent_id,
            touser=[follow.staff.userid],
            content=churn_app_message_text(follow=follow),
        )
    except (WeComError, ValueError) as exc:
        # An alert is best effort: the in-app notification already exists; say why this one failed.
        logger.warning("Churn app message for follow %s not sent: %s", follow_id, exc)
        return
    if answer.get("invaliduser"):
        logger.info("Churn app message: WeCom could not reach %s", answer["invaliduser"])
