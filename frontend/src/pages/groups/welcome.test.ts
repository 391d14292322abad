import { describe, expect, it } from "vitest";

import {
  NICKNAME,
  attachmentForForm,
  attachmentForSubmit,
  insertNickname,
  isEmptyTemplate,
  previewAttachment,
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
    expect(attachmentForForm({ msgtype: "video" })).toBeNull();
  });

  it("keeps only its own type's fields both ways", () => {
    const link = attachmentForForm({ msgtype: "link", title: "T", url: "https://x.cn", media_asset_id: 4 });
    expect(link).toEqual({ msgtype: "link", title: "T", url: "https://x.cn", description: "", picture_url: "" });
    expect(attachmentForSubmit(link)).toEqual({ msgtype: "link", title: "T", url: "https://x.cn" });
    expect(attachmentForSubmit({ msgtype: "image", media_asset_id: 7, title: "x" })).toEqual({ msgtype: "image", media_asset_id: 7 });
    expect(attachmentForSubmit(null)).toEqual({});
  });

  it("is drawn by the welcome preview's bubbles", () => {
    expect(previewAttachment({ msgtype: "image", media_asset_id: 3 })).toEqual({ type: "image", media: 3 });
    expect(previewAttachment({ msgtype: "link", title: "T", url: "u", description: "d", picture_url: "p" })).toEqual({
      type: "link",
      title: "T",
      url: "u",
      description: "d",
      picture_url: "p",
    });
    expect(previewAttachment({ msgtype: "miniprogram", title: "M", appid: "wx1", page: "p", media_asset_id: 9 })).toEqual({
      type: "miniprogram",
      title: "M",
      appid: "wx1",
      page: "p",
      media: 9,
    });
    expect(previewAttachment(null)).toBeNull();
  });
});

describe("the template", () => {
  it("round-trips through the form", () => {
    const stored = { name: "新人欢迎", text: `欢迎 ${NICKNAME}`, attachment: { msgtype: "image", media_asset_id: 2 } };
    const values = templateForForm(stored);
    expect(templateForSubmit({ ...values, name: " 新人欢迎 " })).toEqual(stored);
    expect(templateForForm(undefined)).toEqual({ name: "", text: "", attachment: null });
  });

  it("is empty without text and attachment", () => {
    expect(isEmptyTemplate({ text: "  ", attachment: null })).toBe(true);
    expect(isEmptyTemplate({ text: "", attachment: { msgtype: "image" } })).toBe(false);
  });
});
