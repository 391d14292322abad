// The Moments pages' server state: query keys, the queries their parts share, and the writes.
import { keepPreviousData, useQuery } from "@tanstack/react-query";

import { client, data } from "../../api/client";
import type { operations } from "../../api/schema";
import type { ListView } from "./params";
import type { InteractionKind, MomentSettings, TaskInput } from "./types";

export const keys = {
  all: ["moments"] as const,
  tasks: (view: ListView) => ["moments", "tasks", view] as const,
  moments: (view: ListView) => ["moments", "moments", view] as const,
  task: (id: number) => ["moments", "task", id] as const,
  moment: (id: number) => ["moments", "moment", id] as const,
  members: (id: number, published: boolean | null, page: number) => ["moments", "moment", id, "members", published, page] as const,
  interactions: (id: number, kind: InteractionKind | null, page: number) => ["moments", "moment", id, "interactions", kind, page] as const,
  stats: (id: number) => ["moments", "moment", id, "stats"] as const,
  calendar: (from: string, to: string) => ["moments", "calendar", from, to] as const,
  ranking: (from: string, to: string, department: number | null, ordering: Ordering) => ["moments", "ranking", from, to, department, ordering] as const,
  preview: (body: PreviewBody) => ["moments", "preview", body] as const,
  settings: ["moment-settings"] as const,
  sync: ["moment-sync"] as const,
  engagement: (contact: number) => ["moments", "engagement", contact] as const,
};

export const MEMBERS_PAGE = 50;
export const INTERACTIONS_PAGE = 20;

/** While WeCom makes the post, or a scheduled one comes due, the page follows it. */
export const LIVE_STATUSES = new Set(["scheduled", "submitting"]);

export type Ordering = NonNullable<NonNullable<operations["v1_moments_ranking_retrieve"]["parameters"]["query"]>["ordering"]>;

export type PreviewBody = Pick<TaskInput, "staff_ids" | "department_ids" | "tag_ids">;

const path = (id: number) => ({ path: { id: String(id) } });

export function useTasks(view: ListView, enabled = true) {
  return useQuery({
    queryKey: keys.tasks(view),
    queryFn: () =>
      data(
        client.GET("/api/v1/moments/tasks/", {
          params: {
            query: {
              page: view.page,
              page_size: view.pageSize,
              ...(view.status ? { status: [view.status] } : {}),
              ...(view.search ? { search: view.search } : {}),
            },
          },
        }),
      ),
    enabled,
    placeholderData: keepPreviousData,
  });
}

export function useMoments(view: ListView, enabled = true) {
  return useQuery({
    queryKey: keys.moments(view),
    queryFn: () =>
      data(
        client.GET("/api/v1/moments/", {
          params: {
            query: {
              page: view.page,
              page_size: view.pageSize,
              ...(view.createType !== null ? { create_type: view.createType } : {}),
              ...(view.from ? { posted_after: view.from } : {}),
              ...(view.to ? { posted_before: view.to } : {}),
            },
          },
        }),
      ),
    enabled,
    placeholderData: keepPreviousData,
  });
}

export function useTask(id: number, enabled = true) {
  return useQuery({
    queryKey: keys.task(id),
    queryFn: () => data(client.GET("/api/v1/moments/tasks/{id}/", { params: path(id) })),
    enabled,
    refetchInterval: (query) => (query.state.data && LIVE_STATUSES.has(query.state.data.status) ? 3000 : false),
  });
}

export function useMoment(id: number | null) {
  return useQuery({
    queryKey: keys.moment(id ?? 0),
    queryFn: () => data(client.GET("/api/v1/moments/{id}/", { params: path(id ?? 0) })),
    enabled: id !== null,
  });
}

export function useMembers(id: number, published: boolean | null, page: number) {
  return useQuery({
    queryKey: keys.members(id, published, page),
    queryFn: () =>
      data(
        client.GET("/api/v1/moments/{id}/members/", {
          params: { ...path(id), query: { page, page_size: MEMBERS_PAGE, ...(published !== null ? { published } : {}) } },
        }),
      ),
    placeholderData: keepPreviousData,
  });
}

export function useInteractions(id: number, kind: InteractionKind | null, page: number) {
  return useQuery({
    queryKey: keys.interactions(id, kind, page),
    queryFn: () =>
      data(
        client.GET("/api/v1/moments/{id}/interactions/", {
          params: { ...path(id), query: { page, page_size: INTERACTIONS_PAGE, ...(kind ? { kind } : {}) } },
        }),
      ),
    placeholderData: keepPreviousData,
  });
}

export function useStats(id: number) {
  return useQuery({
    queryKey: keys.stats(id),
    queryFn: () => data(client.GET("/api/v1/moments/{id}/stats/", { params: path(id) })),
  });
}

export function useCalendar(from: string, to: string, enabled = true) {
  return useQuery({
    queryKey: keys.calendar(from, to),
    queryFn: () =>
      data(client.GET("/api/v1/moments/calendar/", { params: { query: { from, to } } })),
    enabled,
    placeholderData: keepPreviousData,
  });
}

/** The ranking's query: the period, a WeCom department (sub-departments included), the order. */
export function rankingQuery(from: string, to: string, department: number | null, ordering: Ordering) {
  return { ...(from ? { from } : {}), ...(to ? { to } : {}), ...(department !== null ? { department } : {}), ordering };
}

export function useRanking(from: string, to: string, department: number | null, ordering: Ordering) {
  return useQuery({
    queryKey: keys.ranking(from, to, department, ordering),
    queryFn: () => data(client.GET("/api/v1/moments/ranking/", { params: { query: rankingQuery(from, to, department, ordering) } })),
    placeholderData: keepPreviousData,
  });
}

/** Who would publish it and how many customers would see it; `body` null: nothing to ask yet. */
export function usePreview(body: PreviewBody | null) {
  return useQuery({
    queryKey: keys.preview(body ?? { staff_ids: [], department_ids: [], tag_ids: [] }),
    queryFn: () => data(client.POST("/api/v1/moments/tasks/preview/", { body: body as PreviewBody })),
    enabled: body !== null,
    placeholderData: keepPreviousData,
    staleTime: 30_000,
    retry: false,
  });
}

export function useMomentSettings(enabled = true) {
  return useQuery({
    queryKey: keys.settings,
    queryFn: () => data(client.GET("/api/v1/moments/settings/")),
    enabled,
    staleTime: 60_000,
  });
}

export function useSyncState(enabled = true) {
  return useQuery({
    queryKey: keys.sync,
    queryFn: () => data(client.GET("/api/v1/moments/sync/")),
    enabled,
  });
}

export function useEngagement(contact: number) {
  return useQuery({
    queryKey: keys.engagement(contact),
    queryFn: () => data(client.GET("/api/v1/moments/engagement/{contact_id}/", { params: { path: { contact_id: contact } } })),
  });
}

export const api = {
  create: (body: TaskInput, idempotencyKey: string) =>
    data(
      client.POST("/api/v1/moments/tasks/", { body, params: { header: { "Idempotency-Key": idempotencyKey } } }),
    ),
  update: (id: number, body: TaskInput) =>
    data(client.PATCH("/api/v1/moments/tasks/{id}/", { params: path(id), body })),
  remove: (id: number) => data(client.DELETE("/api/v1/moments/tasks/{id}/", { params: path(id) })),
  publish: (id: number, scheduledAt: string | null) =>
    data(
      client.POST("/api/v1/moments/tasks/{id}/publish/", { params: path(id), body: scheduledAt ? { scheduled_at: scheduledAt } : {} }),
    ),
  cancel: (id: number) => data(client.POST("/api/v1/moments/tasks/{id}/cancel/", { params: path(id) })),
  remind: (id: number, staffIds: number[] | null) =>
    data(
      client.POST("/api/v1/moments/tasks/{id}/remind/", { params: path(id), body: staffIds ? { staff_ids: staffIds } : {} }),
    ),
  refresh: (id: number) => data(client.POST("/api/v1/moments/tasks/{id}/refresh/", { params: path(id) })),
  saveSettings: (body: Pick<MomentSettings, "remind_after_hours" | "manager_digest">) => data(client.PATCH("/api/v1/moments/settings/", { body })),
  sync: () => data(client.POST("/api/v1/moments/sync/")),
};
