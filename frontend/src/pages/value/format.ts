// The value pages' figures in words and numbers: money in the tenant's currency, shares and rates,
// what each tier means with the tenant's thresholds, this week's moves in reading order, a
// breakdown row's label, and what a settings change sets off. Pure functions (Vitest).
import type { TFunction } from "i18next";

import { type BreakdownBy, type BreakdownRow, type FieldKind, TIERS, type Tier, type TierCount, type TierMove, type ValueSettings } from "./types";

/** Tier colors (Ant Design presets), the same on every page that tags a tier. */
export const TIER_COLORS: Record<Tier, string> = {
  new: "blue",
  active: "green",
  silent: "orange",
  high_value: "gold",
  lost: "default",
};

function locale(lang: string): string {
  return lang.startsWith("zh") ? "zh-CN" : "en-US";
}

/** A count the way the page's language writes it (1,240). */
export function count(value: number, lang: string): string {
  return new Intl.NumberFormat(locale(lang)).format(value);
}

/** An amount (the API sends decimals as strings) in the tenant's currency: ¥3,200.00; "—" when
 * there is none. A currency Intl does not know is written after the number. */
export function money(value: string | number | null | undefined, currency: string, lang: string): string {
  if (value === null || value === undefined || value === "") return "—";
  const amount = typeof value === "number" ? value : Number(value);
  if (!Number.isFinite(amount)) return "—";
  try {
    return new Intl.NumberFormat(locale(lang), { style: "currency", currency, minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(amount);
  } catch {
    return `${new Intl.NumberFormat(locale(lang), { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(amount)} ${currency}`;
  }
}

/** A share or rate (0–1) as a percentage with at most one decimal: 0.1234 → "12.3%". */
export function percent(rate: number | null | undefined): string {
  if (rate === null || rate === undefined || !Number.isFinite(rate)) return "—";
  return `${Math.round(rate * 1000) / 10}%`;
}

/** The average score with one decimal ("41.2"), "—" when nobody has one. */
export function averageScore(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  return (Math.round(value * 10) / 10).toFixed(1);
}

/** The five tiers in their order, each with its count (a tier the API left out counts 0). */
export function tierCards(tiers: TierCount[]): TierCount[] {
  const byTier = new Map(tiers.map((row) => [row.tier, row]));
  return TIERS.map((tier) => byTier.get(tier) ?? { tier, count: 0, share: 0 });
}

/** What puts a customer in a tier, with the tenant's thresholds ("No interaction for 30 days or more"). */
export function tierMeaning(tier: Tier, settings: ValueSettings | undefined, t: TFunction, lang: string): string {
  if (!settings) return "";
  const ltv = money(settings.high_value_ltv, settings.currency, lang);
  switch (tier) {
    case "new":
      return t("value:meaning.new", { days: settings.new_days });
    case "active":
      return t("value:meaning.active", { days: settings.silent_days, ltv });
    case "silent":
      return t("value:meaning.silent", { days: settings.silent_days });
    case "high_value":
      return t("value:meaning.high_value", { days: settings.silent_days, ltv });
    case "lost":
      return t("value:meaning.lost");
  }
}

/** The customers list showing one tier. */
export function tierLink(tier: Tier): string {
  return `/customers?${new URLSearchParams({ tier }).toString()}`;
}

export function isTier(value: string): value is Tier {
  return (TIERS as readonly string[]).includes(value);
}

/** This week's moves, most customers first (ties in tier order, from then to; a tier this page does
 * not know last). */
export function sortedMoves(moves: TierMove[]): TierMove[] {
  const rank = (tier: string) => (isTier(tier) ? TIERS.indexOf(tier) : TIERS.length);
  return [...moves]
    .filter((move) => move.count > 0)
    .sort((a, b) => b.count - a.count || rank(a.from) - rank(b.from) || rank(a.to) - rank(b.to));
}

/** A breakdown row's name; the row of customers without a channel, a member or a known add date
 * (key "") is named in the page's language (the API names it in English). */
export function rowLabel(row: BreakdownRow, by: BreakdownBy, t: TFunction): string {
  if (!row.key) return t(by === "channel" ? "value:breakdown.noChannel" : by === "staff" ? "value:breakdown.noStaff" : "value:breakdown.noCohort");
  return row.label || row.key;
}

/** The breakdown tab a URL names (`?by=`), the channel one otherwise. */
export function readBreakdown(raw: string | null): BreakdownBy {
  return raw === "staff" || raw === "cohort" ? raw : "channel";
}

/** Whether saving these thresholds recomputes every customer (the API queues it on these three). */
export function settingsRecompute(before: ValueSettings, after: Partial<ValueSettings>): boolean {
  if (after.new_days !== undefined && after.new_days !== before.new_days) return true;
  if (after.silent_days !== undefined && after.silent_days !== before.silent_days) return true;
  if (after.high_value_ltv !== undefined && Number(after.high_value_ltv) !== Number(before.high_value_ltv)) return true;
  return false;
}

// -- profile fields -------------------------------------------------------------------------------

export const FIELD_KEY_RE = /^[a-z][a-z0-9_]{0,31}$/;
export const CHOICE_MAX = 32;
export const CHOICES_MAX = 50;

export function hasChoices(kind: FieldKind | undefined): boolean {
  return kind === "choice" || kind === "multi_choice";
}

/** The choices as the API takes them: trimmed, without blanks or repeats, in the order typed. */
export function cleanChoices(choices: readonly string[] | undefined): string[] {
  const out: string[] = [];
  for (const raw of choices ?? []) {
    const choice = raw.trim();
    if (choice && !out.includes(choice)) out.push(choice);
  }
  return out;
}

/** A key suggested from a label typed in Latin letters ("Skin type" → "skin_type"); "" otherwise. */
export function suggestKey(label: string): string {
  const key = label
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^[^a-z]+/, "")
    .replace(/_+$/, "")
    .slice(0, 32)
    .replace(/_+$/, "");
  return FIELD_KEY_RE.test(key) ? key : "";
}

// -- levels ---------------------------------------------------------------------------------------

/** The colors a level's tag can take ("" is Ant Design's default tag). */
export const LEVEL_COLORS = [
  { name: "none", value: "" },
  { name: "gray", value: "#8c8c8c" },
  { name: "gold", value: "#d4b106" },
  { name: "orange", value: "#fa8c16" },
  { name: "red", value: "#f5222d" },
  { name: "magenta", value: "#eb2f96" },
  { name: "purple", value: "#722ed1" },
  { name: "blue", value: "#1677ff" },
  { name: "cyan", value: "#13c2c2" },
  { name: "green", value: "#52c41a" },
] as const;

/** The minimum a new level is offered: above the highest one (1,000 for the first, then doubling,
 * rounded to a thousand), since two levels cannot share a minimum. */
export function nextLevelPoints(levels: readonly { min_points: number }[]): number {
  const top = levels.reduce((max, level) => Math.max(max, level.min_points), 0);
  if (top === 0) return levels.length ? 1000 : 0;
  return Math.ceil((top * 2) / 1000) * 1000;
}
