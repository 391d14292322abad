"""The seeded demo corp: departments, staff, customers with follow info, corp tags and channel codes.

Everything comes from one ``random.Random(seed)`` drawn in a fixed order, so a seed always yields the
same corp (times are offsets from an ``anchor``, the start of the current day, so the data stays "recent"
without breaking determinism within a day). It must build 100,000 customers in a few seconds: per-item
work is a handful of rng calls, and tag sets come from a small pre-drawn pool.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import random
import time
from bisect import bisect
from collections.abc import Sequence
from typing import TypeVar

from . import registry
from .state import (
    ContactWay,
    Department,
    ExternalContact,
    FollowInfo,
    SandboxState,
    Staff,
    Tag,
    TagGroup,
)

DAY = 86400
CHINA_UTC_OFFSET = 8 * 3600

# (surname, pinyin, weight): the common surnames, weighted roughly by frequency.
_SURNAMES = [
    (s.split(":")[0], s.split(":")[1], w)
    for w, group in (
        (8, "王:Wang 李:Li 张:Zhang 刘:Liu 陈:Chen"),
        (4, "杨:Yang 黄:Huang 赵:Zhao 吴:Wu 周:Zhou 徐:Xu 孙:Sun 马:Ma 朱:Zhu 胡:Hu 郭:Guo 何:He 林:Lin"),
        (
            2,
            "高:Gao 罗:Luo 郑:Zheng 梁:Liang 谢:Xie 宋:Song 唐:Tang 许:Xu 邓:Deng 冯:Feng 韩:Han 曹:Cao "
            "曾:Zeng 彭:Peng 萧:Xiao 蔡:Cai 潘:Pan 田:Tian 董:Dong 袁:Yuan 于:Yu 余:Yu 叶:Ye 蒋:Jiang "
            "杜:Du 苏:Su 魏:Wei 程:Cheng 吕:Lv 丁:Ding 沈:Shen 任:Ren 姚:Yao 卢:Lu 傅:Fu 钟:Zhong",
        ),
        (
            1,
            "姜:Jiang 崔:Cui 谭:Tan 廖:Liao 范:Fan 汪:Wang 陆:Lu 金:Jin 石:Shi 戴:Dai 贾:Jia 韦:Wei "
            "夏:Xia 邱:Qiu 方:Fang 侯:Hou 邹:Zou 熊:Xiong 孟:Meng 秦:Qin 白:Bai 江:Jiang 薛:Xue 尹:Yin "
            "段:Duan 雷:Lei 黎:Li 史:Shi 龙:Long 陶:Tao 贺:He 顾:Gu 毛:Mao 郝:Hao 龚:Gong 邵:Shao "
            "万:Wan 钱:Qian 严:Yan 欧阳:Ouyang 司马:Sima 上官:Shangguan",
        ),
    )
    for s in group.split()
]
T = TypeVar("T")


class _Weighted:
    """``rng.choices(values, weights)[0]`` with the cumulative weights computed once (it is hot)."""

    def __init__(self, values: Sequence[T], weights: Sequence[float]):
        self.values = values
        self.cum = list(itertools.accumulate(weights))
        self.total = self.cum[-1]

    def pick(self, rng: random.Random) -> T:
        return self.values[bisect(self.cum, rng.random() * self.total)]


_SURNAME = _Weighted(_SURNAMES, [w for _, _, w in _SURNAMES])
# Data tables are kept as space-separated text: far easier to read and extend than long literal lists.
_GIVEN_TABLE = (
    "伟:wei 芳:fang 娜:na 敏:min 静:jing 丽:li 强:qiang 磊:lei 军:jun 洋:yang 勇:yong 艳:yan 杰:jie "
    "娟:juan 涛:tao 明:ming 超:chao 秀:xiu 霞:xia 平:ping 刚:gang 桂:gui 英:ying 华:hua 玉:yu 萍:ping "
    "红:hong 玲:ling 芬:fen 燕:yan 彬:bin 鹏:peng 辉:hui 建:jian 国:guo 文:wen 斌:bin 宇:yu 浩:hao "
    "凯:kai 晨:chen 欣:xin 怡:yi 婷:ting 雪:xue 琳:lin 晶:jing 子:zi 涵:han 梓:zi 轩:xuan 雨:yu 思:si "
    "佳:jia 嘉:jia 俊:jun 博:bo 一:yi 诺:nuo 可:ke 心:xin 悦:yue 然:ran 泽:ze 天:tian 昊:hao 睿:rui "
    "瑶:yao 晓:xiao 海:hai 峰:feng 志:zhi 春:chun 梅:mei 兰:lan 慧:hui 颖:ying 婉:wan 倩:qian 冬:dong "
    "立:li 新:xin 宁:ning 安:an 乐:le 丹:dan 阳:yang 雅:ya 诗:shi 琪:qi 彤:tong 航:hang 毅:yi 锋:feng"
)
_GIVEN = [tuple(s.split(":")) for s in _GIVEN_TABLE.split()]
# WeChat nicknames are what most customers show: pet names, English names, emoji, mottos.
_NICKNAMES_TABLE = (
    "阳光 追梦人 快乐每一天 云淡风轻 平安是福 知足常乐 晴天 向日葵 随心 岁月静好 一路向北 小鱼儿 木子 简单 "
    "静待花开 🌸花开富贵 Lucy🍀 🍊橙子 A-Lin Amy Tony Kevin Michael Coco Grace Sunny Cherry Leo 大海 "
    "L. 🐱喵喵 浅笑安然 海阔天空 微笑👍 清风徐来 Vivian 小太阳☀️ 蓝天白云 心若止水 Jason 糖糖 老地方 "
    "Ella 睡不醒 橘子汽水 Momo 叮当 🌈彩虹 一米阳光 慢慢来 Yuki 好运连连 花好月圆 Ivy"
)
_NICKNAMES = _NICKNAMES_TABLE.split()
_ENGLISH = (
    "Amy",
    "Tony",
    "Kevin",
    "Lily",
    "Jack",
    "Emma",
    "Leo",
    "Grace",
    "Vivian",
    "Jason",
    "Cindy",
    "Eric",
    "Sophia",
    "David",
    "Ivy",
    "Mia",
)
_TITLES = ("先生", "女士", "姐", "哥", "总", "老师")
_CITIES = (
    "上海",
    "北京",
    "深圳",
    "杭州",
    "广州",
    "成都",
    "南京",
    "苏州",
    "武汉",
    "西安",
    "重庆",
    "长沙",
    "厦门",
    "青岛",
)
_CORP_WORDS = (
    "星辰",
    "华信",
    "恒通",
    "锦程",
    "智联",
    "博远",
    "鼎盛",
    "远航",
    "瑞丰",
    "嘉禾",
    "云启",
    "明德",
    "汇丰",
    "润泽",
)
_CORP_TRADES = (
    "科技",
    "贸易",
    "文化传媒",
    "电子商务",
    "餐饮管理",
    "教育咨询",
    "医疗器械",
    "供应链",
    "物业服务",
)
_CONTACT_POSITIONS = ("采购经理", "总经理", "市场总监", "行政主管", "店长", "运营负责人", "财务")
_DESCRIPTIONS = (
    "展会认识，关注会员活动",
    "对新品感兴趣，约了到店体验",
    "复购客户，偏好礼盒装",
    "价格敏感，等大促再下单",
    "老客户介绍，需要重点维护",
    "咨询过售后，已解决",
    "企业团购意向，预算待确认",
    "直播间下单两次",
)
_PERSONAL_TAGS = ("老朋友", "重点跟进", "已报价", "待回访")
_TAG_GROUPS = (
    ("客户等级", "重要客户 普通客户 潜在客户 VIP 沉睡客户"),
    ("意向产品", "护肤 彩妆 香氛 个护 母婴 保健品 礼盒"),
    ("客户来源", "门店扫码 公众号 小程序 直播间 朋友推荐 线下活动 抖音"),
    ("所在地区", "华东 华南 华北 华中 西南 西北 东北 海外"),
    ("消费能力", "高消费 中等消费 价格敏感"),
    ("生命周期", "新客 活跃 复购 流失风险 转介绍"),
)
# An app may edit and delete only the tags it made through the API (wecom-api.md §3), so the corp has
# both kinds: most groups made by an admin in the console, these two by the sandbox's app, and one
# tag the app added into an admin's group.
_APP_TAG_GROUPS = ("消费能力", "生命周期")
_APP_TAGS = (("客户来源", "抖音"),)
# (id, name, parentid), breadth first. Members sit in the leaves only (never in 1, 2 or 7), two and
# three levels down, as in most corps: listing a department lists its own members only (WeCom has no
# fetch_child any more), so a directory read must walk the tree.
_DEPARTMENTS = (
    (1, "思域示范企业", 0),
    (2, "销售中心", 1),
    (5, "客户成功部", 1),
    (6, "市场部", 1),
    (7, "门店运营部", 1),
    (3, "华东销售部", 2),
    (4, "华南销售部", 2),
    (8, "上海门店", 7),
    (9, "杭州门店", 7),
)
# Each member's departments, the main one first: sales-heavy, like a real SCRM customer, and one
# member in two departments (a 华南 salesperson who also serves in 客户成功部).
_STAFF_DEPTS = ((3,), (3,), (4,), (4, 5), (5,), (6,), (8,), (9,))
_POSITIONS = {3: "销售顾问", 4: "销售顾问", 5: "客户成功经理", 6: "市场专员", 8: "门店导购", 9: "门店导购"}
_LEADER_POSITIONS = {
    3: "华东销售主管",
    4: "华南销售主管",
    5: "客户成功总监",
    6: "市场经理",
    8: "门店店长",
    9: "门店店长",
}
# (state, remark): the channel codes the generated customers were attributed to.
_CHANNELS = (
    ("ch_store_qr", "门店收银台二维码"),
    ("ch_wechat_article", "公众号文章"),
    ("ch_live_stream", "直播间引流"),
    ("ch_offline_event", "线下沙龙活动"),
    ("ch_douyin", "抖音主页"),
    ("ch_poster_referral", "海报裂变"),
)
# add_way values of wecom-api.md §2 with plausible shares; customer-initiated ways get oper_userid = customer.
_ADD_WAYS = (1, 2, 3, 4, 5, 6, 0, 8, 9, 10, 201, 202)
_ADD_WAY_WEIGHTS = (40, 10, 10, 8, 5, 5, 2, 3, 1, 3, 8, 5)
_ADD_WAY = _Weighted(_ADD_WAYS, _ADD_WAY_WEIGHTS)
_GENDER = _Weighted((1, 2, 0), (45, 47, 8))
_FOLLOW_COUNT = _Weighted((1, 2, 3), (80, 15, 5))
_CUSTOMER_INITIATED = frozenset({1, 3, 4, 6, 10})
_TAG_POOL_SIZE = 512
_URLSAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def day_anchor(now: float | None = None) -> int:
    """Midnight (China time) of the current day: generated times are offsets from it."""
    now = time.time() if now is None else now
    return int((now + CHINA_UTC_OFFSET) // DAY * DAY - CHINA_UTC_OFFSET)


def random_token(rng: random.Random, length: int) -> str:
    """``length`` chars of [A-Za-z0-9_-] from ``rng``: the shape of WeCom's opaque ids."""
    raw = base64.urlsafe_b64encode(rng.randbytes(length * 3 // 4 + 3)).decode("ascii")
    return raw[:length]


def new_external_userid(rng: random.Random) -> str:
    return "wm" + random_token(rng, 30)


def make_id(state: SandboxState, prefix: str, length: int = 30, *, hexdigits: bool = False) -> str:
    """A realistic-looking id for an object created at run time, unique and deterministic per state."""
    digest = hashlib.sha256(f"{state.corp_id}:{state.next_id(prefix)}".encode()).digest()
    if hexdigits:
        return prefix + digest.hex()[:length]
    return prefix + "".join(_URLSAFE[b & 63] for b in digest[:length])


def person_name(rng: random.Random) -> tuple[str, str]:
    """A Chinese full name and its pinyin (for userids), e.g. ("张晓雨", "ZhangXiaoYu")."""
    surname, surname_py, _ = _SURNAME.pick(rng)
    given = rng.sample(_GIVEN, 1 if rng.random() < 0.35 else 2)
    name = surname + "".join(c for c, _ in given)
    return name, surname_py + "".join(py.capitalize() for _, py in given)


def customer_name(rng: random.Random) -> str:
    """What a customer's WeChat shows: a real name, a nickname, an English name or "陈女士"."""
    r = rng.random()
    if r < 0.35:
        return person_name(rng)[0]
    if r < 0.75:
        return rng.choice(_NICKNAMES)
    if r < 0.9:
        return _SURNAME.pick(rng)[0] + rng.choice(_TITLES)
    return f"{rng.choice(_ENGLISH)} {_SURNAME.pick(rng)[0]}"


def mobile(rng: random.Random) -> str:
    return f"1{rng.choice('3578')}{rng.randrange(10**9):09d}"


def avatar_url(key: str) -> str:
    digest = hashlib.md5(key.encode(), usedforsecurity=False).hexdigest()
    return f"https://wx.qlogo.cn/mmhead/Q3auHgzwzM{digest}/0"


def new_customer(rng: random.Random, external_userid: str, name: str | None = None) -> ExternalContact:
    """A customer's own profile (no follows): mostly WeChat users, some WeCom users with a company."""
    contact = ExternalContact(
        external_userid=external_userid,
        name=name or customer_name(rng),
        gender=_GENDER.pick(rng),
        avatar=avatar_url(external_userid),
    )
    if rng.random() < 0.1:
        word, trade = rng.choice(_CORP_WORDS), rng.choice(_CORP_TRADES)
        contact.type = 2
        contact.corp_name = word + trade
        contact.corp_full_name = f"{rng.choice(_CITIES)}{word}{trade}有限公司"
        contact.position = rng.choice(_CONTACT_POSITIONS)
    elif rng.random() < 0.5:
        contact.unionid = "o" + random_token(rng, 27)
    return contact


def generate(
    *,
    corp_id: str,
    seed: int,
    staff: int,
    contacts: int,
    groups: int,
    followers: int | None = None,
    now: float | None = None,
) -> SandboxState:
    """Build the corp, then let each section module add its data through ``registry.GENERATOR_HOOKS``.

    ``followers``: exactly this many members (the first ones) have the customer-contact permission, so
    that all the customers are followed by that many members (a benchmark's "100,000 customers over 50
    members"); by default about 90% of them have it, drawn. The rest of the corp is the same either way.
    """
    if staff < 1:
        raise ValueError("the sandbox corp needs at least one staff member")
    if followers is not None and not 1 <= followers <= staff:
        raise ValueError("followers must be between 1 and the number of staff")
    rng = random.Random(seed)  # noqa: S311 -- a reproducible demo corp, not secrets
    anchor = day_anchor(now)
    state = SandboxState(corp_id=corp_id)
    state.meta = {"seed": seed, "staff": staff, "contacts": contacts, "groups": groups, "anchor": anchor}
    if followers is not None:
        state.meta["followers"] = followers
    _departments(state)
    _staff(state, rng, staff, followers)
    _tags(state, rng, anchor)
    _contact_ways(state, rng, anchor)
    _customers(state, rng, contacts, anchor)
    sizes = {"staff": staff, "contacts": contacts, "groups": groups}
    for hook in registry.GENERATOR_HOOKS:
        hook(state, rng, sizes)
    return state


def _departments(state: SandboxState) -> None:
    for order, (dept_id, name, parent) in enumerate(_DEPARTMENTS):
        state.departments[dept_id] = Department(id=dept_id, name=name, parentid=parent, order=100000 - order)


def _staff(state: SandboxState, rng: random.Random, count: int, followers: int | None) -> None:
    leaders: set[int] = set()
    for i in range(count):
        name, userid = person_name(rng)
        base, n = userid, 1
        while userid in state.staff:
            n += 1
            userid = f"{base}{n}"
        departments = _STAFF_DEPTS[i % len(_STAFF_DEPTS)]
        dept = departments[0]
        # The first member always can, so even a one-person corp has customers. Drawn even when
        # ``followers`` decides, so that the rest of the corp does not change with it.
        permitted = i == 0 or rng.random() < 0.9
        member = Staff(
            userid=userid,
            name=name,
            department=list(departments),
            has_contact_permission=permitted if followers is None else i < followers,
            mobile=mobile(rng),
            position=_POSITIONS[dept],
            gender=rng.choice((1, 2)),
            email=f"{userid.lower()}@siyu-demo.example.com",
            avatar=avatar_url(f"staff:{userid}"),
        )
        if dept not in leaders:
            leaders.add(dept)
            member.leader_in = [dept]
            member.position = _LEADER_POSITIONS[dept]
        state.staff[userid] = member


def _tags(state: SandboxState, rng: random.Random, anchor: int) -> None:
    created = anchor - 400 * DAY
    for g_order, (group_name, names) in enumerate(_TAG_GROUPS):
        group_id = "et" + random_token(rng, 20)
        group = TagGroup(group_id, group_name, created + g_order * 60, order=len(_TAG_GROUPS) - g_order)
        group.app_created = group_name in _APP_TAG_GROUPS
        tag_names = names.split()
        for t_order, tag_name in enumerate(tag_names):
            tag_id = "et" + random_token(rng, 30)
            state.tags[tag_id] = Tag(
                tag_id,
                group_id,
                tag_name,
                group.create_time,
                order=len(tag_names) - t_order,
                app_created=group.app_created or (group_name, tag_name) in _APP_TAGS,
            )
            group.tag_ids.append(tag_id)
        state.tag_groups[group_id] = group


def _contact_ways(state: SandboxState, rng: random.Random, anchor: int) -> None:
    users = [s.userid for s in state.staff.values() if s.has_contact_permission]
    for i, (channel_state, remark) in enumerate(_CHANNELS):
        config_id = rng.randbytes(16).hex()
        state.contact_ways[config_id] = ContactWay(
            config_id=config_id,
            type=2,
            scene=2,
            remark=remark,
            state=channel_state,
            user=rng.sample(users, min(len(users), rng.randint(2, 5))),
            qr_code=f"https://wework.qpic.cn/wwpic/{rng.randbytes(12).hex()}/0",
            create_time=anchor - 380 * DAY + i * DAY,
        )


def _tag_pool(state: SandboxState, rng: random.Random) -> list[list[str]]:
    """Pre-drawn tag sets (0–8 tags, ~5 on average, at most 2 per group) that follows pick from."""
    groups = [g.tag_ids for g in state.tag_groups.values()]
    pool = []
    for _ in range(_TAG_POOL_SIZE):
        chosen: list[str] = []
        for tag_ids in groups:
            k = rng.choices((0, 1, 2), (25, 55, 20))[0]
            chosen.extend(rng.sample(tag_ids, k))
        pool.append(chosen[:8])
    return pool


def _customers(state: SandboxState, rng: random.Random, count: int, anchor: int) -> None:
    staff = [s.userid for s in state.staff.values() if s.has_contact_permission]
    # Uneven books: a few top sellers follow many more customers than the rest.
    follower = _Weighted(staff, [rng.paretovariate(2.0) for _ in staff])
    pool = _tag_pool(state, rng)
    channel_states = [w.state for w in state.contact_ways.values()]
    for _ in range(count):
        external_userid = new_external_userid(rng)
        while external_userid in state.contacts:
            external_userid = new_external_userid(rng)
        contact = new_customer(rng, external_userid)
        followers = {follower.pick(rng) for _ in range(_FOLLOW_COUNT.pick(rng))}
        # Newer customers are more common (the corp is growing); every time is before the anchor day.
        days_ago = 1 + int(364 * (1 - rng.random() ** 0.6))
        first_added = anchor - days_ago * DAY + rng.randrange(8 * 3600, 22 * 3600)
        for i, userid in enumerate(sorted(followers)):
            add_way = _ADD_WAY.pick(rng)
            follow = FollowInfo(
                userid=userid,
                createtime=min(first_added + i * rng.randrange(DAY, 30 * DAY), anchor - 3600),
                tag_ids=list(pool[rng.randrange(_TAG_POOL_SIZE)]),
                add_way=add_way,
            )
            if add_way in _CUSTOMER_INITIATED:
                follow.oper_userid = external_userid
            elif add_way in (201, 202):
                follow.oper_userid = rng.choice(staff)
            else:
                follow.oper_userid = userid
            if add_way == 1 and rng.random() < 0.7:
                follow.state = rng.choice(channel_states)
            _annotate(rng, contact, follow)
            contact.follows[userid] = follow
        state.contacts[external_userid] = contact


def _annotate(rng: random.Random, contact: ExternalContact, follow: FollowInfo) -> None:
    """The notes a salesperson leaves on a customer: remark, description, phone, company, own tags."""
    r = rng.random()
    if r < 0.3:
        follow.remark = contact.name[:14] + rng.choice(("-老客户", "-" + rng.choice(_CITIES), "(VIP)", ""))
    elif r < 0.45:
        follow.remark = contact.name[:1] + rng.choice(_TITLES)
    if rng.random() < 0.25:
        follow.description = rng.choice(_DESCRIPTIONS)
    if rng.random() < 0.2:
        follow.remark_mobiles = [mobile(rng)]
    if contact.type == 2:
        follow.remark_corp_name = contact.corp_name
    if rng.random() < 0.05:
        follow.personal_tags = [rng.choice(_PERSONAL_TAGS)]
