"""The SOPs an operator starts from (``GET /sop-templates/``, ``POST /sops/`` with ``template``).

Each is a complete definition (sop.services.definition) that names nothing of a tenant's own (no tag,
stage, group or material ids), so it is valid in every tenant, with one exception: birthday care is
triggered by a yearly date field of the customer profile, which it names by the key ``birthday``.
A tenant whose birthday field has another key chooses it in the editor; publishing checks it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from .models import SopKind

QUIET_HOURS = {"start": "21:00", "end": "08:00"}
BUSINESS_HOURS = {"weekdays": [1, 2, 3, 4, 5], "start": "09:00", "end": "18:00"}


@dataclass(frozen=True)
class SopTemplate:
    key: str
    name: str
    description: str
    kind: str
    definition: dict[str, Any]

    def draft(self) -> dict[str, Any]:
        # A copy: the SOP made from it edits its own draft, never the template.
        return copy.deepcopy(self.definition)


def _remind(step_id: str, title: str, text: str) -> dict[str, Any]:
    return {
        "id": step_id,
        "type": "action",
        "action": "remind",
        "title": title,
        "text": text,
        "attachments": [],
    }


NEW_CUSTOMER = SopTemplate(
    key="new_customer_nurture",
    name="新客户 7 天培育",
    description="客户添加成员后的 7 天：当天欢迎跟进，第 1 天介绍产品，第 3 天未下单则发优惠，第 7 天回访。"
    "下单即达成目标。",
    kind=SopKind.CUSTOMER,
    definition={
        "trigger": {"type": "event", "event": "added", "filters": {}},
        "steps": [
            _remind("welcome", "当天：欢迎跟进", "新客户刚刚添加了你：打个招呼，了解一下需求。"),
            {"id": "wait-1d", "type": "wait", "days": 1, "hours": 0, "minutes": 0},
            {"id": "open-1", "type": "wait_business_hours"},
            _remind("intro", "第 1 天：介绍产品", "给客户介绍一下我们的主推产品和服务，附上产品资料。"),
            {"id": "wait-2d", "type": "wait", "days": 2, "hours": 0, "minutes": 0},
            {
                "id": "bought",
                "type": "branch",
                "title": "已经下单？",
                "if": {"match": "any", "criteria": [{"event": "purchased"}]},
                "then": [],
                "else": [
                    _remind(
                        "offer", "第 3 天：发送新客优惠", "客户还没有下单：发一张新客优惠券，提醒有效期。"
                    ),
                ],
            },
            {"id": "wait-4d", "type": "wait", "days": 4, "hours": 0, "minutes": 0},
            {"id": "open-7", "type": "wait_business_hours"},
            _remind("follow-up", "第 7 天：回访", "回访客户：使用体验如何，还有什么可以帮忙的？"),
        ],
        "exit": [],
        "goal": [{"event": "purchased"}],
        "reenrol": "never",
        "quiet_hours": QUIET_HOURS,
        "business_hours": BUSINESS_HOURS,
        "respect_caps": True,
    },
)

BIRTHDAY = SopTemplate(
    key="birthday_care",
    name="生日关怀",
    description="客户生日前 3 天提醒成员准备祝福和礼物，生日当天发送祝福并赠送积分。每年一次。"
    "需要一个按年重复的日期字段（默认字段键 birthday）。",
    kind=SopKind.CUSTOMER,
    definition={
        "trigger": {"type": "date", "field": "birthday", "offset_days": -3, "time": "09:00", "filters": {}},
        "steps": [
            _remind(
                "prepare",
                "生日前 3 天：准备祝福",
                "客户 3 天后生日：准备一份祝福和生日礼物（优惠券或小礼品）。",
            ),
            {"id": "wait-3d", "type": "wait", "days": 3, "hours": 0, "minutes": 0},
            {
                "id": "greet",
                "type": "action",
                "action": "mass_task",
                "title": "生日当天：发送祝福",
                "text": "生日快乐！感谢一直以来的支持，为你准备了一份生日礼物，记得来领取哦。",
                "attachments": [],
            },
            {
                "id": "gift",
                "type": "action",
                "action": "grant_points",
                "title": "赠送生日积分",
                "points": 100,
                "note": "生日礼",
            },
        ],
        "exit": [],
        "goal": [],
        "reenrol": "never",
        "quiet_hours": QUIET_HOURS,
        "business_hours": BUSINESS_HOURS,
        "respect_caps": True,
    },
)

WIN_BACK = SopTemplate(
    key="silent_win_back",
    name="沉默客户唤醒",
    description="客户变为沉默时提醒成员关怀；3 天后仍沉默则发送召回优惠。客户重新活跃即退出，下单即达成目标。"
    "客户再次沉默时可以再次进入。",
    kind=SopKind.CUSTOMER,
    definition={
        "trigger": {"type": "event", "event": "tier_changed", "tier": "silent", "filters": {}},
        "steps": [
            {"id": "open", "type": "wait_business_hours"},
            _remind("care", "关怀沉默客户", "这位客户已经一段时间没有互动了：发一条关怀消息，问问近况。"),
            {"id": "wait-3d", "type": "wait", "days": 3, "hours": 0, "minutes": 0},
            {
                "id": "still-silent",
                "type": "branch",
                "title": "仍然沉默？",
                "if": {"match": "all", "criteria": [{"filters": {"tier": "silent"}}]},
                "then": [
                    {
                        "id": "offer",
                        "type": "action",
                        "action": "mass_task",
                        "title": "发送召回优惠",
                        "text": "好久不见！送你一张老朋友专属优惠券，7 天内有效，期待再次为你服务。",
                        "attachments": [],
                    },
                ],
                "else": [],
            },
        ],
        "exit": [{"filters": {"tier": "active"}}],
        "goal": [{"event": "purchased"}],
        "reenrol": "after_exit",
        "quiet_hours": QUIET_HOURS,
        "business_hours": BUSINESS_HOURS,
        "respect_caps": True,
    },
)

GROUP_MORNING = SopTemplate(
    key="group_daily_morning",
    name="社群每日早安",
    description="每天 8:30 请群主向自己的客户群发送早安问候和当日分享。",
    kind=SopKind.GROUP,
    definition={
        "trigger": {"type": "schedule", "every": "daily", "time": "08:30", "groups": {}},
        "steps": [
            {
                "id": "morning",
                "type": "action",
                "action": "group_send",
                "title": "早安问候",
                "text": "早上好！新的一天开始啦，今天也为大家准备了好物分享，有任何问题随时在群里问我。",
                "attachments": [],
            },
        ],
        "reenrol": "never",
        "quiet_hours": None,
        "business_hours": BUSINESS_HOURS,
        "respect_caps": True,
    },
)

TEMPLATES: dict[str, SopTemplate] = {t.key: t for t in (NEW_CUSTOMER, BIRTHDAY, WIN_BACK, GROUP_MORNING)}
TEMPLATE_KEYS = sorted(TEMPLATES)


def template_get(key: str) -> SopTemplate | None:
    return TEMPLATES.get(key)
