// Callback secrets generated in the browser, so they never travel before the admin saves them.
// WeCom's rules (checked by the API too): the token is up to 32 letters and digits; the
// EncodingAESKey is 43 characters of base64, a 32-byte AES key without its "=" padding.

const ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

export type RandomBytes = (bytes: Uint8Array) => Uint8Array;

const cryptoRandom: RandomBytes = (bytes) => crypto.getRandomValues(bytes);

/** `length` letters and digits, uniformly chosen (bytes ≥ 248 are drawn again: no modulo bias). */
export function generateCallbackToken(length = 32, random: RandomBytes = cryptoRandom): string {
  const limit = 256 - (256 % ALPHANUMERIC.length); // 248
  let out = "";
  while (out.length < length) {
    for (const byte of random(new Uint8Array(length * 2))) {
      if (byte < limit && out.length < length) out += ALPHANUMERIC[byte % ALPHANUMERIC.length];
    }
  }
  return out;
}

/** 32 random bytes as base64 without padding: 43 characters. */
export function generateEncodingAesKey(random: RandomBytes = cryptoRandom): string {
  const bytes = random(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes)).replace(/=+$/, "");
}

export function isCallbackToken(value: string): boolean {
  return /^[A-Za-z0-9]{1,32}$/.test(value);
}

export function isEncodingAesKey(value: string): boolean {
  if (!/^[A-Za-z0-9+/]{43}$/.test(value)) return false;
  try {
    return atob(`${value}=`).length === 32;
  } catch {
    return false;
  }
}
