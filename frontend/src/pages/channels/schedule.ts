// Schedule rules of a channel code: which members take its customers on which weekdays and hours.
// The server applies the first rule that matches the current time (contacts/services/channels.py);
// these helpers build rules, offer times, summarise days and find rules that overlap.
import type { Schemas } from "../../api/client";

export type Rule = Schemas["ScheduleRule"];

/** ISO weekdays: 1 = Monday … 7 = Sunday. */
export const WEEKDAYS = [1, 2, 3, 4, 5, 6, 7] as const;
export const WORKDAYS = [1, 2, 3, 4, 5];
export const WEEKEND = [6, 7];

export const TIME_STEP_MINUTES = 15;
const DAY = 24 * 60;

/** "HH:MM" → minutes since midnight (24:00 is the end of the day); null when malformed. */
export function minutes(value: string | undefined | null): number | null {
  const match = /^(\d{1,2}):(\d{2})$/.exec(value ?? "");
  if (!match) return null;
  const total = Number(match[1]) * 60 + Number(match[2]);
  return Number(match[2]) < 60 && total <= DAY ? total : null;
}

export function clock(total: number): string {
  return `${String(Math.floor(total / 60)).padStart(2, "0")}:${String(total % 60).padStart(2, "0")}`;
}

/** The times a rule can start or end at, every quarter hour from 00:00 to 24:00, plus `keep` (a
 * time set through the API at another minute stays choosable). */
export function timeOptions(keep: (string | undefined)[] = []): string[] {
  const times = new Set<string>();
  for (let t = 0; t <= DAY; t += TIME_STEP_MINUTES) times.add(clock(t));
  for (const value of keep) if (value && minutes(value) !== null) times.add(value);
  return [...times].sort((a, b) => (minutes(a) ?? 0) - (minutes(b) ?? 0));
}

/** A new rule: office hours on workdays, with the members the code has now. */
export function newRule(userIds: number[]): Rule {
  return { weekdays: [...WORKDAYS], start: "09:00", end: "18:00", user_ids: [...userIds] };
}

export function sameDays(a: number[], b: number[]): boolean {
  const x = [...new Set(a)].sort();
  const y = [...new Set(b)].sort();
  return x.length === y.length && x.every((d, i) => d === y[i]);
}

/** Days as runs: [1,2,3,4,5,7] with labels Mon…Sun → "Mon–Fri, Sun". */
export function weekdaySummary(days: number[], labels: readonly string[]): string {
  const sorted = [...new Set(days)].filter((d) => d >= 1 && d <= 7).sort((a, b) => a - b);
  const runs: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j += 1;
    const first = labels[sorted[i] - 1];
    const last = labels[sorted[j] - 1];
    runs.push(j - i >= 2 ? `${first}–${last}` : j > i ? `${first}, ${last}` : first);
    i = j + 1;
  }
  return runs.join(", ");
}

export interface Overlap {
  /** The later rule, which never applies when the earlier one matches. */
  rule: number;
  /** The earlier rule that wins. */
  earlier: number;
  days: number[];
  start: string;
  end: string;
}

/** Pairs of rules that claim the same weekday and time: the earlier one wins there. */
export function overlaps(rules: Partial<Rule>[]): Overlap[] {
  const out: Overlap[] = [];
  rules.forEach((rule, i) => {
    const start = minutes(rule.start);
    const end = minutes(rule.end);
    if (start === null || end === null || start >= end) return;
    for (let k = 0; k < i; k++) {
      const other = rules[k];
      const otherStart = minutes(other.start);
      const otherEnd = minutes(other.end);
      if (otherStart === null || otherEnd === null || otherStart >= otherEnd) continue;
      const days = (rule.weekdays ?? []).filter((d) => (other.weekdays ?? []).includes(d)).sort((a, b) => a - b);
      const from = Math.max(start, otherStart);
      const to = Math.min(end, otherEnd);
      if (days.length && from < to) out.push({ rule: i, earlier: k, days, start: clock(from), end: clock(to) });
    }
  });
  return out;
}
