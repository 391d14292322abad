// The content library on the client: WeCom's limits checked before an upload (the API checks them
// again), the kind a picked file will be, sizes for people, and the kinds a message can attach.
import type { MaterialKind, MaterialUser, UploadKind } from "./api";

/** What a message (welcome, group welcome, mass message) can carry as attachments: not texts. */
export const ATTACHMENT_KINDS: MaterialKind[] = ["image", "link", "miniprogram", "video", "file"];
export const MAX_ATTACHMENTS = 9;
export const KINDS: MaterialKind[] = ["text", "image", "link", "miniprogram", "video", "file"];

const MB = 1024 * 1024;
// WeCom's limits (wecom-api.md §9a): library/services.py refuses the same with the field.
export const UPLOAD_LIMITS: Record<UploadKind, { max: number; min: number; types?: string[]; accept: string }> = {
  image: { max: 10 * MB, min: 1, types: ["image/jpeg", "image/png"], accept: "image/jpeg,image/png" },
  video: { max: 10 * MB, min: 1, types: ["video/mp4"], accept: "video/mp4" },
  file: { max: 20 * MB, min: 6, accept: "" },
};

/** The kind a picked file is uploaded as: JPG/PNG images and MP4 videos as such, anything else a file. */
export function uploadKindFor(file: { type: string }): UploadKind {
  if (UPLOAD_LIMITS.image.types?.includes(file.type)) return "image";
  if (UPLOAD_LIMITS.video.types?.includes(file.type)) return "video";
  return "file";
}

export type UploadProblem = "type" | "tooLarge" | "tooSmall";

/** Why WeCom would refuse this file as `kind` (null: it would take it). */
export function uploadProblem(kind: UploadKind, file: { type: string; size: number }): UploadProblem | null {
  const limit = UPLOAD_LIMITS[kind];
  if (limit.types && !limit.types.includes(file.type)) return "type";
  if (file.size > limit.max) return "tooLarge";
  if (file.size < limit.min) return "tooSmall";
  return null;
}

/** A size as people read it: 980 B, 12.3 KB, 4.5 MB. */
export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < MB) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / MB).toFixed(1)} MB`;
}

/** The users of a material, one line each ("Channel code: 门店海报"), for the in-use message. */
export function usersList(users: MaterialUser[]): string[] {
  return users.map((u) => `${u.label}: ${u.name}`);
}

/** The attachments kept as `{material_id}`, with at most `max` and no repeats, in the order picked. */
export function addPicked(current: { material_id: number }[], picked: number[], max = MAX_ATTACHMENTS): { material_id: number }[] {
  const have = new Set(current.map((a) => a.material_id));
  const added = picked.filter((id) => !have.has(id)).map((id) => ({ material_id: id }));
  return [...current, ...added].slice(0, max);
}
