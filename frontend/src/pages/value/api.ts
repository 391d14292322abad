// The value pages' server state: query keys, the reads, and the writes.
import { useQuery } from "@tanstack/react-query";

import { client, data, type Schemas } from "../../api/client";
import type { BreakdownBy, ProfileField, ProfileFieldInput, ValueSettings, ValueSettingsChange } from "./types";

export const keys = {
  all: ["value"] as const,
  tiers: ["value", "tiers"] as const,
  breakdown: (by: BreakdownBy) => ["value", "breakdown", by] as const,
  settings: ["value", "settings"] as const,
  fields: (includeArchived: boolean) => ["value", "fields", includeArchived] as const,
  allFields: ["value", "fields"] as const,
  rules: ["value", "rules"] as const,
  levels: ["value", "levels"] as const,
};

// The profile fields' routes are typed loosely until they are in the OpenAPI schema (`make api-types`).
type Loose = Record<"GET" | "POST" | "PATCH" | "DELETE", (path: string, init?: object) => Promise<{ data?: unknown; error?: unknown }>>;
const loose = client as unknown as Loose;

const path = (id: number) => ({ params: { path: { id: String(id) } } });

/** A list the API may page: the rows either way (these lists are short: one page holds them). */
function rows<T>(body: T[] | { results: T[] }): T[] {
  return Array.isArray(body) ? body : body.results;
}

export const api = {
  tiers: () => data(client.GET("/api/v1/value/tiers/")),
  breakdown: (by: BreakdownBy) => data(client.GET("/api/v1/value/breakdown/", { params: { query: { by } } })),
  recompute: () => data(client.POST("/api/v1/value/recompute/")),
  // Every threshold is in a read (the schema marks them optional for the writes).
  settings: () => data(client.GET("/api/v1/value/settings/")) as Promise<ValueSettings>,
  saveSettings: (body: ValueSettingsChange) => data(client.PATCH("/api/v1/value/settings/", { body })) as Promise<ValueSettings>,

  fields: async (includeArchived: boolean) =>
    rows(
      (await data(
        loose.GET("/api/v1/profile-fields/", { params: { query: { page_size: 200, ...(includeArchived ? { include_archived: true } : {}) } } }),
      )) as ProfileField[] | { results: ProfileField[] },
    ),
  createField: (body: ProfileFieldInput) => data(loose.POST("/api/v1/profile-fields/", { body })) as Promise<ProfileField>,
  updateField: (id: number, body: Partial<ProfileFieldInput> & { archived?: boolean }) =>
    data(loose.PATCH("/api/v1/profile-fields/{id}/", { ...path(id), body })) as Promise<ProfileField>,
  archiveField: (id: number) => data(loose.DELETE("/api/v1/profile-fields/{id}/", path(id))),

  rules: () => data(client.GET("/api/v1/points/rules/")),
  createRule: (body: Schemas["PointsRuleRequest"]) => data(client.POST("/api/v1/points/rules/", { body })),
  updateRule: (id: number, body: Schemas["PatchedPointsRuleUpdateRequest"]) => data(client.PATCH("/api/v1/points/rules/{id}/", { ...path(id), body })),
  deleteRule: (id: number) => data(client.DELETE("/api/v1/points/rules/{id}/", path(id))),

  levels: () => data(client.GET("/api/v1/levels/")),
  createLevel: (body: Schemas["LevelRequest"]) => data(client.POST("/api/v1/levels/", { body })),
  updateLevel: (id: number, body: Schemas["PatchedLevelUpdateRequest"]) => data(client.PATCH("/api/v1/levels/{id}/", { ...path(id), body })),
  deleteLevel: (id: number) => data(client.DELETE("/api/v1/levels/{id}/", path(id))),
};

export function useTiers() {
  return useQuery({ queryKey: keys.tiers, queryFn: api.tiers });
}

export function useBreakdown(by: BreakdownBy, enabled = true) {
  return useQuery({ queryKey: keys.breakdown(by), queryFn: () => api.breakdown(by), enabled });
}

export function useValueSettings() {
  return useQuery({ queryKey: keys.settings, queryFn: api.settings, staleTime: 60_000 });
}

export function useProfileFields(includeArchived: boolean) {
  return useQuery({ queryKey: keys.fields(includeArchived), queryFn: () => api.fields(includeArchived) });
}

export function usePointsRules() {
  return useQuery({ queryKey: keys.rules, queryFn: api.rules });
}

export function useLevels() {
  return useQuery({ queryKey: keys.levels, queryFn: api.levels });
}
