"""Daily group statistics from WeCom (``groupchat/statistic_group_by_day``), per group owner.

WeCom computes them per China day, up to yesterday, for at most 30 days a call and 180 days back;
it has no per-group figures (the per-group history comes from our own member stays). Each owner's
days are fetched until complete: the days of the last ``STAT_DAYS`` not stored yet, and the stored
ones fetched before they were final (a day is final once fetched ``FINAL_AFTER`` after it ended: the
nightly sync at 03:00 stores yesterday's figures early, the 06:15 daily task asks for them again).
So the daily task costs one call per owner and a re-run that day costs none.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from contacts.models import Staff
from scrm.wecom.api import WeComAPI
from scrm.wecom.errors import WeComError, WeComRateLimitedError

from ..models import STAT_FIELDS, Group, GroupStatDay

logger = logging.getLogger(__name__)

# WeCom's statistics count days in China time, whatever the deployment's time zone.
WECOM_DAY_ZONE = ZoneInfo("Asia/Shanghai")
STAT_DAYS = 30  # how far back a first fetch goes (WeCom: a span of ≤ 30 days per call)
# WeCom completes a day's figures in the early hours of the next (China) day: figures fetched before
# this long after the day ended are asked for again (the beat fetches at 06:15).
FINAL_AFTER = dt.timedelta(hours=6)
PROGRESS_EVERY = 20  # owners asked between two progress calls (the sync's heartbeat)


def wecom_today() -> dt.date:
    return timezone.now().astimezone(WECOM_DAY_ZONE).date()


def _day_start(day: dt.date) -> int:
    return int(dt.datetime.combine(day, dt.time(), tzinfo=WECOM_DAY_ZONE).timestamp())


def _final_from(day: dt.date) -> dt.datetime:
    """When a fetch of ``day``'s figures gets them complete."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=WECOM_DAY_ZONE) + FINAL_AFTER


def group_stats_fetch(
    *, api: WeComAPI, today: dt.date | None = None, progress: Callable[[], None] | None = None
) -> int:
    """Fetch and store the days (of the last STAT_DAYS, up to yesterday) missing or not final yet of
    every active owner of a group here; returns the rows written. One call per owner with such days,
    none otherwise. ``progress`` is called every PROGRESS_EVERY owners asked (a sync's heartbeat).

    Staff who left are not asked (WeCom refuses their userid). An owner WeCom refuses anyway is
    logged and skipped; only when every owner asked was refused is the first refusal raised (WeCom
    refuses the tenant, not one owner). A rate limit is raised at once.
    """
    yesterday = (today or wecom_today()) - dt.timedelta(days=1)
    window = [yesterday - dt.timedelta(days=n) for n in range(STAT_DAYS - 1, -1, -1)]
    owners = list(
        Staff.objects.filter(
            is_active=True, id__in=Group.objects.filter(owner__isnull=False).values("owner_id")
        )
        .order_by("userid")
        .values_list("id", "userid")
    )
    final: dict[int, set[dt.date]] = {}
    for owner_id, day, fetched_at in GroupStatDay.objects.filter(day__gte=window[0]).values_list(
        "owner_id", "day", "fetched_at"
    ):
        if fetched_at >= _final_from(day):
            final.setdefault(owner_id, set()).add(day)
    written = asked = 0
    refused: list[WeComError] = []
    for owner_id, userid in owners:
        have = final.get(owner_id, set())
        wanted = [day for day in window if day not in have]
        if not wanted:
            continue
        asked += 1
        if progress is not None and asked % PROGRESS_EVERY == 0:
            progress()
        try:
            answer = api.groupchat_statistic_group_by_day(
                {
                    "day_begin_time": _day_start(wanted[0]),
                    "day_end_time": _day_start(yesterday),
                    "owner_filter": {"userid_list": [userid]},
                }
            )
        except WeComRateLimitedError:
            raise  # the caller retries later; what is stored is not asked for again
        except WeComError as exc:
            # One owner WeCom refuses must not cost the others their figures, nor fail a sync.
            logger.warning("group statistics of %s not fetched: %s", userid, exc)
            refused.append(exc)
            continue
        wanted_days = set(wanted)
        rows = []
        for item in answer.get("items") or ():
            day = dt.datetime.fromtimestamp(int(item["stat_time"]), tz=WECOM_DAY_ZONE).date()
            if day not in wanted_days:
                continue  # final already: WeCom's past figures do not change
            data = item.get("data") or {}
            rows.append(
                GroupStatDay(
                    owner_id=owner_id, day=day, **{name: int(data.get(name) or 0) for name in STAT_FIELDS}
                )
            )
        if rows:
            # An upsert: a day stored before it was final gets its complete figures (and fetched_at).
            with transaction.atomic():
                GroupStatDay.objects.bulk_create(
                    rows,
                    update_conflicts=True,
                    unique_fields=["tenant", "owner", "day"],
                    update_fields=[*STAT_FIELDS, "fetched_at"],
                )
            written += len(rows)
    if refused and len(refused) == asked:
        raise refused[0]
    return written
