// Welcome messages on the client: the placeholders filled in for the preview, the byte budget WeCom
// imposes, inserting a placeholder where the cursor is, and the shape sent to the API (the text, and
// attachments that are materials of the content library, by id).
import type { Schemas } from "../../api/client";

/** A stored attachment: a material of the library. */
export type Attachment = Schemas["MaterialRef"];
export type WelcomeRequest = Schemas["WelcomeMessageRequest"];

/** A welcome as the form holds it (every part optional while it is being written). */
export interface WelcomeValue {
  text?: string;
  attachments?: Attachment[];
}

export const PLACEHOLDERS = ["customer_name", "staff_name"] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];
export type SampleNames = Record<Placeholder, string>;

// The API's limits (contacts/services/welcome.py), checked here so the counter is honest.
export const TEXT_MAX_BYTES = 4000;
/** A placeholder is counted at its longest: a name of 64 CJK characters. */
export const PLACEHOLDER_WORST_BYTES = 64 * 3;
export { MAX_ATTACHMENTS } from "../library/materials";

const PLACEHOLDER_RE = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

export interface Segment {
  text: string;
  /** Set when this piece stands for a placeholder (filled with a sample name). */
  placeholder?: Placeholder;
  /** A `{word}` the API does not know: shown as typed, and the API will refuse it. */
  unknown?: boolean;
}

function isPlaceholder(name: string): name is Placeholder {
  return (PLACEHOLDERS as readonly string[]).includes(name);
}

/** The text as the customer reads it, in pieces, so the preview can mark what was filled in. */
export function renderText(text: string, names: SampleNames): Segment[] {
  const out: Segment[] = [];
  let last = 0;
  for (const match of text.matchAll(PLACEHOLDER_RE)) {
    const at = match.index ?? 0;
    if (at > last) out.push({ text: text.slice(last, at) });
    const name = match[1];
    if (isPlaceholder(name)) out.push({ text: names[name], placeholder: name });
    else out.push({ text: match[0], unknown: true });
    last = at + match[0].length;
  }
  if (last < text.length) out.push({ text: text.slice(last) });
  // Neighbouring plain pieces merge, so the preview renders as few nodes as possible.
  return out.reduce<Segment[]>((merged, piece) => {
    const previous = merged[merged.length - 1];
    if (previous && !previous.placeholder && !previous.unknown && !piece.placeholder && !piece.unknown) {
      previous.text += piece.text;
    } else {
      merged.push({ ...piece });
    }
    return merged;
  }, []);
}

/** The placeholders in a text the API would refuse. */
export function unknownPlaceholders(text: string): string[] {
  const found = [...text.matchAll(PLACEHOLDER_RE)].map((m) => m[1]).filter((name) => !isPlaceholder(name));
  return [...new Set(found)];
}

const encoder = new TextEncoder();

/** UTF-8 bytes of the text at its longest (as the API counts it: placeholders at their worst). */
export function textBytes(text: string): number {
  const trimmed = text.trim();
  const placeholders = [...trimmed.matchAll(PLACEHOLDER_RE)].length;
  return encoder.encode(trimmed.replace(PLACEHOLDER_RE, "")).length + placeholders * PLACEHOLDER_WORST_BYTES;
}

/** Put `{name}` in place of the selection [start, end) and say where the cursor goes after it. */
export function insertPlaceholder(
  text: string,
  start: number,
  end: number,
  name: Placeholder,
): { text: string; caret: number } {
  const from = Math.max(0, Math.min(start, text.length));
  const to = Math.max(from, Math.min(end, text.length));
  const token = `{${name}}`;
  return { text: text.slice(0, from) + token + text.slice(to), caret: from + token.length };
}

/** No text and no attachment: the customer gets the default welcome instead (or none). */
export function isEmptyWelcome(welcome: WelcomeValue | null | undefined): boolean {
  return !welcome || (!(welcome.text ?? "").trim() && !(welcome.attachments ?? []).length);
}

/** The material ids a welcome attaches, in order. */
export function attachmentIds(welcome: WelcomeValue | null | undefined): number[] {
  return (welcome?.attachments ?? []).map((a) => a.material_id).filter((id): id is number => typeof id === "number");
}

/** What the API is sent: the text as typed and each attachment's material id only; an empty welcome is `{}`. */
export function welcomeForSubmit(welcome: WelcomeValue | null | undefined): WelcomeRequest {
  if (isEmptyWelcome(welcome)) return {};
  return { text: welcome?.text ?? "", attachments: (welcome?.attachments ?? []).map((a) => ({ material_id: a.material_id })) };
}

/** The form's starting value for a stored welcome (`{}` included). */
export function welcomeForForm(welcome: Schemas["WelcomeMessage"] | null | undefined): Required<WelcomeValue> {
  return { text: welcome?.text ?? "", attachments: (welcome?.attachments ?? []).map((a) => ({ material_id: a.material_id })) };
}

/** The host a link card shows under its title (WeChat shows the site, never the whole URL). */
export function linkHost(url: string | undefined): string {
  if (!url) return "";
  try {
    return new URL(url).host;
  } catch {
    return "";
  }
}
