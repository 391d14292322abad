"""WeCom errors as Siyu reports them: the API, WeCom's code and message, and a hint an admin can act on."""

from __future__ import annotations

# The codes admins actually hit, with what to do about them (wecom-api.md §1, §2, §6, §12).
HINTS: dict[int, str] = {
    -1: "WeCom is busy; the call was retried and can be tried again later.",
    40001: "The app secret is wrong, or it belongs to another app: copy the secret of the self-built "
    "app again from the WeCom admin console (应用管理 → 自建应用).",
    40013: "The corp ID is wrong: copy it from the WeCom admin console (我的企业 → 企业信息).",
    40014: "The access token was invalid; Siyu fetched a new one.",
    40068: "A tag does not exist in WeCom (deleted or never synced): sync tags and retry.",
    40071: "A tag with this name already exists in that group.",
    40072: "Tag and group names are limited to 30 characters.",
    40096: "Unknown external contact id.",
    41050: "The welcome code expired (it lives 20 seconds): the welcome message was not sent.",
    41051: "The customer already chatted with the staff member, or the welcome code was used.",
    42001: "The access token expired; Siyu fetched a new one.",
    45009: "WeCom's rate limit was reached; the work resumes after the limit's window.",
    45033: "Too many concurrent calls to this WeCom API; Siyu lowers its concurrency and retries.",
    48002: "This app may not call this API: in the WeCom admin console, open 客户联系 → API and add the app "
    "to 可调用接口的应用.",
    60020: "WeCom refused the server's IP address: add it to the app's 企业可信IP list.",
    60111: "Unknown staff userid in WeCom.",
    81017: "The app's visible range is too large to list all groups at once; Siyu lists them per owner.",
    84061: "The customer is not (or no longer) a contact of this staff member.",
}


class WeComError(Exception):
    """A failed WeCom call. ``errcode`` is None when WeCom could not be reached at all."""

    def __init__(self, api: str, errcode: int | None, errmsg: str):
        self.api = api
        self.errcode = errcode
        self.errmsg = errmsg
        self.hint = HINTS.get(errcode, "") if errcode is not None else "WeCom could not be reached."
        super().__init__(f"{api}: {errcode} {errmsg}" + (f" — {self.hint}" if self.hint else ""))

    def as_dict(self) -> dict:
        return {"api": self.api, "errcode": self.errcode, "errmsg": self.errmsg, "hint": self.hint}


class WeComRateLimitedError(WeComError):
    """45009, or our own limiter refusing a call: retry after ``retry_after`` seconds, not before."""

    def __init__(self, api: str, errcode: int | None, errmsg: str, *, retry_after: float):
        super().__init__(api, errcode, errmsg)
        self.retry_after = retry_after
