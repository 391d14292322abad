"""The sandbox's Moments: customers and colleagues liking and commenting (control routes), and the
official documentation's rules (DOC 95094, 93333, 96347) where the sandbox used to differ."""

from __future__ import annotations

import time
from typing import Any

from scrm.wecom.sandbox import Sandbox
from scrm.wecom.sandbox.endpoints_marketing import Moment, book
from scrm.wecom.sandbox.state import ExternalContact, FollowInfo
from tests.wecom.test_sandbox_groups_marketing import (
    MP4,
    PNG,
    control,
    customers_of,
    errcode,
    followers,
    poll_job,
    upload,
)

ADD = "externalcontact/add_moment_task"


def corp_post(wx, sandbox: Sandbox, body: dict[str, Any] | None = None) -> str:
    """A corp post for every member (or the body's range), its job read to the end: its moment_id."""
    jobid = wx.post(ADD, data=body or {"text": {"content": "新品上市"}})["jobid"]
    return poll_job(wx, jobid)[-1]["result"]["moment_id"]


def interactions(wx, moment_id: str, userid: str) -> dict[str, list[dict]]:
    answer = wx.post("externalcontact/get_moment_comments", data={"moment_id": moment_id, "userid": userid})
    return {"comment_list": answer["comment_list"], "like_list": answer["like_list"]}


def test_customers_like_and_comment_a_published_copy(wx, sandbox, time_machine):
    time_machine.move_to("2026-03-02 10:00:00+08:00", tick=False)
    member, other = followers(sandbox)[:2]
    moment_id = corp_post(wx, sandbox)
    customer = customers_of(sandbox, member)[0]
    copy = {"moment_id": moment_id, "userid": member, "external_userid": customer}

    # Before the member publishes, nobody sees the post: refused, and nothing is recorded.
    refused = control(sandbox, "simulate/customer-like-moment", copy, status=400)
    assert refused["errcode"] == 40058
    control(sandbox, "simulate/staff-publish-moment", {"userid": member, "moment_id": moment_id})

    liked = control(sandbox, "simulate/customer-like-moment", copy)
    assert liked == {
        "moment_id": moment_id,
        "userid": member,
        "kind": "like",
        "create_time": int(time.time()),
        "likes": 1,
        "comments": 0,
    }
    assert control(sandbox, "simulate/customer-like-moment", copy, status=400)["errcode"] == 40058
    time_machine.move_to("2026-03-02 10:05:00+08:00", tick=False)
    control(sandbox, "simulate/customer-comment-moment", copy)
    time_machine.move_to("2026-03-02 10:06:00+08:00", tick=False)
    commented = control(sandbox, "simulate/customer-comment-moment", copy)
    assert (commented["likes"], commented["comments"]) == (1, 2)

    at = int(time.time())
    assert interactions(wx, moment_id, member) == {
        "comment_list": [
            {"external_userid": customer, "create_time": at - 60},
            {"external_userid": customer, "create_time": at},
        ],
        "like_list": [{"external_userid": customer, "create_time": at - 360}],
    }
    # Another member's copy of the same post has its own, empty, lists.
    assert interactions(wx, moment_id, other) == {"comment_list": [], "like_list": []}


def test_only_the_members_customers_who_can_see_it_react(wx, sandbox):
    state = sandbox.state
    member = followers(sandbox)[0]
    strangers = [c for c in state.contacts.values() if member not in c.follows]
    carried = [t for c in customers_of(sandbox, member) for t in state.contacts[c].follows[member].tag_ids]
    tag = min(sorted(set(carried)), key=carried.count)  # a tag some of the member's customers lack
    moment_id = corp_post(
        wx,
        sandbox,
        {"text": {"content": "会员专享"}, "visible_range": {"external_contact_list": {"tag_list": [tag]}}},
    )
    control(sandbox, "simulate/staff-publish-moment", {"userid": member, "moment_id": moment_id})
    sees = [c for c in customers_of(sandbox, member) if tag in state.contacts[c].follows[member].tag_ids]
    hidden = [c for c in customers_of(sandbox, member) if c not in sees]
    assert sees
    assert hidden

    def like(external_userid: str, status: int = 200) -> dict:
        body = {"moment_id": moment_id, "userid": member, "external_userid": external_userid}
        return control(sandbox, "simulate/customer-like-moment", body, status=status)

    assert like(hidden[0], status=400)["errcode"] == 40058  # not carrying the chosen tag
    assert like(strangers[0].external_userid, status=400)["errcode"] == 84061  # not the member's customer
    assert like("wmNoSuchCustomer", status=400)["errcode"] == 84061
    comment = {"moment_id": "momNoSuchPost", "userid": member, "external_userid": sees[0]}
    assert control(sandbox, "simulate/customer-comment-moment", comment, status=400)["errcode"] == 40058
    like(sees[0])
    assert [i["external_userid"] for i in interactions(wx, moment_id, member)["like_list"]] == [sees[0]]


def test_a_colleague_likes_a_members_own_post(wx, sandbox):
    member, colleague = followers(sandbox)[:2]
    posted = control(sandbox, "simulate/staff-publish-moment", {"userid": member, "text": "周末活动"})
    body = {"moment_id": posted["moment_id"], "userid": member, "by_userid": colleague}
    control(sandbox, "simulate/member-like-moment", body)
    likes = interactions(wx, posted["moment_id"], member)["like_list"]
    assert [set(i) for i in likes] == [{"userid", "create_time"}]
    assert likes[0]["userid"] == colleague
    nobody = {**body, "by_userid": "nobody"}
    assert control(sandbox, "simulate/member-like-moment", nobody, status=400)["errcode"] == 60111
    # A customer of the member may like the same post as well.
    customer = customers_of(sandbox, member)[0]
    control(
        sandbox,
        "simulate/customer-like-moment",
        {"moment_id": posted["moment_id"], "userid": member, "external_userid": customer},
    )
    assert len(interactions(wx, posted["moment_id"], member)["like_list"]) == 2


def test_read_apis_take_the_default_page_size_above_the_maximum(wx, sandbox):
    state = sandbox.state
    marketing = book(state)
    # A corp post asked of 1,200 members (get_moment_task: maximum 1,000, default 500).
    senders = [f"member{n:04d}" for n in range(1200)]
    marketing.moments["momMany"] = Moment(
        moment_id="momMany", creator="", create_time=int(time.time()), create_type=0, visible_type=1,
        senders=senders,
    )  # fmt: skip
    page = wx.post("externalcontact/get_moment_task", data={"moment_id": "momMany", "limit": 1001})
    assert len(page["task_list"]) == 500
    page = wx.post("externalcontact/get_moment_task", data={"moment_id": "momMany", "limit": 1000})
    assert len(page["task_list"]) == 1000

    # One member with 3,200 customers (send result: maximum 5,000, default 3,000; customer list: 1,000 / 500).
    member = "bigseller"
    for n in range(3200):
        external_userid = f"wmBig{n:05d}"
        state.contacts[external_userid] = ExternalContact(
            external_userid=external_userid, name=f"客户{n}", follows={member: FollowInfo(userid=member)}
        )
    marketing.moments["momMany"].published[member] = int(time.time())
    marketing.moments["momMany"].senders.append(member)
    copy = {"moment_id": "momMany", "userid": member}
    assert (
        len(wx.post("externalcontact/get_moment_send_result", data={**copy, "limit": 5001})["customer_list"])
        == 3000
    )
    assert (
        len(wx.post("externalcontact/get_moment_send_result", data={**copy, "limit": 5000})["customer_list"])
        == 3200
    )
    chosen = wx.post("externalcontact/get_moment_customer_list", data={**copy, "limit": 1001})[
        "customer_list"
    ]
    assert len(chosen) == 500


def test_add_moment_task_rules_from_the_documentation(wx, sandbox):
    image = upload(wx, PNG)["media_id"]

    def link(**fields: Any) -> dict:
        return {"attachments": [{"msgtype": "link", "link": {"url": "https://example.com/a", **fields}}]}

    # A link needs its cover (an upload_attachment image); its title is at most 64 bytes.
    assert errcode(lambda: wx.post(ADD, data=link(title="新品"))) == 40058
    assert errcode(lambda: wx.post(ADD, data=link(title="新" * 22, media_id=image))) == 45002
    assert wx.post(ADD, data=link(title="新" * 21, media_id=image))["jobid"]
    # Moments attachments are images or videos: a file upload for Moments is refused.
    assert errcode(lambda: upload(wx, PNG, media_type="file")) == 40004
    assert upload(wx, MP4, media_type="video")["media_id"]
    assert upload(wx, PNG, media_type="file", attachment_type=2)["media_id"]
    # Up to 100,000 senders by userid (the sandbox refused more than 10,000); unknown ones come back as
    # invalid senders in the job's result.
    many = [f"nobody{n:05d}" for n in range(10_001)]
    body = {"text": {"content": "全员发表"}, "visible_range": {"sender_list": {"user_list": many}}}
    result = poll_job(wx, wx.post(ADD, data=body)["jobid"])[-1]["result"]
    assert len(result["invalid_sender_list"]["user_list"]) == 10_001
