// Moments (朋友圈) in rules and shapes: the text's 2,000-character budget, where WeChat folds a post's
// text (全文/收起), how it lays out the pictures (one large, four in 2×2, else three a row), WeCom's
// attachment rule (≤ 9 images, or 1 video, or 1 link, never mixed), percentages, and the calendar's
// month grid with each day's posts. Pure functions (Vitest).

/** WeCom's limit on a Moment's text (add_moment_task), in characters. */
export const TEXT_MAX = 2000;
/** WeChat shows this many lines of a post's text, then 全文 (read all). */
export const FOLD_LINES = 6;
/** Wide characters a line of the preview holds (a narrow one, Latin or a digit, takes half). */
export const LINE_WIDTH = 18;
export const MAX_IMAGES = 9;

export const MOMENT_KINDS = ["image", "video", "link"] as const;
export type MomentKind = (typeof MOMENT_KINDS)[number];

export interface CharCount {
  chars: number;
  max: number;
  /** Characters still free (negative when over). */
  left: number;
  over: boolean;
  /** Within the last tenth of the budget: the counter warns before the API refuses. */
  near: boolean;
}

/** The text's length as the API counts it: characters (code points, so an emoji is one) of the
 * trimmed text. */
export function textLength(text: string | null | undefined): number {
  return Array.from((text ?? "").trim()).length;
}

export function charCount(text: string | null | undefined, max = TEXT_MAX): CharCount {
  const chars = textLength(text);
  return { chars, max, left: max - chars, over: chars > max, near: chars <= max && chars > max * 0.9 };
}

/** A character's width on a line: CJK, full-width forms and emoji take a whole cell, the rest half. */
function width(char: string): number {
  const code = char.codePointAt(0) ?? 0;
  return code >= 0x2e80 ? 1 : 0.5;
}

/** The lines a text takes in the preview's column: each paragraph wraps every `lineWidth` cells. */
export function visualLines(text: string | null | undefined, lineWidth = LINE_WIDTH): number {
  const trimmed = (text ?? "").trim();
  if (!trimmed) return 0;
  return trimmed.split("\n").reduce((lines, paragraph) => {
    const cells = Array.from(paragraph).reduce((sum, char) => sum + width(char), 0);
    return lines + Math.max(1, Math.ceil(cells / lineWidth));
  }, 0);
}

/** Whether WeChat folds the text (shows six lines and 全文). */
export function folds(text: string | null | undefined, lineWidth = LINE_WIDTH): boolean {
  return visualLines(text, lineWidth) > FOLD_LINES;
}

export interface ImageGrid {
  columns: number;
  rows: number;
  /** One picture: shown large, in its own proportions, not in a square cell. */
  single: boolean;
}

/** How WeChat lays out a post's pictures: one large; four in 2×2; otherwise rows of three. */
export function imageGrid(count: number): ImageGrid | null {
  const n = Math.min(Math.max(0, Math.floor(count)), MAX_IMAGES);
  if (n === 0) return null;
  if (n === 1) return { columns: 1, rows: 1, single: true };
  if (n === 4) return { columns: 2, rows: 2, single: false };
  return { columns: 3, rows: Math.ceil(n / 3), single: false };
}

export type AttachmentProblem = "kind" | "mixed" | "tooManyImages" | "oneVideo" | "oneLink";

/** What is wrong with a set of attachments under WeCom's rule (null: nothing). */
export function attachmentProblem(kinds: readonly string[]): AttachmentProblem | null {
  if (kinds.some((kind) => !(MOMENT_KINDS as readonly string[]).includes(kind))) return "kind";
  const distinct = new Set(kinds);
  if (distinct.size > 1) return "mixed";
  const count = kinds.length;
  if (distinct.has("image") && count > MAX_IMAGES) return "tooManyImages";
  if (distinct.has("video") && count > 1) return "oneVideo";
  if (distinct.has("link") && count > 1) return "oneLink";
  return null;
}

/** What may still be added to these attachments, kind by kind, and how many: nothing yet → images
 * (up to 9), a video or a link; images → more images; a video or a link → nothing. */
export function addable(kinds: readonly string[]): { kind: MomentKind; max: number }[] {
  if (kinds.length === 0) {
    return [
      { kind: "image", max: MAX_IMAGES },
      { kind: "video", max: 1 },
      { kind: "link", max: 1 },
    ];
  }
  if (kinds.every((kind) => kind === "image") && kinds.length < MAX_IMAGES) return [{ kind: "image", max: MAX_IMAGES - kinds.length }];
  return [];
}

/** A share in percent with one decimal (0 when there is nothing to share). */
export function percent(part: number, whole: number): number {
  if (!whole) return 0;
  return Math.round((Math.min(part, whole) * 1000) / whole) / 10;
}

/** A rate the API gives from 0 to 1 as a percentage with at most one decimal ("50%", "66.7%"); "—"
 * when there is none (nobody was asked, nobody can see it). */
export function ratePercent(rate: number | null | undefined): string {
  if (rate === null || rate === undefined || !Number.isFinite(rate)) return "—";
  return `${Math.round(rate * 1000) / 10}%`;
}

// -- the calendar ---------------------------------------------------------------------------------
// Days travel as YYYY-MM-DD in the tenant's zone (the API groups by it): the grid is plain date
// arithmetic on those strings, whatever the browser's zone.

const DAY_MS = 86_400_000;
const DAY_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const MONTH_RE = /^(\d{4})-(\d{2})$/;

function dayNumber(day: string): number {
  const m = DAY_RE.exec(day);
  if (!m) throw new Error(`not a day: ${day}`);
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) / DAY_MS;
}

function dayString(n: number): string {
  return new Date(n * DAY_MS).toISOString().slice(0, 10);
}

/** A YYYY-MM month, or null when malformed. */
export function parseMonth(raw: string | null | undefined): string | null {
  const m = MONTH_RE.exec((raw ?? "").trim());
  if (!m) return null;
  const month = Number(m[2]);
  return month >= 1 && month <= 12 ? `${m[1]}-${m[2]}` : null;
}

/** The month before or after (delta months away). */
export function shiftMonth(month: string, delta: number): string {
  const m = MONTH_RE.exec(month);
  if (!m) throw new Error(`not a month: ${month}`);
  const index = Number(m[1]) * 12 + Number(m[2]) - 1 + delta;
  return `${String(Math.floor(index / 12)).padStart(4, "0")}-${String((index % 12) + 1).padStart(2, "0")}`;
}

/** The weeks (Monday first) that show a month: every day as YYYY-MM-DD, the neighbours' days that
 * fill the first and the last week included. */
export function monthWeeks(month: string): string[][] {
  const first = dayNumber(`${month}-01`);
  const last = dayNumber(`${shiftMonth(month, 1)}-01`) - 1;
  // 1970-01-01 (day 0) was a Thursday: Monday is (day + 3) % 7 === 0.
  const start = first - ((first + 3) % 7);
  const end = last + (6 - ((last + 3) % 7));
  const weeks: string[][] = [];
  for (let day = start; day <= end; day += 7) {
    weeks.push(Array.from({ length: 7 }, (_, i) => dayString(day + i)));
  }
  return weeks;
}

/** The days the month's grid covers: what the calendar asks the API for (≤ 42 days). */
export function monthRange(month: string): { from: string; to: string } {
  const weeks = monthWeeks(month);
  return { from: weeks[0][0], to: weeks[weeks.length - 1][6] };
}

/** Posts by day, each day's in time order (an item without a time last). */
export function groupByDay<T extends { date: string; at?: string | null }>(items: readonly T[]): Map<string, T[]> {
  const days = new Map<string, T[]>();
  for (const item of items) {
    const list = days.get(item.date);
    if (list) list.push(item);
    else days.set(item.date, [item]);
  }
  const time = (at: string | null | undefined) => {
    const ms = at ? Date.parse(at) : Number.NaN;
    return Number.isNaN(ms) ? Number.POSITIVE_INFINITY : ms;
  };
  for (const list of days.values()) list.sort((a, b) => time(a.at) - time(b.at));
  return days;
}
