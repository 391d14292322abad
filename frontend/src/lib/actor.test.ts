import i18n from "i18next";
import { describe, expect, it } from "vitest";

import common from "../locales/common";
import { actorName } from "./actor";

await i18n.init({ lng: "en", resources: { en: { common: common.en } } });

describe("actorName", () => {
  it("names a member by username and says a key is a key", () => {
    expect(actorName({ type: "member", id: 7, name: "alice" }, i18n.t)).toBe("alice");
    expect(actorName({ type: "api_key", id: 3, name: "CRM sync" }, i18n.t)).toBe("API key CRM sync");
  });

  it("has no name for nobody (a sync, WeCom, a deleted account)", () => {
    expect(actorName(null, i18n.t)).toBeNull();
  });
});
