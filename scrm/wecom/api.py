"""Typed methods for every WeCom endpoint Siyu uses, in one place (wecom-api.md section numbers).

Each is a thin call through ``WeComClient`` (so the retry policy and the limiter apply) with the
documented body; results are WeCom's JSON as documented. wechatpy 1.8.18 has some of these, with
signatures that differ from the reference; using one shape for all keeps callers simple.
"""

from __future__ import annotations

from typing import Any

from .client import WeComClient, get_client

Json = dict[str, Any]


def _clean(body: Json) -> Json:
    """Drop optional arguments that were not given: WeCom rejects some explicit nulls."""
    return {k: v for k, v in body.items() if v is not None}


class WeComAPI:
    def __init__(self, client: WeComClient):
        self.client = client

    def _get(self, path: str, **params: Any) -> Json:
        return self.client.get(path, params=_clean(params))

    def _post(self, path: str, body: Json | None = None, **params: Any) -> Json:
        return self.client.post(path, data=_clean(body or {}), params=_clean(params))

    # --- 1. token ---------------------------------------------------------------------------
    def get_access_token(self) -> str:
        return self.client.access_token

    # --- 2a. staff and departments ----------------------------------------------------------
    def department_list(self, department_id: int | None = None) -> Json:
        return self._get("department/list", id=department_id)

    def department_simplelist(self, department_id: int | None = None) -> Json:
        return self._get("department/simplelist", id=department_id)

    def user_list(self, department_id: int) -> Json:
        """The members of this one department (WeCom no longer documents ``fetch_child``)."""
        return self._get("user/list", department_id=department_id)

    def user_get(self, userid: str) -> Json:
        return self._get("user/get", userid=userid)

    def message_send_text(self, *, agent_id: str, touser: list[str], content: str) -> Json:
        """An application message (DOC 90236) from the tenant's self-built app to members."""
        body = {
            "touser": "|".join(touser),
            "msgtype": "text",
            "agentid": int(agent_id),
            "text": {"content": content},
        }
        return self._post("message/send", body)

    # --- 2. external contacts --------------------------------------------------------------
    def get_follow_user_list(self) -> Json:
        return self._get("externalcontact/get_follow_user_list")

    def list_external_contacts(self, userid: str) -> Json:
        return self._get("externalcontact/list", userid=userid)

    def get_external_contact(self, external_userid: str, cursor: str | None = None) -> Json:
        return self._get("externalcontact/get", external_userid=external_userid, cursor=cursor)

    def batch_get_by_user(self, userid_list: list[str], *, cursor: str = "", limit: int = 100) -> Json:
        body = {"userid_list": userid_list, "cursor": cursor, "limit": limit}
        return self._post("externalcontact/batch/get_by_user", body)

    def remark(
        self,
        *,
        userid: str,
        external_userid: str,
        remark: str | None = None,
        description: str | None = None,
        remark_company: str | None = None,
        remark_mobiles: list[str] | None = None,
        remark_pic_mediaid: str | None = None,
    ) -> Json:
        return self._post("externalcontact/remark", locals_body(locals()))

    # --- 3. corp tags ----------------------------------------------------------------------
    def get_corp_tag_list(
        self, *, tag_id: list[str] | None = None, group_id: list[str] | None = None
    ) -> Json:
        return self._post("externalcontact/get_corp_tag_list", {"tag_id": tag_id, "group_id": group_id})

    def add_corp_tag(
        self,
        *,
        tags: list[Json],
        group_id: str | None = None,
        group_name: str | None = None,
        order: int | None = None,
    ) -> Json:
        body = {"group_id": group_id, "group_name": group_name, "order": order, "tag": tags}
        return self._post("externalcontact/add_corp_tag", body)

    def edit_corp_tag(self, *, id: str, name: str | None = None, order: int | None = None) -> Json:
        return self._post("externalcontact/edit_corp_tag", {"id": id, "name": name, "order": order})

    def del_corp_tag(self, *, tag_id: list[str] | None = None, group_id: list[str] | None = None) -> Json:
        return self._post("externalcontact/del_corp_tag", {"tag_id": tag_id, "group_id": group_id})

    def mark_tag(
        self, *, userid: str, external_userid: str, add_tag: list[str] = (), remove_tag: list[str] = ()
    ) -> Json:
        body = {
            "userid": userid,
            "external_userid": external_userid,
            "add_tag": list(add_tag),
            "remove_tag": list(remove_tag),
        }
        return self._post("externalcontact/mark_tag", body)

    # --- 4. customer groups ----------------------------------------------------------------
    def groupchat_list(
        self,
        *,
        limit: int = 1000,
        cursor: str = "",
        status_filter: int = 0,
        owner_userids: list[str] | None = None,
    ) -> Json:
        body: Json = {"status_filter": status_filter, "limit": limit, "cursor": cursor}
        if owner_userids is not None:
            body["owner_filter"] = {"userid_list": owner_userids}
        return self._post("externalcontact/groupchat/list", body)

    def groupchat_get(self, chat_id: str, *, need_name: bool = True) -> Json:
        return self._post("externalcontact/groupchat/get", {"chat_id": chat_id, "need_name": int(need_name)})

    def groupchat_statistic(self, body: Json) -> Json:
        return self._post("externalcontact/groupchat/statistic", body)

    def groupchat_statistic_group_by_day(self, body: Json) -> Json:
        return self._post("externalcontact/groupchat/statistic_group_by_day", body)

    def groupchat_onjob_transfer(self, *, chat_id_list: list[str], new_owner: str) -> Json:
        body = {"chat_id_list": chat_id_list, "new_owner": new_owner}
        return self._post("externalcontact/groupchat/onjob_transfer", body)

    def groupchat_transfer(self, *, chat_id_list: list[str], new_owner: str) -> Json:
        return self._post(
            "externalcontact/groupchat/transfer", {"chat_id_list": chat_id_list, "new_owner": new_owner}
        )

    def add_join_way(self, body: Json) -> Json:
        return self._post("externalcontact/groupchat/add_join_way", body)

    def get_join_way(self, config_id: str) -> Json:
        return self._post("externalcontact/groupchat/get_join_way", {"config_id": config_id})

    def update_join_way(self, body: Json) -> Json:
        return self._post("externalcontact/groupchat/update_join_way", body)

    def del_join_way(self, config_id: str) -> Json:
        return self._post("externalcontact/groupchat/del_join_way", {"config_id": config_id})

    # --- 5. channel codes (联系我) ----------------------------------------------------------
    def add_contact_way(self, body: Json) -> Json:
        return self._post("externalcontact/add_contact_way", body)

    def get_contact_way(self, config_id: str) -> Json:
        return self._post("externalcontact/get_contact_way", {"config_id": config_id})

    def list_contact_way(
        self,
        *,
        start_time: int | None = None,
        end_time: int | None = None,
        cursor: str = "",
        limit: int = 1000,
    ) -> Json:
        body = {"start_time": start_time, "end_time": end_time, "cursor": cursor, "limit": limit}
        return self._post("externalcontact/list_contact_way", body)

    def update_contact_way(self, body: Json) -> Json:
        return self._post("externalcontact/update_contact_way", body)

    def del_contact_way(self, config_id: str) -> Json:
        return self._post("externalcontact/del_contact_way", {"config_id": config_id})

    # --- 6. welcome messages ---------------------------------------------------------------
    def send_welcome_msg(
        self, *, welcome_code: str, text: str | None = None, attachments: list[Json] = ()
    ) -> Json:
        body: Json = {"welcome_code": welcome_code}
        if text:
            body["text"] = {"content": text}
        if attachments:
            body["attachments"] = list(attachments)
        return self._post("externalcontact/send_welcome_msg", body)

    def group_welcome_template_add(self, body: Json) -> Json:
        return self._post("externalcontact/group_welcome_template/add", body)

    def group_welcome_template_edit(self, body: Json) -> Json:
        return self._post("externalcontact/group_welcome_template/edit", body)

    def group_welcome_template_get(self, template_id: str) -> Json:
        return self._post("externalcontact/group_welcome_template/get", {"template_id": template_id})

    def group_welcome_template_del(self, template_id: str) -> Json:
        return self._post("externalcontact/group_welcome_template/del", {"template_id": template_id})

    # --- 7. mass messages ------------------------------------------------------------------
    def add_msg_template(self, body: Json) -> Json:
        return self._post("externalcontact/add_msg_template", body)

    def get_groupmsg_list_v2(self, body: Json) -> Json:
        return self._post("externalcontact/get_groupmsg_list_v2", body)

    def get_groupmsg_task(self, *, msgid: str, cursor: str = "", limit: int = 1000) -> Json:
        return self._post(
            "externalcontact/get_groupmsg_task", {"msgid": msgid, "cursor": cursor, "limit": limit}
        )

    def get_groupmsg_send_result(
        self, *, msgid: str, userid: str, cursor: str = "", limit: int = 1000
    ) -> Json:
        body = {"msgid": msgid, "userid": userid, "cursor": cursor, "limit": limit}
        return self._post("externalcontact/get_groupmsg_send_result", body)

    def remind_groupmsg_send(self, msgid: str) -> Json:
        return self._post("externalcontact/remind_groupmsg_send", {"msgid": msgid})

    def cancel_groupmsg_send(self, msgid: str) -> Json:
        return self._post("externalcontact/cancel_groupmsg_send", {"msgid": msgid})

    # --- 8, 9a. Moments and media ----------------------------------------------------------
    def upload_media(self, *, media_type: str, filename: str, content: bytes) -> Json:
        """``media/upload`` (§9a): a temporary ``media_id`` (3 days) for mass messages, welcome messages
        and app messages; ``media_type`` is image, voice, video or file."""
        return self.client.post(
            "media/upload", params={"type": media_type}, files={"media": (filename, content)}
        )

    def upload_image(self, *, filename: str, content: bytes) -> Json:
        """``media/uploadimg`` (§9a): an image WeCom keeps for good, as a ``url`` (a link card's picture)."""
        return self.client.post("media/uploadimg", files={"media": (filename, content)})

    def upload_attachment(self, *, media_type: str, filename: str, content: bytes) -> Json:
        return self.client.post(
            "media/upload_attachment",
            params={"media_type": media_type, "attachment_type": 1},
            files={"media": (filename, content)},
        )

    def add_moment_task(self, body: Json) -> Json:
        return self._post("externalcontact/add_moment_task", body)

    def get_moment_task_result(self, jobid: str) -> Json:
        return self._get("externalcontact/get_moment_task_result", jobid=jobid)

    def get_moment_list(self, body: Json) -> Json:
        return self._post("externalcontact/get_moment_list", body)

    def get_moment_task(self, *, moment_id: str, cursor: str = "", limit: int = 1000) -> Json:
        body = {"moment_id": moment_id, "cursor": cursor, "limit": limit}
        return self._post("externalcontact/get_moment_task", body)

    def get_moment_customer_list(
        self, *, moment_id: str, userid: str, cursor: str = "", limit: int = 1000
    ) -> Json:
        body = {"moment_id": moment_id, "userid": userid, "cursor": cursor, "limit": limit}
        return self._post("externalcontact/get_moment_customer_list", body)

    def get_moment_send_result(
        self, *, moment_id: str, userid: str, cursor: str = "", limit: int = 1000
    ) -> Json:
        body = {"moment_id": moment_id, "userid": userid, "cursor": cursor, "limit": limit}
        return self._post("externalcontact/get_moment_send_result", body)

    def get_moment_comments(self, *, moment_id: str, userid: str) -> Json:
        return self._post("externalcontact/get_moment_comments", {"moment_id": moment_id, "userid": userid})

    def cancel_moment_task(self, moment_id: str) -> Json:
        return self._post("externalcontact/cancel_moment_task", {"moment_id": moment_id})

    # --- 9. staff behaviour ----------------------------------------------------------------
    def get_user_behavior_data(
        self,
        *,
        start_time: int,
        end_time: int,
        userid: list[str] | None = None,
        partyid: list[int] | None = None,
    ) -> Json:
        body = {"userid": userid, "partyid": partyid, "start_time": start_time, "end_time": end_time}
        return self._post("externalcontact/get_user_behavior_data", body)

    # --- 10. customer transfer -------------------------------------------------------------
    def transfer_customer(
        self,
        *,
        handover_userid: str,
        takeover_userid: str,
        external_userid: list[str],
        transfer_success_msg: str | None = None,
    ) -> Json:
        return self._post("externalcontact/transfer_customer", locals_body(locals()))

    def transfer_result(self, *, handover_userid: str, takeover_userid: str, cursor: str = "") -> Json:
        body = {"handover_userid": handover_userid, "takeover_userid": takeover_userid, "cursor": cursor}
        return self._post("externalcontact/transfer_result", body)

    def resigned_transfer_customer(
        self, *, handover_userid: str, takeover_userid: str, external_userid: list[str]
    ) -> Json:
        return self._post("externalcontact/resigned/transfer_customer", locals_body(locals()))

    def resigned_transfer_result(
        self, *, handover_userid: str, takeover_userid: str, cursor: str = ""
    ) -> Json:
        body = {"handover_userid": handover_userid, "takeover_userid": takeover_userid, "cursor": cursor}
        return self._post("externalcontact/resigned/transfer_result", body)

    def get_unassigned_list(self, *, cursor: str = "", page_size: int = 1000) -> Json:
        return self._post("externalcontact/get_unassigned_list", {"cursor": cursor, "page_size": page_size})


def locals_body(values: dict[str, Any]) -> Json:
    """The keyword arguments of the calling method as a request body (``self`` removed)."""
    return {k: v for k, v in values.items() if k != "self"}


def api_for(tenant) -> WeComAPI:
    return WeComAPI(get_client(corp_id=tenant.corp_id, secret=tenant.corp_secret, api_base=tenant.api_base))
