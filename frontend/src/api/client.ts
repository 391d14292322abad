// One typed client for the whole dashboard: paths, parameters and bodies come from the OpenAPI
// schema (schema.d.ts, `make api-types`), so a page that drifts from the API fails `tsc`.
import createClient, { type Middleware } from "openapi-fetch";

import type { components, paths } from "./schema";

export type Schemas = components["schemas"];

/** The API's one error shape (DESIGN.md §8). */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors: { path: string | null; code: string; message: string }[];
}

export class ApiError extends Error {
  readonly problem: Problem;
  constructor(problem: Problem) {
    super(problem.detail || problem.title);
    this.problem = problem;
  }
  get status(): number {
    return this.problem.status;
  }
  /** Field path → message, for Form.setFields. */
  fieldErrors(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const e of this.problem.errors) if (e.path) out[e.path] = e.message;
    return out;
  }
}

export function csrfToken(): string {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

/** Called on any 401 outside the auth endpoints: the app sends the user to the login page. */
let onUnauthorized: () => void = () => {};
export function setUnauthorizedHandler(handler: () => void): void {
  onUnauthorized = handler;
}

const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

/** The dashboard's language, so the API's own messages (validation errors) come in it too. */
let language = "zh-CN";
export function setApiLanguage(lang: string): void {
  language = lang;
}

const session: Middleware = {
  onRequest({ request }) {
    request.headers.set("Accept-Language", language);
    if (!SAFE.has(request.method)) request.headers.set("X-CSRFToken", csrfToken());
    return request;
  },
  async onResponse({ request, response }) {
    if (response.ok) return response;
    if (response.status === 401 && !new URL(request.url).pathname.startsWith("/api/v1/auth/")) {
      onUnauthorized();
    }
    let problem: Problem;
    try {
      problem = (await response.clone().json()) as Problem;
    } catch {
      problem = { type: "error", title: response.statusText, status: response.status, detail: "", errors: [] };
    }
    if (!problem.status) problem.status = response.status;
    throw new ApiError(problem);
  },
};

export const client = createClient<paths>({ baseUrl: "", credentials: "same-origin" });
client.use(session);

/** Unwrap an openapi-fetch result: errors were already thrown by the middleware. */
export async function data<T>(promise: Promise<{ data?: T; error?: unknown }>): Promise<T> {
  const result = await promise;
  return result.data as T;
}

/** Paginated list responses (page-number mode, which the dashboard always uses). */
export interface Page<T> {
  next: string | null;
  previous: string | null;
  page?: number;
  page_size?: number;
  results: T[];
}
