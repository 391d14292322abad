import i18n from "i18next";
import { describe, expect, it } from "vitest";

import strings from "../pages/campaigns/i18n";
import {
  type PlanFigures,
  byteCount,
  placeholdersIn,
  campaignProgress,
  isoToWall,
  previewSentence,
  remindState,
  textBytes,
  wallToIso,
  zoneLabel,
  zonedDateTime,
} from "./campaigns";

const en = i18n.createInstance();
await en.init({ lng: "en", resources: { en: { campaigns: strings.en } } });
const zh = i18n.createInstance();
await zh.init({ lng: "zh", resources: { zh: { campaigns: strings.zh } } });

const figures = (over: Partial<PlanFigures> = {}): PlanFigures => ({
  chatType: "single",
  audience: 1300,
  recipients: 1240,
  members: 18,
  skipped: { limit: 44, dnd: 16 },
  receiveLimit: "month",
  ...over,
});

describe("previewSentence", () => {
  it("states who will receive it, from whom, and who is left out and why", () => {
    expect(previewSentence(figures(), en.t, "en")).toBe(
      "1,240 of 1,300 customers will receive it from 18 members; 44 already reached this month's limit; 16 are on do-not-disturb.",
    );
  });

  it("says it in Chinese with Chinese counting words", () => {
    expect(previewSentence(figures(), zh.t, "zh")).toBe("1,300 位客户中有 1,240 位将收到，由 18 名成员发送；44 位本月已达接收上限；16 位在免打扰名单中。");
    expect(previewSentence(figures({ chatType: "group", audience: 30, recipients: 28, members: 3, skipped: { limit: 2 } }), zh.t, "zh")).toBe(
      "30 个客户群中有 28 个将收到，由 3 位群主发送；2 个本月已达接收上限。",
    );
  });

  it("names the period of the tenant's receive limit", () => {
    expect(previewSentence(figures({ receiveLimit: "week", skipped: { limit: 3 } }), en.t, "en")).toContain("3 already reached this week's limit");
    expect(previewSentence(figures({ receiveLimit: "day", skipped: { limit: 3 } }), en.t, "en")).toContain("3 already received a mass message today");
  });

  it("counts in the singular for one, and names every reason in a fixed order", () => {
    const one = figures({ audience: 5, recipients: 1, members: 1, skipped: { no_sender: 1, dnd: 1, cap: 1, limit: 1 } });
    expect(previewSentence(one, en.t, "en")).toBe(
      "1 of 5 customers will receive it from 1 member; 1 already reached this month's limit; 1 reached this week's marketing cap; 1 is on do-not-disturb; 1 has no member who can send it.",
    );
  });

  it("says so when everyone, no one, or nobody at all is in the audience", () => {
    expect(previewSentence(figures({ recipients: 1300, skipped: {} }), en.t, "en")).toBe("All 1,300 customers will receive it from 18 members.");
    expect(previewSentence(figures({ recipients: 0, members: 0, skipped: { dnd: 1300 } }), en.t, "en")).toBe(
      "None of the 1,300 customers will receive it; 1,300 are on do-not-disturb.",
    );
    expect(previewSentence(figures({ audience: 0, recipients: 0, members: 0, skipped: {} }), en.t, "en")).toBe("No customer matches this audience.");
    expect(previewSentence(figures({ audience: 0, recipients: 0, members: 0, skipped: {} }), zh.t, "zh")).toBe("没有符合条件的客户。");
  });

  it("leaves out a reason with no one in it", () => {
    expect(previewSentence(figures({ skipped: { limit: 0, dnd: 60 } }), en.t, "en")).not.toContain("limit");
  });
});

describe("byte counter", () => {
  it("counts UTF-8 bytes as WeCom does: a Chinese character is three", () => {
    expect(textBytes("hello")).toBe(5);
    expect(textBytes("你好")).toBe(6);
    expect(textBytes("🎉")).toBe(4);
    expect(textBytes(null)).toBe(0);
  });

  it("counts what is sent: the API trims the text", () => {
    expect(textBytes("  hi \n")).toBe(2);
  });

  it("is over at 4,001 bytes, and warns in the last tenth", () => {
    expect(byteCount("a".repeat(4000))).toEqual({ bytes: 4000, max: 4000, left: 0, over: false, near: true });
    expect(byteCount("a".repeat(4001))).toMatchObject({ over: true, left: -1, near: false });
    expect(byteCount("你".repeat(1334))).toMatchObject({ bytes: 4002, over: true });
    expect(byteCount("a".repeat(3600))).toMatchObject({ over: false, near: false });
  });
});

describe("placeholdersIn", () => {
  it("finds what a template would fill in, which a mass message cannot", () => {
    expect(placeholdersIn("Hi {customer_name}, { staff_name } here. {customer_name}")).toEqual(["{customer_name}", "{ staff_name }"]);
    expect(placeholdersIn("50% off {today only}! {1} ")).toEqual([]);
    expect(placeholdersIn(undefined)).toEqual([]);
  });
});

describe("remindState", () => {
  const now = new Date("2026-05-01T12:00:00Z");
  it("allows three reminders in 24 hours", () => {
    expect(remindState([], now)).toEqual({ recent: 0, allowed: true, nextAt: null });
    expect(remindState(["2026-05-01T08:00:00Z", "2026-05-01T10:00:00Z"], now)).toMatchObject({ recent: 2, allowed: true });
  });

  it("refuses a fourth and says when the next one is possible", () => {
    const state = remindState(["2026-05-01T10:00:00Z", "2026-04-30T14:00:00Z", "2026-05-01T11:00:00Z"], now);
    expect(state.allowed).toBe(false);
    expect(state.nextAt?.toISOString()).toBe("2026-05-01T14:00:00.000Z");
  });

  it("forgets reminders older than 24 hours", () => {
    expect(remindState(["2026-04-30T11:59:00Z", "2026-05-01T10:00:00Z", "2026-05-01T11:00:00Z"], now)).toMatchObject({ recent: 2, allowed: true });
  });
});

describe("campaignProgress", () => {
  it("counts outcomes against recipients, sent apart", () => {
    expect(campaignProgress({ recipients: 200, sent: 100, not_friend: 10, over_limit: 5, failed: 5 })).toEqual({
      done: 120,
      pending: 80,
      percent: 60,
      sentPercent: 50,
    });
    expect(campaignProgress({ recipients: 0, sent: 0, not_friend: 0, over_limit: 0, failed: 0 })).toMatchObject({ percent: 0, pending: 0 });
  });
});

describe("the tenant's time zone", () => {
  it("turns a wall-clock time there into the instant, whatever the browser's zone", () => {
    expect(wallToIso("2026-05-01T09:30", "Asia/Shanghai")).toBe("2026-05-01T01:30:00.000Z");
    expect(wallToIso("2026-05-01T09:30", "UTC")).toBe("2026-05-01T09:30:00.000Z");
    // Summer time in New York (UTC-4) and winter time (UTC-5).
    expect(wallToIso("2026-07-01T09:00", "America/New_York")).toBe("2026-07-01T13:00:00.000Z");
    expect(wallToIso("2026-01-15T09:00", "America/New_York")).toBe("2026-01-15T14:00:00.000Z");
    expect(wallToIso("not a time", "UTC")).toBeNull();
  });

  it("reads an instant back as that wall clock", () => {
    expect(isoToWall("2026-05-01T01:30:00Z", "Asia/Shanghai")).toBe("2026-05-01T09:30");
    expect(isoToWall(wallToIso("2026-03-29T02:30", "Europe/Berlin") as string, "Europe/Berlin")).toBe("2026-03-29T03:30");
  });

  it("writes a scheduled time as the zone's clock reads it", () => {
    expect(zonedDateTime("2026-05-01T01:30:00Z", "Asia/Shanghai")).toBe("2026-05-01 09:30 Asia/Shanghai");
    expect(zonedDateTime(null, "UTC")).toBe("—");
  });

  it("names the zone with its offset", () => {
    expect(zoneLabel("Asia/Shanghai", Date.parse("2026-05-01T00:00:00Z"))).toBe("Asia/Shanghai (UTC+08:00)");
    expect(zoneLabel("America/St_Johns", Date.parse("2026-01-01T00:00:00Z"))).toBe("America/St_Johns (UTC-03:30)");
  });
});
