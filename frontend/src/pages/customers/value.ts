// How the customers pages show a customer's value: the tier's color, amounts in the tenant's
// currency, a score. Pure functions (Vitest), shared by the list and the customer page.
import { TIERS, type Tier } from "./filters";

/** Tier colors (Ant Design presets), the same as the value pages' (pages/value/format.ts). */
export const TIER_COLORS: Record<Tier, string> = {
  new: "blue",
  active: "green",
  silent: "orange",
  high_value: "gold",
  lost: "default",
};

/** A tier the API named (tier history sends plain strings), or null for anything else. */
export function asTier(value: string | null | undefined): Tier | null {
  return TIERS.find((tier) => tier === value) ?? null;
}

/** A tier's color for a Timeline dot ("gray" where a Tag would be "default"). */
export function tierDot(value: string | null | undefined): string {
  const tier = asTier(value);
  const color = tier ? TIER_COLORS[tier] : "default";
  return color === "default" ? "gray" : color;
}

function locale(lang: string): string {
  return lang.startsWith("zh") ? "zh-CN" : "en-US";
}

/** An amount (the API sends decimals as strings) in a currency: ¥3,200.00; "—" when there is none.
 * A currency Intl does not know is written after the number. */
export function money(value: string | number | null | undefined, currency: string, lang: string): string {
  if (value === null || value === undefined || value === "") return "—";
  const amount = typeof value === "number" ? value : Number(value);
  if (!Number.isFinite(amount)) return "—";
  const digits = { minimumFractionDigits: 2, maximumFractionDigits: 2 };
  try {
    return new Intl.NumberFormat(locale(lang), { style: "currency", currency: currency || "CNY", ...digits }).format(amount);
  } catch {
    return `${new Intl.NumberFormat(locale(lang), digits).format(amount)} ${currency}`;
  }
}

/** An amount without a currency (the list's LTV column: the tenant has one currency). */
export function amount(value: string | number | null | undefined, lang: string): string {
  if (value === null || value === undefined || value === "") return "—";
  const number = typeof value === "number" ? value : Number(value);
  if (!Number.isFinite(number)) return "—";
  return new Intl.NumberFormat(locale(lang), { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(number);
}

/** How far a customer is towards the next level (0–100), from what they have earned in all. */
export function levelProgress(earned: number, current: number, next: number | null): number {
  if (next === null) return 100;
  if (next <= current) return 100;
  const share = (earned - current) / (next - current);
  return Math.max(0, Math.min(100, Math.floor(share * 100)));
}
