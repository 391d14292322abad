// The tier's reason in both languages, from the explanation's codes (value_explain).
import i18next from "i18next";
import { describe, expect, it } from "vitest";

import type { Explanation } from "../api";
import strings from "./i18n";
import { daysAgo, lastInteraction, reasonSentence } from "./reason";

const i18n = i18next.createInstance();
await i18n.init({
  lng: "en",
  fallbackLng: "en",
  resources: { en: { customerProfile: strings.en }, zh: { customerProfile: strings.zh } },
  interpolation: { escapeValue: false },
});
const en = i18n.getFixedT("en");
const zh = i18n.getFixedT("zh");

// Noon in China: the same day (10-27) in any zone a test machine may run in.
const LAST_AT = "2026-10-27T12:00:00+08:00";

const base = {
  days: null,
  last_type: null,
  last_at: null,
  ltv: "0.00",
  currency: "CNY",
  new_days: 7,
  silent_days: 30,
  high_value_ltv: "2000.00",
  days_since_added: null,
} satisfies Partial<Explanation>;

const explain = (patch: Partial<Explanation> & Pick<Explanation, "tier" | "code">): Explanation => ({ ...base, ...patch });

describe("reasonSentence", () => {
  it("says why a silent customer is silent, with the last interaction (the issue's example)", () => {
    const e = explain({ tier: "silent", code: "silent_days", days: 41, last_type: "moment_liked", last_at: LAST_AT });
    expect(reasonSentence(e, en, "en")).toBe("Silent: no interaction for 41 days; last: liked a Moment on 10-27");
    expect(reasonSentence(e, zh, "zh")).toBe("沉默：已 41 天没有互动；最近一次：10-27 赞了朋友圈");
  });

  it("a customer who never interacted", () => {
    const e = explain({ tier: "silent", code: "no_interaction" });
    expect(reasonSentence(e, en, "en")).toBe("Silent: no interaction yet");
    expect(reasonSentence(e, zh, "zh")).toBe("沉默：还没有任何互动");
  });

  it("a lost customer", () => {
    const e = explain({ tier: "lost", code: "lost" });
    expect(reasonSentence(e, en, "en")).toBe("Lost: no member follows the customer any more");
    expect(reasonSentence(e, zh, "zh")).toBe("流失：已没有成员跟进这位客户");
  });

  it("a new customer, with the tenant's new_days", () => {
    const e = explain({ tier: "new", code: "new_days", days_since_added: 3 });
    expect(reasonSentence(e, en, "en")).toBe("New: added 3 days ago (new for the first 7 days)");
    expect(reasonSentence(e, zh, "zh")).toBe("新客户：3 天前添加（添加后 7 天内为新客户）");
    const today = explain({ tier: "new", code: "new_days", days_since_added: 0 });
    expect(reasonSentence(today, en, "en")).toBe("New: added today (new for the first 7 days)");
    expect(reasonSentence(today, zh, "zh")).toBe("新客户：今天添加（添加后 7 天内为新客户）");
    const one = explain({ tier: "new", code: "new_days", days_since_added: 1 });
    expect(reasonSentence(one, en, "en")).toBe("New: added 1 day ago (new for the first 7 days)");
  });

  it("a high-value customer, with the amounts in the tenant's currency", () => {
    const e = explain({
      tier: "high_value",
      code: "high_value_ltv",
      days: 2,
      ltv: "3200.00",
      last_type: "purchased",
      last_at: LAST_AT,
    });
    expect(reasonSentence(e, en, "en")).toBe("High value: LTV CN¥3,200.00 reaches CN¥2,000.00; last interaction 2 days ago (purchased on 10-27)");
    expect(reasonSentence(e, zh, "zh")).toBe("高价值：累计消费 ¥3,200.00，达到 ¥2,000.00；2 天前有互动（10-27 下单）");
  });

  it("an active customer, within the tenant's silent_days", () => {
    const e = explain({ tier: "active", code: "active", days: 0, last_type: "group_joined", last_at: LAST_AT });
    expect(reasonSentence(e, en, "en")).toBe("Active: last interaction today (joined a group on 10-27), within 30 days");
    expect(reasonSentence(e, zh, "zh")).toBe("活跃：今天有互动（10-27 加入了客户群），未超过 30 天");
  });

  it("is empty when nothing has been computed yet", () => {
    expect(reasonSentence(null, en, "en")).toBe("");
    expect(reasonSentence(undefined, zh, "zh")).toBe("");
  });

  it("falls back to the API's English sentence for a code it does not know", () => {
    const e = explain({ tier: "active", code: "something_new", text: "Active: because" });
    expect(reasonSentence(e, zh, "zh")).toBe("Active: because");
    expect(reasonSentence(explain({ tier: "active", code: "something_new" }), en, "en")).toBe("");
  });

  it("words every interaction type the score counts, in both languages", () => {
    for (const type of ["added", "purchased", "custom", "moment_commented", "moment_liked", "group_joined", "note"]) {
      expect(strings.en.reason.doing).toHaveProperty(type);
      expect(strings.zh.reason.doing).toHaveProperty(type);
    }
    // An unknown type is named as it is, not as a missing key.
    expect(lastInteraction("welcomed", LAST_AT, en)).toBe("welcomed on 10-27");
  });

  it("has a sentence for every code value_explain gives, in both languages", () => {
    for (const code of ["lost", "new_days", "no_interaction", "silent_days", "high_value_ltv", "active"]) {
      expect(strings.en.reason).toHaveProperty(code);
      expect(strings.zh.reason).toHaveProperty(code);
    }
  });
});

describe("daysAgo", () => {
  it("counts days", () => {
    expect(daysAgo(0, en)).toBe("today");
    expect(daysAgo(1, en)).toBe("1 day ago");
    expect(daysAgo(41, en)).toBe("41 days ago");
    expect(daysAgo(41, zh)).toBe("41 天前");
    expect(daysAgo(null, en)).toBe("none");
  });
});
