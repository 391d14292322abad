// Group welcome templates (入群欢迎语) on the client: `%NICKNAME%` inserted where the cursor is and
// filled with a sample nickname for the preview, and the one optional attachment — a material of the
// content library — as the form holds it and as the API takes it.

/** WeCom replaces it with the new member's nickname. */
export const NICKNAME = "%NICKNAME%";
/** WeCom's text limit (bytes, UTF-8). */
export const TEXT_MAX_BYTES = 4000;

/** The attachment as the form holds it: a material of the library, or null for none. */
export type AttachmentValue = { material_id: number } | null;

export interface TemplateValues {
  name: string;
  text: string;
  attachment: AttachmentValue;
}

/** A stored attachment (`{}` when there is none) as the form's value. */
export function attachmentForForm(stored: unknown): AttachmentValue {
  const id = stored && typeof stored === "object" ? (stored as { material_id?: unknown }).material_id : undefined;
  return typeof id === "number" ? { material_id: id } : null;
}

/** What the API is sent: the material's id, or `{}` for none. */
export function attachmentForSubmit(value: AttachmentValue | undefined): { material_id?: number } {
  return value ? { material_id: value.material_id } : {};
}

export function templateForForm(template: { name: string; text: string; attachment: unknown } | undefined): TemplateValues {
  return { name: template?.name ?? "", text: template?.text ?? "", attachment: attachmentForForm(template?.attachment) };
}

export function templateForSubmit(values: TemplateValues): { name: string; text: string; attachment: { material_id?: number } } {
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
