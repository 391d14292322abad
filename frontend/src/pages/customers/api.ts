// The customers page's server state: query keys and the queries its parts share.
import { keepPreviousData, useQuery } from "@tanstack/react-query";

import { client, data, type Schemas } from "../../api/client";
import { type ListState, contactsQuery } from "./filters";

export type ContactRow = Schemas["ContactRow"];
export type ContactDetail = Schemas["ContactDetail"];
export type TagGroup = Schemas["TagGroup"];
export type Job = Schemas["Job"];
export type Segment = Schemas["Segment"];
export type Stage = Schemas["Stage"];
export type Staff = Schemas["Staff"];
export type DepartmentNode = Schemas["DepartmentNode"];

const STAFF_PAGE = 200;

export const keys = {
  contacts: ["contacts"] as const,
  list: (state: ListState) => ["contacts", "list", contactsQuery(state)] as const,
  detail: (id: number) => ["contacts", "detail", id] as const,
  notes: (id: number, page: number) => ["contacts", "detail", id, "notes", page] as const,
  timeline: (id: number, page: number) => ["contacts", "detail", id, "timeline", page] as const,
  tagGroups: ["tag-groups"] as const,
  stages: ["stages"] as const,
  departments: ["departments"] as const,
  // The page size is part of the key: another page asks for the same staff with another size.
  staff: (search: string) => ["staff", "options", search, STAFF_PAGE] as const,
  segments: ["segments"] as const,
  job: (id: number) => ["jobs", id] as const,
};

export function useContacts(state: ListState) {
  return useQuery({
    queryKey: keys.list(state),
    queryFn: () => data(client.GET("/api/v1/contacts/", { params: { query: contactsQuery(state) } })),
    placeholderData: keepPreviousData,
  });
}

export function useTagGroups() {
  return useQuery({
    queryKey: keys.tagGroups,
    queryFn: () => data(client.GET("/api/v1/tag-groups/")),
    staleTime: 60_000,
  });
}

export function useStages() {
  return useQuery({
    queryKey: keys.stages,
    queryFn: () => data(client.GET("/api/v1/stages/")),
    staleTime: 60_000,
  });
}

export function useDepartments() {
  return useQuery({
    queryKey: keys.departments,
    queryFn: () => data(client.GET("/api/v1/departments/")),
    staleTime: 5 * 60_000,
  });
}

/** Staff for a picker: the first STAFF_PAGE by name, or those matching what was typed. */
export function useStaffOptions(search: string) {
  return useQuery({
    queryKey: keys.staff(search),
    queryFn: () =>
      data(client.GET("/api/v1/staff/", { params: { query: { page_size: STAFF_PAGE, search: search || undefined } } })),
    staleTime: 60_000,
    placeholderData: keepPreviousData,
  });
}

export function useSegments() {
  return useQuery({
    queryKey: keys.segments,
    queryFn: () => data(client.GET("/api/v1/segments/", { params: { query: { page_size: 200 } } })),
  });
}

/** A new key per user action: a retried or double-clicked POST starts the job once. */
export function idempotencyKey(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  // randomUUID exists only in secure contexts (https, localhost); a plain-http deployment still
  // gets a random v4 UUID.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
