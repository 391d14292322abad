// Every string the library's page, forms and picker ask for exists in both languages.
import { describe, expect, it } from "vitest";

import strings from "./i18n";

const sources = {
  ...import.meta.glob<string>("./*.tsx", { query: "?raw", import: "default", eager: true }),
  ...import.meta.glob<string>("../../components/Material*.tsx", { query: "?raw", import: "default", eager: true }),
};

function lookup(bundle: object, key: string): unknown {
  return key.split(".").reduce<unknown>((node, part) => (node && typeof node === "object" ? (node as Record<string, unknown>)[part] : undefined), bundle);
}

function usedKeys(): { key: string; prefix: boolean }[] {
  const out: { key: string; prefix: boolean }[] = [];
  for (const source of Object.values(sources)) {
    for (const match of source.matchAll(/\bt\((["`])([A-Za-z0-9_.:]+)(\$\{)?/g)) {
      const key = match[2];
      if (key.includes(":")) continue; // another namespace (common:…)
      out.push({ key: match[3] ? key.replace(/\.$/, "") : key, prefix: Boolean(match[3]) });
    }
  }
  return out;
}

describe("library strings", () => {
  const used = usedKeys();

  it("finds the calls", () => {
    expect(used.length).toBeGreaterThan(40);
  });

  it.each(["zh", "en"] as const)("has every key in %s", (lang) => {
    const missing = used.filter(({ key, prefix }) => {
      const value = lookup(strings[lang], key);
      return prefix ? typeof value !== "object" : typeof value !== "string";
    });
    expect(missing).toEqual([]);
  });
});
