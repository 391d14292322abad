// Group welcome templates (入群欢迎语) on the client: `%NICKNAME%` inserted where the cursor is and
// filled with a sample nickname for the preview, the one optional attachment (image, link or mini
// program) as the form holds it and as the API takes it, and the preview's attachment shape.
import type { AttachmentDraft as PreviewAttachment } from "../channels/welcome";

/** WeCom replaces it with the new member's nickname. */
export const NICKNAME = "%NICKNAME%";
/** WeCom's text limit (bytes, UTF-8). */
export const TEXT_MAX_BYTES = 4000;

export type AttachmentType = "image" | "link" | "miniprogram";
export const ATTACHMENT_TYPES: AttachmentType[] = ["image", "link", "miniprogram"];

/** The attachment as the form holds it: `msgtype` and that type's fields. */
export interface AttachmentValue {
  msgtype?: AttachmentType;
  /** image: the picture; miniprogram: the cover (an uploaded image's id, POST /media/). */
  media_asset_id?: number | null;
  title?: string;
  url?: string;
  description?: string;
  picture_url?: string;
  appid?: string;
  page?: string;
}

export interface TemplateValues {
  name: string;
  text: string;
  /** null: no attachment. */
  attachment: AttachmentValue | null;
}

const FIELDS: Record<AttachmentType, (keyof AttachmentValue)[]> = {
  image: ["media_asset_id"],
  link: ["title", "url", "description", "picture_url"],
  miniprogram: ["title", "appid", "page", "media_asset_id"],
};

export function newAttachment(type: AttachmentType): AttachmentValue {
  switch (type) {
    case "image":
      return { msgtype: type, media_asset_id: null };
    case "link":
      return { msgtype: type, title: "", url: "", description: "", picture_url: "" };
    case "miniprogram":
      return { msgtype: type, title: "", appid: "", page: "", media_asset_id: null };
  }
}

function isType(value: unknown): value is AttachmentType {
  return ATTACHMENT_TYPES.includes(value as AttachmentType);
}

/** A stored attachment (`{}` when there is none) as the form's value. */
export function attachmentForForm(stored: unknown): AttachmentValue | null {
  if (!stored || typeof stored !== "object") return null;
  const raw = stored as Record<string, unknown>;
  if (!isType(raw.msgtype)) return null;
  const out: AttachmentValue = newAttachment(raw.msgtype);
  for (const field of FIELDS[raw.msgtype]) {
    const value = raw[field];
    if (value !== undefined && value !== null) (out as Record<string, unknown>)[field] = value;
  }
  return out;
}

/** What the API is sent: the type's own fields only (as typed: the API trims and checks), or `{}`. */
export function attachmentForSubmit(value: AttachmentValue | null | undefined): Record<string, unknown> {
  if (!value || !isType(value.msgtype)) return {};
  const out: Record<string, unknown> = { msgtype: value.msgtype };
  for (const field of FIELDS[value.msgtype]) {
    const v = value[field];
    if (v !== undefined && v !== null && v !== "") out[field] = v;
  }
  return out;
}

export function templateForForm(template: { name: string; text: string; attachment: unknown } | undefined): TemplateValues {
  return { name: template?.name ?? "", text: template?.text ?? "", attachment: attachmentForForm(template?.attachment) };
}

export function templateForSubmit(values: TemplateValues): { name: string; text: string; attachment: Record<string, unknown> } {
  return { name: (values.name ?? "").trim(), text: values.text ?? "", attachment: attachmentForSubmit(values.attachment) };
}

/** `%NICKNAME%` in place of the selection [start, end), and where the cursor goes after it. */
export function insertNickname(text: string, start: number, end: number): { text: string; caret: number } {
  const from = Math.max(0, Math.min(start, text.length));
  const to = Math.max(from, Math.min(end, text.length));
  return { text: text.slice(0, from) + NICKNAME + text.slice(to), caret: from + NICKNAME.length };
}

export interface Piece {
  text: string;
  /** This piece stands for the new member's nickname. */
  nickname?: boolean;
}

/** The text as the new member reads it, in pieces, so the preview can mark the nickname. */
export function renderNickname(text: string, nickname: string): Piece[] {
  const parts = text.split(NICKNAME);
  const out: Piece[] = [];
  parts.forEach((part, i) => {
    if (i > 0) out.push({ text: nickname, nickname: true });
    if (part) out.push({ text: part });
  });
  return out;
}

const encoder = new TextEncoder();

export function textBytes(text: string): number {
  return encoder.encode(text.trim()).length;
}

/** Neither text nor attachment: WeCom refuses an empty template. */
export function isEmptyTemplate(values: Pick<TemplateValues, "text" | "attachment">): boolean {
  return !(values.text ?? "").trim() && !values.attachment;
}

/** The attachment in the shape of the channel welcome's preview bubbles (which draw it). */
export function previewAttachment(value: AttachmentValue | null | undefined): PreviewAttachment | null {
  if (!value || !isType(value.msgtype)) return null;
  switch (value.msgtype) {
    case "image":
      return { type: "image", media: value.media_asset_id ?? undefined };
    case "link":
      return { type: "link", title: value.title, url: value.url, description: value.description, picture_url: value.picture_url };
    case "miniprogram":
      return { type: "miniprogram", title: value.title, appid: value.appid, page: value.page, media: value.media_asset_id ?? undefined };
  }
}
