// Every string the Moments pages (and the customer page's Moments card) ask for exists in both
// languages (a missing key would show its name).
import { describe, expect, it } from "vitest";

import strings from "./i18n";

// The components as text (Vite reads them; no Node APIs needed).
const sources = import.meta.glob<string>(["./*.tsx", "../customers/MomentsEngagement.tsx"], { query: "?raw", import: "default", eager: true });

function lookup(bundle: object, key: string): unknown {
  return key.split(".").reduce<unknown>((node, part) => (node && typeof node === "object" ? (node as Record<string, unknown>)[part] : undefined), bundle);
}

/** A plain string, or a plural (`key_one` / `key_other`). */
function hasString(bundle: object, key: string): boolean {
  return typeof lookup(bundle, key) === "string" || typeof lookup(bundle, `${key}_other`) === "string";
}

/** The literal keys of the `t("…")` calls (template keys are checked by their prefix). */
function usedKeys(): { file: string; key: string; prefix: boolean }[] {
  const out: { file: string; key: string; prefix: boolean }[] = [];
  for (const [file, source] of Object.entries(sources)) {
    for (const match of source.matchAll(/\bt\((["`])([A-Za-z0-9_.:]+)(\$\{)?/g)) {
      const key = match[2];
      if (key.includes(":")) continue; // another namespace (common:…)
      out.push({ file, key: match[3] ? key.replace(/\.$/, "") : key, prefix: Boolean(match[3]) });
    }
  }
  return out;
}

describe("Moments page strings", () => {
  const used = usedKeys();

  it("finds the calls", () => {
    expect(used.length).toBeGreaterThan(150);
    expect(used.some((u) => u.file.endsWith("MomentsEngagement.tsx"))).toBe(true);
  });

  it.each(["zh", "en"] as const)("has every key in %s", (lang) => {
    const missing = used.filter(({ key, prefix }) => (prefix ? typeof lookup(strings[lang], key) !== "object" : !hasString(strings[lang], key)));
    expect(missing).toEqual([]);
  });

  it("labels every status, kind and attachment problem, in both languages", () => {
    for (const lang of ["zh", "en"] as const) {
      const s = strings[lang];
      for (const status of ["draft", "scheduled", "submitting", "publishing", "cancelled", "failed"]) expect(s.status).toHaveProperty(status);
      for (const kind of ["scheduled", "submitting", "corp", "member"]) expect(s.calendar.kind).toHaveProperty(kind);
      for (const problem of ["kind", "mixed", "tooManyImages", "oneVideo", "oneLink"]) expect(s.compose.problem).toHaveProperty(problem);
      for (const kind of ["image", "video", "link"]) {
        expect(s.compose.add).toHaveProperty(kind);
        expect(s.compose.pick).toHaveProperty(kind);
      }
    }
  });
});
