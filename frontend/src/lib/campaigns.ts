// Mass messages (群发) in words and numbers: the preview's sentence ("1,240 of 1,300 customers will
// receive it from 18 members; 44 already reached this month's limit; …"), the text's byte budget,
// whether a member may be reminded again, and a campaign's progress. Pure functions (Vitest).
import type { TFunction } from "i18next";

/** WeCom's limit on a mass message's text (wecom-api.md §7), counted in UTF-8 bytes. */
export const TEXT_MAX_BYTES = 4000;
/** WeCom's limit on attachments per mass message. */
export const MAX_ATTACHMENTS = 9;
/** WeCom's limit on reminders per message in 24 hours. */
export const MAX_REMINDERS = 3;
export const REMIND_WINDOW_MS = 24 * 60 * 60 * 1000;

export type ChatType = "single" | "group";
export type ReceiveLimit = "month" | "week" | "day";

/** Why the plan leaves a recipient out, in the order the sentence names them. */
export const SKIP_REASONS = ["limit", "cap", "dnd", "no_sender"] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

/** The preview's figures, as the sentence needs them (the page maps the API's answer onto this). */
export interface PlanFigures {
  chatType: ChatType;
  /** Customers (or groups) the audience matches. */
  audience: number;
  /** Of them, those who will receive it. */
  recipients: number;
  /** The members who will send it (each gets their own WeCom task). */
  members: number;
  /** Left out, by reason (a missing reason is none). */
  skipped: Partial<Record<SkipReason, number>>;
  /** The tenant's receive limit, which names the period of the "reached the limit" part. */
  receiveLimit: ReceiveLimit;
}

/** A count written the way the page's language writes it (1,240). */
export function formatCount(value: number, lang: string): string {
  return new Intl.NumberFormat(lang.startsWith("zh") ? "zh-CN" : "en-US").format(value);
}

/**
 * The preview's truth in one sentence, in the page's language (the `campaigns` strings):
 * "1,240 of 1,300 customers will receive it from 18 members; 44 already reached this month's
 * limit; 16 are on do-not-disturb."
 */
export function previewSentence(figures: PlanFigures, t: TFunction, lang: string): string {
  const n = (value: number) => formatCount(value, lang);
  // Customers and groups are counted with other words (位/个 in Chinese): each has its own strings.
  const s = `campaigns:sentence.${figures.chatType === "group" ? "group" : "customer"}`;
  if (figures.audience === 0) return t(`${s}.noAudience`) + t("campaigns:sentence.end");
  const audience = t(`${s}.audience`, { count: figures.audience, n: n(figures.audience) });
  const senders = t(`${s}.senders`, { count: figures.members, n: n(figures.members) });
  const head =
    figures.recipients === 0
      ? t(`${s}.none`, { audience })
      : figures.recipients === figures.audience
        ? t(`${s}.all`, { audience, senders })
        : t(`${s}.some`, { recipients: n(figures.recipients), audience, senders });
  const parts = [head];
  for (const reason of SKIP_REASONS) {
    const count = figures.skipped[reason] ?? 0;
    if (!count) continue;
    const key = reason === "limit" ? `limit.${figures.receiveLimit}` : reason;
    parts.push(t(`${s}.skipped.${key}`, { count, n: n(count) }));
  }
  return parts.join(t("campaigns:sentence.separator")) + t("campaigns:sentence.end");
}

const encoder = new TextEncoder();

export interface ByteCount {
  bytes: number;
  max: number;
  /** Bytes still free (negative when over). */
  left: number;
  over: boolean;
  /** Within the last tenth of the budget: the counter warns before it refuses. */
  near: boolean;
}

/** The text's size as WeCom counts it: UTF-8 bytes of what is sent (the API trims the text). A CJK
 * character is 3 bytes, so 4,000 bytes are about 1,333 Chinese characters. */
export function textBytes(text: string | null | undefined): number {
  return encoder.encode((text ?? "").trim()).length;
}

export function byteCount(text: string | null | undefined, max = TEXT_MAX_BYTES): ByteCount {
  const bytes = textBytes(text);
  return { bytes, max, left: max - bytes, over: bytes > max, near: bytes <= max && bytes > max * 0.9 };
}

// {customer_name}, { staff_name }: what a template language would fill in. WeCom sends one text to every
// recipient of a task, so the API refuses them rather than send them as written.
const PLACEHOLDER_RE = /\{\s*[A-Za-z_][A-Za-z0-9_]*\s*\}/g;

/** The placeholders in a text, each once, as written. */
export function placeholdersIn(text: string | null | undefined): string[] {
  return [...new Set((text ?? "").match(PLACEHOLDER_RE) ?? [])];
}

export interface RemindState {
  /** Reminders sent in the last 24 hours. */
  recent: number;
  allowed: boolean;
  /** When the next reminder becomes possible (the oldest recent one turns 24 hours old), if not now. */
  nextAt: Date | null;
}

/** Whether a member's task may be reminded now: WeCom allows 3 reminders per message in 24 hours. */
export function remindState(remindedAt: readonly string[] | null | undefined, now: Date): RemindState {
  const since = now.getTime() - REMIND_WINDOW_MS;
  const recent = (remindedAt ?? [])
    .map((at) => new Date(at).getTime())
    .filter((at) => Number.isFinite(at) && at > since)
    .sort((a, b) => a - b);
  if (recent.length < MAX_REMINDERS) return { recent: recent.length, allowed: true, nextAt: null };
  // The window slides: once the oldest of the last three is 24 hours old, one more is allowed.
  const oldest = recent[recent.length - MAX_REMINDERS];
  return { recent: recent.length, allowed: false, nextAt: new Date(oldest + REMIND_WINDOW_MS) };
}

export interface CampaignTotals {
  recipients: number;
  sent: number;
  not_friend: number;
  over_limit: number;
  failed: number;
}

export interface Progress {
  /** Recipients with an outcome (sent, not a friend, over the limit, failed). */
  done: number;
  /** Recipients still waiting for their member to send. */
  pending: number;
  /** Percent with an outcome, and percent sent (for a two-tone progress bar), 0–100. */
  percent: number;
  sentPercent: number;
}

export function campaignProgress(totals: CampaignTotals): Progress {
  const done = totals.sent + totals.not_friend + totals.over_limit + totals.failed;
  const pending = Math.max(0, totals.recipients - done);
  const share = (value: number) => (totals.recipients ? Math.min(100, Math.round((value * 1000) / totals.recipients) / 10) : 0);
  return { done, pending, percent: share(done), sentPercent: share(totals.sent) };
}

// -- the tenant's time zone -----------------------------------------------------------------------
// A scheduled send is picked as a wall-clock time in the tenant's zone (not the browser's): these
// convert between that wall clock ("2026-05-01T09:30") and the instant the API stores.

const WALL_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/;

/** Minutes the zone is ahead of UTC at an instant (Asia/Shanghai: 480). */
export function zoneOffsetMinutes(timeZone: string, at: number): number {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  }).formatToParts(new Date(at));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  const wall = Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"), get("second"));
  return Math.round((wall - Math.floor(at / 1000) * 1000) / 60_000);
}

/** The instant (ISO, UTC) of a wall-clock time in a zone; null for a malformed one. In a DST gap the
 * time moves forward by the gap, as the zone's clocks do. */
export function wallToIso(wall: string, timeZone: string): string | null {
  const m = WALL_RE.exec(wall);
  if (!m) return null;
  const asUtc = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]));
  const first = zoneOffsetMinutes(timeZone, asUtc);
  let at = asUtc - first * 60_000;
  const second = zoneOffsetMinutes(timeZone, at);
  if (second !== first) at = asUtc - second * 60_000;
  return new Date(at).toISOString();
}

/** An instant as the zone's wall clock ("2026-05-01T09:30"). */
export function isoToWall(iso: string, timeZone: string): string {
  const at = new Date(iso).getTime();
  const local = new Date(at + zoneOffsetMinutes(timeZone, at) * 60_000);
  return local.toISOString().slice(0, 16);
}

/** "2026-05-01 09:30 Asia/Shanghai": an instant as the zone's clock reads it, named ("—" for none).
 * Scheduled times are shown so, the way they were picked, whatever the browser's zone. */
export function zonedDateTime(iso: string | null | undefined, timeZone: string): string {
  if (!iso) return "—";
  return `${isoToWall(iso, timeZone).replace("T", " ")} ${timeZone}`;
}

/** "Asia/Shanghai (UTC+08:00)": the zone and its offset at that instant. */
export function zoneLabel(timeZone: string, at: number): string {
  const offset = zoneOffsetMinutes(timeZone, at);
  const sign = offset < 0 ? "-" : "+";
  const abs = Math.abs(offset);
  const hh = String(Math.floor(abs / 60)).padStart(2, "0");
  const mm = String(abs % 60).padStart(2, "0");
  return `${timeZone} (UTC${sign}${hh}:${mm})`;
}
