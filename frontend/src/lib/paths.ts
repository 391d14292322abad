// Pure helpers about app paths (unit-tested with Vitest).

/** Where to send someone back to after logging in: only same-site paths, never the login page. */
export function safeNext(next: string | null): string {
  if (!next || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/\\") || next.startsWith("/login")) {
    return "/";
  }
  return next;
}

/** The login page, remembering the page to return to. */
export function loginPath(location: { pathname: string; search: string }): string {
  const here = location.pathname + location.search;
  return here === "/" || here.startsWith("/login") ? "/login" : `/login?next=${encodeURIComponent(here)}`;
}

/** The menu entry a path belongs to: the longest key that is the path or a parent of it. */
export function selectedKey(pathname: string, keys: string[]): string {
  const matches = keys.filter((k) => (k === "/" ? pathname === "/" : pathname === k || pathname.startsWith(`${k}/`)));
  return matches.sort((a, b) => b.length - a.length)[0] ?? "/";
}
