// The settings area's server state: query keys, types and small helpers its tabs share.
import type { FormInstance } from "antd";

import { ApiError, type Schemas } from "../../api/client";
import { SYNC_RUNS_KEY } from "../../lib/sync";

export { POLL_MS } from "../../lib/sync";

export type TenantSettings = Schemas["TenantSettings"];
export type ConnectionTest = Schemas["ConnectionTest"];
export type Member = Schemas["Member"];
export type Invitation = Schemas["Invitation"];
export type ApiKey = Schemas["ApiKey"];
export type ApiKeyCreated = Schemas["ApiKeyCreated"];
export type CallbackEvent = Schemas["CallbackEvent"];
export type EventStatus = Schemas["CallbackEventStatusEnum"];
export type Role = Schemas["RoleEnum"];
export type DataScope = Schemas["DataScopeEnum"];
export type DepartmentNode = Schemas["DepartmentNode"];

export const ROLES: Role[] = ["admin", "operator", "sales"];
export const DATA_SCOPES: DataScope[] = ["all", "departments", "self"];
export const EVENT_STATUSES: EventStatus[] = ["pending", "processing", "done", "ignored", "failed", "parked"];
export const REPLAYABLE: EventStatus[] = ["failed", "parked"];
export const PAGE_SIZE = 20;
/** The member form's staff picker: its page size is part of its key (the Customers filter asks for another). */
export const STAFF_OPTIONS_SIZE = 50;

export const keys = {
  tenant: ["settings", "tenant"] as const,
  members: ["settings", "members"] as const,
  memberList: (page: number) => ["settings", "members", page] as const,
  invitations: ["settings", "invitations"] as const,
  departments: ["departments"] as const,
  staff: (search: string) => ["staff", "options", search, { page_size: STAFF_OPTIONS_SIZE }] as const,
  apiKeys: ["settings", "api-keys"] as const,
  apiKeyList: (page: number) => ["settings", "api-keys", page] as const,
  syncRunList: (page: number, kind: string | null) => [...SYNC_RUNS_KEY, "settings", kind ?? "all", page] as const,
  events: ["settings", "events"] as const,
  eventList: (statuses: EventStatus[], page: number) => ["settings", "events", "list", statuses, page] as const,
  event: (id: number) => ["settings", "events", "detail", id] as const,
};

export function departmentIds(member: Member): number[] {
  return Array.isArray(member.department_ids) ? (member.department_ids as number[]) : [];
}

/** Puts the API's field errors on the form's fields; true when every error found its field. */
export function applyFieldErrors(form: FormInstance, error: unknown, fields: readonly string[]): boolean {
  if (!(error instanceof ApiError)) return false;
  const errors = Object.entries(error.fieldErrors());
  if (!errors.length) return false;
  const placed = errors
    .map(([path, message]) => ({ name: path.split(".")[0], message }))
    .filter(({ name }) => fields.includes(name));
  form.setFields(placed.map(({ name, message }) => ({ name, errors: [message] })));
  return placed.length === errors.length;
}
