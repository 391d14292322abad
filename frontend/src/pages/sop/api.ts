// The SOP pages' server state: query keys, the reads and the writes.
import { keepPreviousData, useQuery } from "@tanstack/react-query";

import { client, data } from "../../api/client";
import type { Definition, Due, EnrolResult, Kind, Report, SopDetail, SopTemplate, SopVersion, TaskStatus } from "./types";

export const keys = {
  all: ["sop"] as const,
  list: (page: number) => ["sop", "list", page] as const,
  detail: (id: number) => ["sop", "detail", id] as const,
  report: (id: number, version: number | null) => ["sop", "report", id, version] as const,
  versions: (id: number) => ["sop", "versions", id] as const,
  templates: ["sop", "templates"] as const,
  tasks: ["sop-tasks"] as const,
  taskList: (due: Due, status: TaskStatus | null, page: number) => ["sop-tasks", due, status, page] as const,
};

export const PAGE_SIZE = 20;

const path = (id: number) => ({ path: { id: String(id) } });

// The definition is a free-form object in the OpenAPI schema; these pages hold it as `Definition`.
const detail = (promise: Promise<unknown>) => promise as Promise<SopDetail>;
const asBody = (definition: Definition) => definition as Record<string, unknown>;

export function useSops(page: number) {
  return useQuery({
    queryKey: keys.list(page),
    queryFn: () => data(client.GET("/api/v1/sops/", { params: { query: { page, page_size: PAGE_SIZE } } })),
    placeholderData: keepPreviousData,
  });
}

export function useSop(id: number) {
  return useQuery({
    queryKey: keys.detail(id),
    queryFn: () => detail(data(client.GET("/api/v1/sops/{id}/", { params: path(id) }))),
    // A draft being edited is never replaced under the editor by a background refetch.
    refetchOnWindowFocus: false,
  });
}

/** The counts refresh every 15 s while the page is open: customers move on their own. */
export function useReport(id: number, version: number | null = null, enabled = true) {
  return useQuery({
    queryKey: keys.report(id, version),
    queryFn: (): Promise<Report> =>
      data(client.GET("/api/v1/sops/{id}/report/", { params: { ...path(id), query: version ? { version } : {} } })),
    enabled,
    refetchInterval: 15_000,
    placeholderData: keepPreviousData,
  });
}

export function useVersions(id: number) {
  return useQuery({
    queryKey: keys.versions(id),
    queryFn: async () =>
      (await data(client.GET("/api/v1/sops/{id}/versions/", { params: { ...path(id), query: { page_size: 200 } } }))).results as SopVersion[],
  });
}

export function useTemplates(enabled = true) {
  return useQuery({
    queryKey: keys.templates,
    queryFn: async () => (await data(client.GET("/api/v1/sop-templates/"))) as SopTemplate[],
    staleTime: 5 * 60_000,
    enabled,
  });
}

export function useSopTasks(due: Due, status: TaskStatus | null, page: number) {
  return useQuery({
    queryKey: keys.taskList(due, status, page),
    queryFn: () =>
      data(client.GET("/api/v1/sop-tasks/", { params: { query: { due, page, page_size: PAGE_SIZE, ...(status ? { status: [status] } : {}) } } })),
    placeholderData: keepPreviousData,
    refetchInterval: 30_000,
  });
}

/** Rows the pager may count: the API pages without a total, so one more page shows while there is a next. */
export function pagerTotal(page: number, body: { next: string | null; results: unknown[] } | undefined): number {
  if (!body) return 0;
  return body.next ? page * PAGE_SIZE + 1 : (page - 1) * PAGE_SIZE + body.results.length;
}

export const api = {
  create: (body: { name: string; kind: Kind; description?: string; template?: string }) =>
    detail(data(client.POST("/api/v1/sops/", { body: body as { name: string; kind: Kind } }))),
  update: (id: number, body: { name?: string; description?: string; draft?: Definition }) =>
    detail(data(client.PATCH("/api/v1/sops/{id}/", { params: path(id), body: { ...body, draft: body.draft && asBody(body.draft) } }))),
  remove: (id: number) => data(client.DELETE("/api/v1/sops/{id}/", { params: path(id) })),
  publish: (id: number) => detail(data(client.POST("/api/v1/sops/{id}/publish/", { params: path(id) }))),
  pause: (id: number) => data(client.POST("/api/v1/sops/{id}/pause/", { params: path(id) })),
  resume: (id: number) => data(client.POST("/api/v1/sops/{id}/resume/", { params: path(id) })),
  stop: (id: number) => data(client.POST("/api/v1/sops/{id}/stop/", { params: path(id), body: { confirm: true } })),
  enrol: (id: number, contactIds: number[], key: string): Promise<EnrolResult> =>
    data(
      client.POST("/api/v1/sops/{id}/enrol/", {
        params: { ...path(id), header: { "Idempotency-Key": key } },
        body: { contact_ids: contactIds },
      }),
    ),
  taskDone: (id: number) => data(client.POST("/api/v1/sop-tasks/{id}/done/", { params: path(id) })),
  taskPostpone: (id: number, until: string, reason: string) =>
    data(client.POST("/api/v1/sop-tasks/{id}/postpone/", { params: path(id), body: { until, reason } })),
  taskSkip: (id: number, reason: string) => data(client.POST("/api/v1/sop-tasks/{id}/skip/", { params: path(id), body: { reason } })),
};
