import i18next from "i18next";
import { beforeAll, describe, expect, it } from "vitest";

import { formatDuration, type Translate } from "./format";
import settings from "./i18n";

const i18n = i18next.createInstance();
const inLang = (lng: "zh" | "en"): Translate => i18n.getFixedT(lng, "settings") as unknown as Translate;

beforeAll(async () => {
  await i18n.init({
    resources: { zh: { settings: settings.zh }, en: { settings: settings.en } },
    lng: "en",
    interpolation: { escapeValue: false },
  });
});

describe("formatDuration", () => {
  const start = "2025-01-01T10:00:00Z";
  it("is null without a start", () => {
    expect(formatDuration(inLang("en"), null, null)).toBeNull();
  });
  it("reads seconds, minutes and hours", () => {
    const t = inLang("en");
    expect(formatDuration(t, start, "2025-01-01T10:00:12Z")).toBe("12s");
    expect(formatDuration(t, start, "2025-01-01T10:03:05Z")).toBe("3m 05s");
    expect(formatDuration(t, start, "2025-01-01T11:02:30Z")).toBe("1h 02m");
  });
  it("speaks Chinese in the zh UI", () => {
    const t = inLang("zh");
    expect(formatDuration(t, start, "2025-01-01T10:00:12Z")).toBe("12 秒");
    expect(formatDuration(t, start, "2025-01-01T10:03:05Z")).toBe("3 分钟 5 秒");
    expect(formatDuration(t, start, "2025-01-01T11:02:30Z")).toBe("1 小时 2 分钟");
  });
  it("counts a running run up to now", () => {
    expect(formatDuration(inLang("en"), start, null, Date.parse("2025-01-01T10:00:40Z"))).toBe("40s");
  });
});
