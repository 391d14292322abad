// The content library's server state: query keys, the queries the library page and the material
// picker share, and the writes (JSON for texts, links and mini programs; a multipart upload for files).
import { keepPreviousData, useQuery } from "@tanstack/react-query";

import { client, data, type Schemas } from "../../api/client";

export type Material = Schemas["Material"];
export type MaterialDetail = Schemas["MaterialDetail"];
export type MaterialKind = Schemas["MaterialKindEnum"];
export type Folder = Schemas["Folder"];
export type MaterialUser = Schemas["MaterialUser"];
export type CreateBody = Schemas["MaterialCreateRequest"];
export type UpdateBody = Schemas["PatchedMaterialUpdateRequest"];
export type UploadKind = Schemas["MaterialUploadKindEnum"];

export interface MaterialQuery {
  page: number;
  pageSize: number;
  kinds?: MaterialKind[];
  /** A folder's id; "none": in no folder; undefined: every folder. */
  folder?: number | "none";
  tag?: string;
  q?: string;
}

export const keys = {
  materials: ["materials"] as const,
  list: (query: MaterialQuery) => ["materials", "list", query] as const,
  byIds: (ids: number[]) => ["materials", "ids", ids] as const,
  detail: (id: number) => ["materials", "detail", id] as const,
  tags: ["materials", "tags"] as const,
  folders: ["material-folders"] as const,
};

const path = (id: number) => ({ path: { id: String(id) } });

export function useMaterials(query: MaterialQuery, enabled = true) {
  return useQuery({
    queryKey: keys.list(query),
    queryFn: () =>
      data(
        client.GET("/api/v1/materials/", {
          params: {
            query: {
              page: query.page,
              page_size: query.pageSize,
              ...(query.kinds?.length ? { kind: query.kinds } : {}),
              ...(query.folder === "none" ? { no_folder: true } : query.folder ? { folder: [query.folder] } : {}),
              ...(query.tag ? { tag: query.tag } : {}),
              ...(query.q ? { q: query.q } : {}),
            },
          },
        }),
      ),
    placeholderData: keepPreviousData,
    enabled,
  });
}

/** The materials a message holds (by id, in one request), as a map; those deleted since are missing. */
export function useMaterialsByIds(ids: number[]) {
  const wanted = [...new Set(ids)].sort((a, b) => a - b);
  return useQuery({
    queryKey: keys.byIds(wanted),
    queryFn: async () => {
      const page = await data(
        client.GET("/api/v1/materials/", { params: { query: { id: wanted, page: 1, page_size: 200 } } }),
      );
      return Object.fromEntries(page.results.map((m) => [m.id, m])) as Record<number, Material>;
    },
    enabled: wanted.length > 0,
    placeholderData: keepPreviousData,
    staleTime: 30_000,
  });
}

export function useMaterial(id: number | null) {
  return useQuery({
    queryKey: keys.detail(id ?? 0),
    queryFn: () => data(client.GET("/api/v1/materials/{id}/", { params: path(id ?? 0) })),
    enabled: id !== null,
  });
}

export function useFolders() {
  return useQuery({ queryKey: keys.folders, queryFn: () => data(client.GET("/api/v1/material-folders/")) });
}

export function useMaterialTags() {
  return useQuery({ queryKey: keys.tags, queryFn: () => data(client.GET("/api/v1/materials/tags/")) });
}

export interface UploadForm {
  kind: UploadKind;
  file: File;
  title?: string;
  folder?: number | null;
  tags?: string[];
}

export const api = {
  create: (body: CreateBody) => data(client.POST("/api/v1/materials/", { body })),
  /** An image, a video or a file (multipart; the API checks WeCom's limits and names what is wrong). */
  upload: (form: UploadForm) =>
    data(
      client.POST("/api/v1/materials/", {
        body: { kind: form.kind, file: form.file as unknown as string },
        bodySerializer: () => {
          const body = new FormData();
          body.append("kind", form.kind);
          body.append("file", form.file);
          if (form.title?.trim()) body.append("title", form.title);
          if (form.folder) body.append("folder", String(form.folder));
          for (const tag of form.tags ?? []) body.append("tags", tag);
          return body;
        },
      }),
    ),
  update: (id: number, body: UpdateBody) => data(client.PATCH("/api/v1/materials/{id}/", { params: path(id), body })),
  remove: (id: number) => data(client.DELETE("/api/v1/materials/{id}/", { params: path(id) })),
  createFolder: (name: string) => data(client.POST("/api/v1/material-folders/", { body: { name } })),
  renameFolder: (id: number, name: string) =>
    data(client.PATCH("/api/v1/material-folders/{id}/", { params: path(id), body: { name } })),
  removeFolder: (id: number) => data(client.DELETE("/api/v1/material-folders/{id}/", { params: path(id) })),
};
