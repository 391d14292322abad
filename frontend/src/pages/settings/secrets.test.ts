import { describe, expect, it } from "vitest";

import { generateCallbackToken, generateEncodingAesKey, isCallbackToken, isEncodingAesKey } from "./secrets";

describe("callback token", () => {
  it("is 32 letters and digits", () => {
    const token = generateCallbackToken();
    expect(token).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(isCallbackToken(token)).toBe(true);
  });

  it("differs each time", () => {
    expect(generateCallbackToken()).not.toBe(generateCallbackToken());
  });

  it("draws again instead of favouring the first characters (bytes ≥ 248 are skipped)", () => {
    let calls = 0;
    const random = (bytes: Uint8Array) => {
      calls += 1;
      bytes.fill(calls === 1 ? 250 : 1); // first draw: all rejected; then "B" (1 % 62)
      return bytes;
    };
    expect(generateCallbackToken(4, random)).toBe("BBBB");
    expect(calls).toBe(2);
  });

  it("rejects what WeCom would not take", () => {
    expect(isCallbackToken("with space")).toBe(false);
    expect(isCallbackToken("a".repeat(33))).toBe(false);
    expect(isCallbackToken("")).toBe(false);
  });
});

describe("EncodingAESKey", () => {
  it("is 43 characters of base64 encoding 32 bytes", () => {
    const key = generateEncodingAesKey();
    expect(key).toHaveLength(43);
    expect(key).toMatch(/^[A-Za-z0-9+/]{43}$/);
    expect(atob(`${key}=`)).toHaveLength(32);
    expect(isEncodingAesKey(key)).toBe(true);
  });

  it("encodes exactly the random bytes", () => {
    const key = generateEncodingAesKey((bytes) => bytes.fill(107)); // "k" * 32, as the wecom tests use
    expect(key).toBe(btoa("k".repeat(32)).replace(/=+$/, ""));
  });

  it("rejects keys of the wrong size or alphabet", () => {
    expect(isEncodingAesKey("abc")).toBe(false);
    expect(isEncodingAesKey(`${"a".repeat(42)}-`)).toBe(false);
  });
});
