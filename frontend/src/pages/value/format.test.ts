import i18next, { type TFunction } from "i18next";
import { beforeAll, describe, expect, it } from "vitest";

import {
  averageScore,
  cleanChoices,
  count,
  hasChoices,
  isTier,
  money,
  nextLevelPoints,
  percent,
  readBreakdown,
  rowLabel,
  settingsRecompute,
  sortedMoves,
  suggestKey,
  tierCards,
  tierLink,
  tierMeaning,
  FIELD_KEY_RE,
} from "./format";
import strings from "./i18n";
import type { BreakdownRow, ValueSettings } from "./types";

const i18n = i18next.createInstance();
const inLang = (lng: "zh" | "en"): TFunction => i18n.getFixedT(lng, "value") as unknown as TFunction;

beforeAll(async () => {
  await i18n.init({
    resources: { zh: { value: strings.zh }, en: { value: strings.en } },
    lng: "en",
    interpolation: { escapeValue: false },
  });
});

const SETTINGS: ValueSettings = { currency: "CNY", new_days: 7, silent_days: 30, high_value_ltv: "2000.00", points_expire_days: 365 };

describe("numbers", () => {
  it("writes counts with the language's grouping", () => {
    expect(count(1240, "en")).toBe("1,240");
    expect(count(1240, "zh")).toBe("1,240");
  });

  it("writes money in the tenant's currency, from the API's decimal strings", () => {
    expect(money("3200.00", "CNY", "zh")).toBe("¥3,200.00");
    expect(money("3200", "CNY", "en")).toBe("CN¥3,200.00");
    expect(money(0, "USD", "en")).toBe("$0.00");
    expect(money(null, "CNY", "en")).toBe("—");
    expect(money("", "CNY", "en")).toBe("—");
    expect(money("abc", "CNY", "en")).toBe("—");
  });

  it("writes an amount in a currency Intl does not know after the number", () => {
    expect(money("12.5", "ZZ1", "en")).toBe("12.50 ZZ1");
  });

  it("writes shares and rates as percentages with one decimal at most", () => {
    expect(percent(0.1234)).toBe("12.3%");
    expect(percent(0.25)).toBe("25%");
    expect(percent(1)).toBe("100%");
    expect(percent(0)).toBe("0%");
    expect(percent(null)).toBe("—");
    expect(percent(Number.NaN)).toBe("—");
  });

  it("writes the average score with one decimal", () => {
    expect(averageScore(41.24)).toBe("41.2");
    expect(averageScore(40)).toBe("40.0");
    expect(averageScore(null)).toBe("—");
  });
});

describe("tiers", () => {
  it("shows all five tiers in order, a missing one as 0", () => {
    const cards = tierCards([
      { tier: "silent", count: 3, share: 0.3 },
      { tier: "new", count: 7, share: 0.7 },
    ]);
    expect(cards.map((c) => c.tier)).toEqual(["new", "active", "silent", "high_value", "lost"]);
    expect(cards.map((c) => c.count)).toEqual([7, 0, 3, 0, 0]);
  });

  it("says what each tier means with the tenant's thresholds, in both languages", () => {
    const en = inLang("en");
    expect(tierMeaning("new", SETTINGS, en, "en")).toBe("First added less than 7 days ago");
    expect(tierMeaning("silent", SETTINGS, en, "en")).toBe("No interaction for 30 days or more");
    expect(tierMeaning("high_value", SETTINGS, en, "en")).toBe("Interacted within 30 days, spent CN¥2,000.00 or more");
    expect(tierMeaning("active", SETTINGS, en, "en")).toBe("Interacted within 30 days, spent less than CN¥2,000.00");
    expect(tierMeaning("lost", SETTINGS, en, "en")).toContain("No member follows them");
    const zh = inLang("zh");
    expect(tierMeaning("silent", { ...SETTINGS, silent_days: 45 }, zh, "zh")).toBe("45 天以上没有任何互动");
    expect(tierMeaning("high_value", SETTINGS, zh, "zh")).toBe("30 天内有互动，累计消费达到 ¥2,000.00");
  });

  it("says nothing before the settings are read", () => {
    expect(tierMeaning("new", undefined, inLang("en"), "en")).toBe("");
  });

  it("links a tier to the customers list filtered by it", () => {
    expect(tierLink("high_value")).toBe("/customers?tier=high_value");
  });

  it("orders this week's moves by count, then by tier", () => {
    const moves = sortedMoves([
      { from: "active", to: "silent", count: 2 },
      { from: "new", to: "active", count: 5 },
      { from: "new", to: "silent", count: 2 },
      { from: "silent", to: "lost", count: 0 },
    ]);
    expect(moves.map((m) => `${m.from}>${m.to}`)).toEqual(["new>active", "new>silent", "active>silent"]);
  });

  it("puts a tier it does not know after the known ones", () => {
    const moves = sortedMoves([
      { from: "vip", to: "silent", count: 1 },
      { from: "lost", to: "active", count: 1 },
    ]);
    expect(moves.map((m) => m.from)).toEqual(["lost", "vip"]);
    expect(isTier("high_value")).toBe(true);
    expect(isTier("vip")).toBe(false);
  });
});

describe("breakdowns", () => {
  const row = (key: string, label: string): BreakdownRow => ({
    key,
    label,
    customers: 1,
    paying: 0,
    orders: 0,
    ltv: "0.00",
    average_ltv: "0.00",
    repurchase_rate: 0,
  });

  it("names a row by its label, its key, or what it lacks", () => {
    const t = inLang("en");
    expect(rowLabel(row("spring", "Spring QR"), "channel", t)).toBe("Spring QR");
    expect(rowLabel(row("2026-11", ""), "cohort", t)).toBe("2026-11");
    expect(rowLabel(row("", "No channel"), "channel", t)).toBe("Not through a channel code");
    expect(rowLabel(row("", "No member"), "staff", t)).toBe("No member");
    expect(rowLabel(row("", "No member"), "staff", inLang("zh"))).toBe("无跟进成员");
    expect(rowLabel(row("", "Unknown"), "cohort", inLang("zh"))).toBe("添加时间未知");
  });

  it("reads the tab from the URL, the channel one by default", () => {
    expect(readBreakdown("staff")).toBe("staff");
    expect(readBreakdown("cohort")).toBe("cohort");
    expect(readBreakdown(null)).toBe("channel");
    expect(readBreakdown("bogus")).toBe("channel");
  });
});

describe("settings", () => {
  it("knows which threshold changes recompute every customer", () => {
    expect(settingsRecompute(SETTINGS, { ...SETTINGS })).toBe(false);
    expect(settingsRecompute(SETTINGS, { ...SETTINGS, points_expire_days: 10, currency: "USD" })).toBe(false);
    expect(settingsRecompute(SETTINGS, { ...SETTINGS, silent_days: 45 })).toBe(true);
    expect(settingsRecompute(SETTINGS, { ...SETTINGS, new_days: 14 })).toBe(true);
    expect(settingsRecompute(SETTINGS, { ...SETTINGS, high_value_ltv: "2000" })).toBe(false);
    expect(settingsRecompute(SETTINGS, { ...SETTINGS, high_value_ltv: "5000.00" })).toBe(true);
  });
});

describe("profile fields", () => {
  it("accepts the API's keys only", () => {
    expect(FIELD_KEY_RE.test("birthday")).toBe(true);
    expect(FIELD_KEY_RE.test("skin_type2")).toBe(true);
    expect(FIELD_KEY_RE.test("2city")).toBe(false);
    expect(FIELD_KEY_RE.test("City")).toBe(false);
    expect(FIELD_KEY_RE.test("a".repeat(33))).toBe(false);
  });

  it("suggests a key from a Latin label, none from another script", () => {
    expect(suggestKey("Skin type")).toBe("skin_type");
    expect(suggestKey("  Budget (CNY) ")).toBe("budget_cny");
    expect(suggestKey("2nd phone")).toBe("nd_phone");
    expect(suggestKey("生日")).toBe("");
    expect(suggestKey("x".repeat(40))).toHaveLength(32);
  });

  it("cleans choices: trimmed, no blanks, no repeats, in order", () => {
    expect(cleanChoices([" oily", "dry", "", "oily ", "  ", "mixed"])).toEqual(["oily", "dry", "mixed"]);
    expect(cleanChoices(undefined)).toEqual([]);
  });

  it("knows which kinds have choices", () => {
    expect(hasChoices("choice")).toBe(true);
    expect(hasChoices("multi_choice")).toBe(true);
    expect(hasChoices("date")).toBe(false);
    expect(hasChoices(undefined)).toBe(false);
  });
});

describe("levels", () => {
  it("offers a new level's minimum above the highest one", () => {
    expect(nextLevelPoints([])).toBe(0);
    expect(nextLevelPoints([{ min_points: 0 }])).toBe(1000);
    expect(nextLevelPoints([{ min_points: 0 }, { min_points: 1000 }])).toBe(2000);
    expect(nextLevelPoints([{ min_points: 1500 }])).toBe(3000);
    expect(nextLevelPoints([{ min_points: 1234 }])).toBe(3000);
  });
});
