import { describe, expect, it } from "vitest";

import { loginPath, safeNext, selectedKey } from "./paths";

describe("safeNext", () => {
  it("keeps a same-site path with its query", () => {
    expect(safeNext("/customers?tags_all=3,4")).toBe("/customers?tags_all=3,4");
  });
  it.each([null, "", "https://evil.example/", "//evil.example/", "/\\evil.example", "/login?next=/x"])(
    "sends %s home",
    (next) => {
      expect(safeNext(next)).toBe("/");
    },
  );
});

describe("loginPath", () => {
  it("remembers where the user was", () => {
    expect(loginPath({ pathname: "/customers", search: "?status=lost" })).toBe(
      "/login?next=%2Fcustomers%3Fstatus%3Dlost",
    );
  });
  it("has nothing to remember on the home page", () => {
    expect(loginPath({ pathname: "/", search: "" })).toBe("/login");
  });
});

describe("selectedKey", () => {
  const keys = ["/", "/customers", "/customers/lost", "/settings"];
  it("prefers the most specific entry", () => {
    expect(selectedKey("/customers/lost", keys)).toBe("/customers/lost");
    expect(selectedKey("/customers", keys)).toBe("/customers");
    expect(selectedKey("/settings/api-keys", keys)).toBe("/settings");
  });
  it("does not match a sibling that shares a prefix", () => {
    expect(selectedKey("/customersx", keys)).toBe("/");
  });
});
