// The channel pages' server state: query keys, the queries their parts share, and the writes.
import { keepPreviousData, useQuery } from "@tanstack/react-query";

import { client, data, type Schemas } from "../../api/client";
import type { DateRange, ListView } from "./params";

export type Channel = Schemas["ContactWay"];
export type ChannelInput = Schemas["ContactWayInputRequest"];
export type ChannelStats = Schemas["ChannelStats"];
export type Greeting = Schemas["Welcome"];
export type GreetingStatus = Schemas["WelcomeStatusEnum"];
export type Staff = Schemas["Staff"];

export const STAFF_PAGE = 200;
export const GREETINGS_PAGE = 20;

export const keys = {
  channels: ["channels"] as const,
  list: (view: ListView, range: DateRange) => ["channels", "list", view, range] as const,
  detail: (id: number) => ["channels", "detail", id] as const,
  stats: (id: number, range: DateRange) => ["channels", "detail", id, "stats", range] as const,
  greetings: (id: number, status: string, page: number) => ["channels", "detail", id, "greetings", status, page] as const,
  welcomeDefault: ["welcome-default"] as const,
  staff: (search: string) => ["channels", "staff", search] as const,
  departments: ["departments"] as const,
  tagGroups: ["tag-groups"] as const,
  /** The customers page's queries: a simulated scan adds a customer there too. */
  contacts: ["contacts"] as const,
  contact: (id: number) => ["contacts", "detail", id] as const,
};

const path = (id: number) => ({ path: { id: String(id) } });

export function useChannels(view: ListView, range: DateRange) {
  return useQuery({
    queryKey: keys.list(view, range),
    queryFn: () =>
      data(
        client.GET("/api/v1/channels/", {
          params: {
            query: {
              page: view.page,
              page_size: view.pageSize,
              from: range.from,
              to: range.to,
              ...(view.search ? { search: view.search } : {}),
            },
          },
        }),
      ),
    placeholderData: keepPreviousData,
  });
}

export function useChannel(id: number, enabled = true) {
  return useQuery({
    queryKey: keys.detail(id),
    queryFn: () => data(client.GET("/api/v1/channels/{id}/", { params: path(id) })),
    enabled,
  });
}

export function useChannelStats(id: number, range: DateRange) {
  return useQuery({
    queryKey: keys.stats(id, range),
    queryFn: () => data(client.GET("/api/v1/channels/{id}/stats/", { params: { ...path(id), query: range } })),
    placeholderData: keepPreviousData,
  });
}

export function useGreetings(id: number, status: GreetingStatus | "", page: number, refetchInterval: number | false) {
  return useQuery({
    queryKey: keys.greetings(id, status, page),
    queryFn: () =>
      data(
        client.GET("/api/v1/channels/{id}/welcomes/", {
          params: { ...path(id), query: { page, page_size: GREETINGS_PAGE, ...(status ? { status } : {}) } },
        }),
      ),
    placeholderData: keepPreviousData,
    refetchInterval,
  });
}

export function useWelcomeDefault() {
  return useQuery({
    queryKey: keys.welcomeDefault,
    queryFn: () => data(client.GET("/api/v1/welcome-default/")),
  });
}

/** Active staff for a picker: the first STAFF_PAGE by name, or those matching what was typed. */
export function useStaffOptions(search: string) {
  return useQuery({
    queryKey: keys.staff(search),
    queryFn: () =>
      data(
        client.GET("/api/v1/staff/", {
          params: { query: { page_size: STAFF_PAGE, is_active: true, ordering: "name,id", search: search || undefined } },
        }),
      ),
    staleTime: 60_000,
    placeholderData: keepPreviousData,
  });
}

export function useDepartments() {
  return useQuery({
    queryKey: keys.departments,
    queryFn: () => data(client.GET("/api/v1/departments/")),
    staleTime: 5 * 60_000,
  });
}

export function useTagGroups() {
  return useQuery({
    queryKey: keys.tagGroups,
    queryFn: () => data(client.GET("/api/v1/tag-groups/")),
    staleTime: 60_000,
  });
}

export const api = {
  create: (body: ChannelInput) => data(client.POST("/api/v1/channels/", { body })),
  update: (id: number, body: Schemas["PatchedContactWayInputRequest"]) =>
    data(client.PATCH("/api/v1/channels/{id}/", { params: path(id), body })),
  remove: (id: number) => data(client.DELETE("/api/v1/channels/{id}/", { params: path(id) })),
  simulate: (id: number) => data(client.POST("/api/v1/channels/{id}/simulate/", { params: path(id) })),
  saveDefault: (welcome: Schemas["WelcomeMessageRequest"]) =>
    data(client.PUT("/api/v1/welcome-default/", { body: { welcome } })),
  contact: (id: number) => data(client.GET("/api/v1/contacts/{id}/", { params: path(id) })),
};

/** The channel's QR image (the API fetches WeCom's and caches it); `download` as a file. */
export function qrUrl(id: number, download = false): string {
  return `/api/v1/channels/${id}/qr/${download ? "?download=1" : ""}`;
}
