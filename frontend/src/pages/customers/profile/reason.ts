// Why a customer is in their tier, in the user's language: built from the explanation's code and
// figures (value/services/scoring.py value_explain), not from its English `text`, which is the
// fallback for a code this dashboard does not know yet. Pure (Vitest: reason.test.ts).
import dayjs from "dayjs";
import type { TFunction } from "i18next";

import type { Explanation } from "../api";
import { money } from "../value";

const NS = "customerProfile";

/** "today", "1 day ago", "41 days ago". */
export function daysAgo(days: number | null | undefined, t: TFunction): string {
  if (days === null || days === undefined) return t(`${NS}:reason.never`);
  if (days <= 0) return t(`${NS}:reason.today`);
  return t(`${NS}:reason.daysAgo`, { count: days });
}

/** The last interaction: "liked a Moment on 10-27" / "10-27 赞了朋友圈" (the browser's day). */
export function lastInteraction(type: string | null | undefined, at: string | null | undefined, t: TFunction): string {
  if (!type || !at) return t(`${NS}:reason.never`);
  const doing = t(`${NS}:reason.doing.${type}`, { defaultValue: type });
  return t(`${NS}:reason.last`, { doing, date: dayjs(at).format("MM-DD") });
}

/** The sentence for an explanation ("" when there is none: not computed yet). */
export function reasonSentence(explanation: Explanation | null | undefined, t: TFunction, lang: string): string {
  if (!explanation) return "";
  const e = explanation;
  const currency = e.currency ?? "CNY";
  const last = lastInteraction(e.last_type, e.last_at, t);
  switch (e.code) {
    case "lost":
      return t(`${NS}:reason.lost`);
    case "new_days":
      return t(`${NS}:reason.new_days`, { ago: daysAgo(e.days_since_added ?? 0, t), newDays: e.new_days });
    case "no_interaction":
      return t(`${NS}:reason.no_interaction`);
    case "silent_days":
      return t(`${NS}:reason.silent_days`, { days: e.days ?? 0, last });
    case "high_value_ltv":
      return t(`${NS}:reason.high_value_ltv`, {
        ltv: money(e.ltv, currency, lang),
        threshold: money(e.high_value_ltv, currency, lang),
        ago: daysAgo(e.days, t),
        last,
      });
    case "active":
      return t(`${NS}:reason.active`, { ago: daysAgo(e.days, t), last, silentDays: e.silent_days });
    default:
      return e.text ?? "";
  }
}
