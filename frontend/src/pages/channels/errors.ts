// The API names the wrong field with a dotted path (`welcome.attachments.2.url`, `schedule.0.end`);
// these put each message on the form field it is about, or, when no field shows it, above the form.
import type { Problem } from "../../api/client";

export type NamePath = (string | number)[];

/** `welcome.attachments.2.url` → ["welcome", "attachments", 2, "url"] (list indexes as numbers, as
 * Ant Design's Form.List names them). */
export function toNamePath(path: string): NamePath {
  return path.split(".").map((part) => (/^\d+$/.test(part) ? Number(part) : part));
}

export function pathKey(name: NamePath): string {
  return name.join(".");
}

export interface PlacedErrors {
  fields: { name: NamePath; errors: string[] }[];
  /** Messages no field on the form shows (about the whole request, or a field not on this form). */
  general: string[];
}

/**
 * Each error goes to its field when the form has it; otherwise to the nearest field above it that
 * the form has (`welcome.attachments.3` → the attachments list), else to the general messages.
 * `known` holds the form's field paths as `pathKey`s.
 */
export function placeErrors(errors: Problem["errors"], known: Set<string>): PlacedErrors {
  const byField = new Map<string, { name: NamePath; errors: string[] }>();
  const general: string[] = [];
  for (const error of errors) {
    if (!error.path) {
      general.push(error.message);
      continue;
    }
    let name = toNamePath(error.path);
    while (name.length && !known.has(pathKey(name))) name = name.slice(0, -1);
    if (!name.length) {
      // Say which field it is about: the form has no place for it.
      general.push(`${error.path}: ${error.message}`);
      continue;
    }
    const key = pathKey(name);
    const entry = byField.get(key) ?? { name, errors: [] };
    if (!entry.errors.includes(error.message)) entry.errors.push(error.message);
    byField.set(key, entry);
  }
  return { fields: [...byField.values()], general };
}

/** Whether any placed error is in one of these top-level sections (to open a collapsed panel). */
export function touches(placed: PlacedErrors, sections: string[]): boolean {
  return placed.fields.some((field) => sections.includes(String(field.name[0])));
}
