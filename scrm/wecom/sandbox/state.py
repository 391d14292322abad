"""The sandbox corp's state: plain dataclasses, guarded by one lock, picklable into a data file.

Core sections (departments, staff, customers and follows, tags, groups, contact ways, welcome codes)
are typed here. Sections that live in their own module (mass messages, Moments, transfers, media,
statistics) keep their objects in ``ext[<section name>]``.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Department:
    id: int
    name: str
    parentid: int
    order: int = 0


@dataclass
class Staff:
    userid: str
    name: str
    department: list[int]
    status: int = 1  # 1 active, 5 resigned (still present for inheritance APIs)
    has_contact_permission: bool = True
    mobile: str = ""
    position: str = ""
    gender: int = 0  # 0 unknown, 1 male, 2 female
    email: str = ""
    avatar: str = ""
    leader_in: list[int] = field(default_factory=list)  # departments this member leads


@dataclass
class FollowInfo:
    userid: str
    remark: str = ""
    description: str = ""
    createtime: int = 0
    tag_ids: list[str] = field(default_factory=list)
    remark_corp_name: str = ""
    remark_mobiles: list[str] = field(default_factory=list)
    oper_userid: str = ""
    add_way: int = 1
    state: str = ""
    personal_tags: list[str] = field(default_factory=list)  # type 2 tags: names only, no tag_id


@dataclass
class ExternalContact:
    external_userid: str
    name: str
    type: int = 1  # 1 WeChat, 2 WeCom
    gender: int = 0
    avatar: str = ""
    unionid: str = ""
    position: str = ""
    corp_name: str = ""
    corp_full_name: str = ""
    follows: dict[str, FollowInfo] = field(default_factory=dict)  # by staff userid


@dataclass
class Tag:
    id: str
    group_id: str
    name: str
    create_time: int
    order: int = 0
    deleted: bool = False
    # Made through the API by the sandbox's app (add_corp_tag), not by an admin in the console: an app
    # may edit and delete only those (wecom-api.md §3). A plain default: older data files load as admin-made.
    app_created: bool = False


@dataclass
class TagGroup:
    group_id: str
    group_name: str
    create_time: int
    order: int = 0
    deleted: bool = False
    tag_ids: list[str] = field(default_factory=list)
    app_created: bool = False  # as Tag.app_created


@dataclass
class GroupMember:
    userid: str  # staff userid or external_userid
    type: int  # 1 member, 2 external
    join_time: int
    join_scene: int = 1  # 1 invited, 2 invite link, 3 QR
    invitor: str = ""
    group_nickname: str = ""
    name: str = ""
    unionid: str = ""


@dataclass
class GroupChat:
    chat_id: str
    name: str
    owner: str
    create_time: int
    notice: str = ""
    members: list[GroupMember] = field(default_factory=list)
    admin_list: list[str] = field(default_factory=list)
    member_version: str = ""
    status: int = 0  # 0 normal, 1 owner left, 2 inheriting, 3 inherited
    dismissed: bool = False


@dataclass
class ContactWay:
    config_id: str
    type: int
    scene: int
    style: int = 1
    remark: str = ""
    skip_verify: bool = True
    state: str = ""
    user: list[str] = field(default_factory=list)
    party: list[int] = field(default_factory=list)
    is_temp: bool = False
    expires_in: int = 0
    chat_expires_in: int = 0
    conclusions: dict[str, Any] = field(default_factory=dict)
    qr_code: str = ""  # qpic-shaped, empty for mini program codes; a served sandbox answers its own URL
    create_time: int = 0  # list_contact_way filters on it
    unionid: str = ""
    # Customers who scanned it so far (simulate/customer-add): where its round robin over members stands.
    scans: int = 0


@dataclass
class WelcomeCode:
    code: str
    userid: str
    external_userid: str
    issued_at: float  # time.time()
    used: bool = False


@dataclass
class SandboxState:
    corp_id: str
    departments: dict[int, Department] = field(default_factory=dict)
    staff: dict[str, Staff] = field(default_factory=dict)
    contacts: dict[str, ExternalContact] = field(default_factory=dict)
    tag_groups: dict[str, TagGroup] = field(default_factory=dict)
    tags: dict[str, Tag] = field(default_factory=dict)
    groups: dict[str, GroupChat] = field(default_factory=dict)
    contact_ways: dict[str, ContactWay] = field(default_factory=dict)
    join_ways: dict[str, dict[str, Any]] = field(default_factory=dict)
    group_welcome_templates: dict[str, dict[str, Any]] = field(default_factory=dict)
    welcome_codes: dict[str, WelcomeCode] = field(default_factory=dict)
    # Sections implemented in their own modules keep their objects here, keyed by section name.
    ext: dict[str, Any] = field(default_factory=dict)
    # What the sandbox received, by API path: [{"at": time.time(), "body": {...}, "query": {...}}].
    records: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    counter: int = 0  # for ids that must be unique and deterministic
    # How the corp was made: {"seed", "staff", "contacts", "groups", "anchor"} (shown by /sandbox/summary).
    meta: dict[str, Any] = field(default_factory=dict)
    # The contact book as the app sees it (settings/directory). ``visible_range``: the app's visible
    # range, None for the whole corp, else {"departments": [ids, each with everything under it],
    # "users": [userids]}. ``legacy_fetch_child``: honour user/list's old fetch_child=1, which the
    # current documentation no longer has. Plain defaults (no factory): a data file written before
    # they existed loads with them.
    visible_range: dict[str, list] | None = None
    legacy_fetch_child: bool = False

    def __post_init__(self) -> None:
        self.lock = threading.RLock()

    def next_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter:08d}"

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("lock", None)
        state["records"] = dict(self.records)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        records = defaultdict(list, state.pop("records", {}))
        self.__dict__.update(state, records=records)
        self.lock = threading.RLock()
