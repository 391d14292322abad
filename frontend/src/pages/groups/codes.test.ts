import { describe, expect, it } from "vitest";

import { ApiError } from "../../api/client";
import { codeForForm, codeForSubmit, formPath, groupFull, nextRoomName, unsyncedGroups, withFormPaths } from "./codes";

describe("group code form values", () => {
  it("starts a new code with automatic groups on and numbering from 1", () => {
    expect(codeForForm(undefined)).toEqual({ name: "", group_ids: [], auto_create_room: true, room_base_name: "", room_base_id: 1 });
  });

  it("reads a stored code's groups as their ids, in order", () => {
    const values = codeForForm({
      name: "门店活码",
      groups: [
        { id: 5, name: "A" },
        { id: 2, name: "B" },
      ],
      auto_create_room: false,
      room_base_name: "",
      room_base_id: 1,
    });
    expect(values.group_ids).toEqual([5, 2]);
    expect(values.auto_create_room).toBe(false);
  });

  it("cannot name a group WeCom opened that is not synced yet", () => {
    const groups = [
      { id: 5, name: "A" },
      { id: null, name: "" },
    ];
    expect(codeForForm({ name: "x", groups, auto_create_room: true, room_base_name: "A", room_base_id: 2 }).group_ids).toEqual([5]);
    expect(unsyncedGroups(groups)).toBe(1);
  });

  it("sends no base name when groups are not created automatically", () => {
    expect(
      codeForSubmit({ name: "  Shop ", group_ids: [1], auto_create_room: false, room_base_name: "VIP", room_base_id: 9 }),
    ).toEqual({ name: "Shop", group_ids: [1], auto_create_room: false, room_base_name: "", room_base_id: 1 });
    expect(
      codeForSubmit({ name: "Shop", group_ids: [1, 2], auto_create_room: true, room_base_name: " VIP群 ", room_base_id: 3 }),
    ).toEqual({ name: "Shop", group_ids: [1, 2], auto_create_room: true, room_base_name: "VIP群", room_base_id: 3 });
  });
});

describe("API errors on the form", () => {
  it("puts errors about the groups on the picker", () => {
    expect(formPath("chat_ids")).toBe("group_ids");
    expect(formPath("chat_ids.3")).toBe("group_ids");
    expect(formPath("groups")).toBe("group_ids");
    expect(formPath("group_ids.2")).toBe("group_ids");
    expect(formPath("room_base_name")).toBe("room_base_name");
  });

  it("renames the paths of an ApiError and leaves other errors alone", () => {
    const error = new ApiError({
      type: "validation_error",
      title: "Invalid",
      status: 400,
      detail: "",
      errors: [
        { path: "chat_ids.1", code: "invalid", message: "Dismissed" },
        { path: null, code: "wecom", message: "WeCom said no" },
      ],
    });
    const renamed = withFormPaths(error) as ApiError;
    expect(renamed).toBeInstanceOf(ApiError);
    expect(renamed.problem.errors.map((e) => e.path)).toEqual(["group_ids", null]);
    const other = new Error("x");
    expect(withFormPaths(other)).toBe(other);
  });
});

describe("groups of a code", () => {
  it("knows a group that takes nobody more", () => {
    expect(groupFull({ id: 1, name: "a", member_count: 200 })).toBe(true);
    expect(groupFull({ id: 1, name: "a", member_count: 12, status: "dismissed" })).toBe(true);
    expect(groupFull({ id: 1, name: "a", member_count: 12, status: "normal" })).toBe(false);
  });

  it("names the next automatic group", () => {
    expect(nextRoomName(" 福利群", 3)).toBe("福利群3");
    expect(nextRoomName("", 3)).toBe("");
  });
});
