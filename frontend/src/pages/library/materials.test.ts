import { describe, expect, it } from "vitest";

import { addPicked, formatSize, uploadKindFor, uploadProblem, usersList } from "./materials";

const MB = 1024 * 1024;

describe("an upload", () => {
  it("goes as the kind its type says, anything else as a file", () => {
    expect(uploadKindFor({ type: "image/png" })).toBe("image");
    expect(uploadKindFor({ type: "image/jpeg" })).toBe("image");
    expect(uploadKindFor({ type: "image/gif" })).toBe("file");
    expect(uploadKindFor({ type: "video/mp4" })).toBe("video");
    expect(uploadKindFor({ type: "application/pdf" })).toBe("file");
  });

  it("is checked against WeCom's limits for its kind", () => {
    expect(uploadProblem("image", { type: "image/gif", size: 10 })).toBe("type");
    expect(uploadProblem("image", { type: "image/png", size: 10 * MB + 1 })).toBe("tooLarge");
    expect(uploadProblem("image", { type: "image/png", size: 10 * MB })).toBeNull();
    expect(uploadProblem("video", { type: "video/quicktime", size: 10 })).toBe("type");
    expect(uploadProblem("file", { type: "application/pdf", size: 5 })).toBe("tooSmall");
    expect(uploadProblem("file", { type: "", size: 20 * MB + 1 })).toBe("tooLarge");
    expect(uploadProblem("file", { type: "", size: 6 })).toBeNull();
  });
});

describe("sizes and users", () => {
  it("reads as people write them", () => {
    expect(formatSize(980)).toBe("980 B");
    expect(formatSize(12.3 * 1024)).toBe("12.3 KB");
    expect(formatSize(4.5 * MB)).toBe("4.5 MB");
  });

  it("names each user of a material", () => {
    expect(usersList([{ owner_type: "channel_code", owner_id: 3, label: "Channel code", name: "门店海报" }])).toEqual([
      "Channel code: 门店海报",
    ]);
  });
});

describe("picking attachments", () => {
  it("adds what was picked after what is there, once each, up to the limit", () => {
    expect(addPicked([{ material_id: 1 }], [2, 1, 3])).toEqual([{ material_id: 1 }, { material_id: 2 }, { material_id: 3 }]);
    expect(addPicked([], [1, 2, 3], 2)).toEqual([{ material_id: 1 }, { material_id: 2 }]);
  });
});
