import { describe, expect, it } from "vitest";

import {
  NICKNAME,
  attachmentForForm,
  attachmentForSubmit,
  insertNickname,
  isEmptyTemplate,
  renderNickname,
  templateForForm,
  templateForSubmit,
  textBytes,
} from "./welcome";

describe("%NICKNAME%", () => {
  it("goes where the cursor is, replacing the selection", () => {
    expect(insertNickname("Hi , welcome", 3, 3)).toEqual({ text: `Hi ${NICKNAME}, welcome`, caret: 3 + NICKNAME.length });
    expect(insertNickname("Hi you!", 3, 6)).toEqual({ text: `Hi ${NICKNAME}!`, caret: 3 + NICKNAME.length });
    expect(insertNickname("Hi", 99, 99).text).toBe(`Hi${NICKNAME}`);
  });

  it("is filled with the sample nickname in the preview, every time it occurs", () => {
    expect(renderNickname(`欢迎 ${NICKNAME}！${NICKNAME}`, "小明")).toEqual([
      { text: "欢迎 " },
      { text: "小明", nickname: true },
      { text: "！" },
      { text: "小明", nickname: true },
    ]);
    expect(renderNickname("plain", "x")).toEqual([{ text: "plain" }]);
  });

  it("counts UTF-8 bytes of the trimmed text", () => {
    expect(textBytes(" 欢迎 ")).toBe(6);
  });
});

describe("the attachment", () => {
  it("reads nothing from an empty or unknown one", () => {
    expect(attachmentForForm({})).toBeNull();
    expect(attachmentForForm(null)).toBeNull();
    expect(attachmentForForm({ msgtype: "image", media_asset_id: 3 })).toBeNull();
  });

  it("is a material of the library, by id, both ways", () => {
    expect(attachmentForForm({ material_id: 4 })).toEqual({ material_id: 4 });
    expect(attachmentForSubmit({ material_id: 4 })).toEqual({ material_id: 4 });
    expect(attachmentForSubmit(null)).toEqual({});
  });
});

describe("the template", () => {
  it("round-trips through the form", () => {
    const stored = { name: "新人欢迎", text: `欢迎 ${NICKNAME}`, attachment: { material_id: 2 } };
    const values = templateForForm(stored);
    expect(templateForSubmit({ ...values, name: " 新人欢迎 " })).toEqual(stored);
    expect(templateForForm(undefined)).toEqual({ name: "", text: "", attachment: null });
  });

  it("is empty without text and attachment", () => {
    expect(isEmptyTemplate({ text: "  ", attachment: null })).toBe(true);
    expect(isEmptyTemplate({ text: "", attachment: { material_id: 1 } })).toBe(false);
  });
});
