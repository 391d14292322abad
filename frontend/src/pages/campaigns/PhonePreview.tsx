// The mass message as a customer (or a group) sees it in WeChat once the member has sent it: the
// member's text bubble, then each attachment as WeChat draws it — image thumbnails, a link card, a
// mini program card, a video, a file.
import "./strings";

import { AppstoreFilled, FileOutlined, LinkOutlined, PictureOutlined, PlayCircleFilled } from "@ant-design/icons";
import { Typography } from "antd";
import { type CSSProperties, type ReactNode, useState } from "react";
import { useTranslation } from "react-i18next";

import type { ChatType, Material } from "./types";

const CHAT_BG = "#ededed";
const BUBBLE: CSSProperties = {
  background: "#fff",
  borderRadius: 4,
  padding: "8px 10px",
  maxWidth: 230,
  fontSize: 14,
  lineHeight: 1.5,
  color: "#111",
  wordBreak: "break-word",
};
const CARD: CSSProperties = { ...BUBBLE, width: 230, padding: 10 };
const CLAMP = (lines: number): CSSProperties => ({
  overflow: "hidden",
  display: "-webkit-box",
  WebkitLineClamp: lines,
  WebkitBoxOrient: "vertical",
});

/** An image that shows a neutral box when it cannot load (a link's picture may be off-site). */
function Picture({ src, alt, style }: { src?: string; alt: string; style: CSSProperties }) {
  const [broken, setBroken] = useState<string | null>(null);
  if (!src || broken === src) {
    return (
      <div role="img" aria-label={alt} style={{ ...style, display: "grid", placeItems: "center", background: "#f0f0f0", color: "#bbb", fontSize: 20 }}>
        <PictureOutlined />
      </div>
    );
  }
  return <img src={src} alt={alt} style={{ ...style, objectFit: "cover" }} onError={() => setBroken(src)} />;
}

function Avatar({ name }: { name: string }) {
  return (
    <div
      aria-hidden
      style={{ width: 36, height: 36, borderRadius: 4, background: "#1677ff", color: "#fff", display: "grid", placeItems: "center", flex: "none", fontWeight: 600 }}
    >
      {Array.from(name.trim())[0] ?? "?"}
    </div>
  );
}

function Row({ sender, children }: { sender: string; children: ReactNode }) {
  return (
    <div style={{ display: "flex", gap: 8, alignItems: "flex-start", marginBottom: 14 }}>
      <Avatar name={sender} />
      <div>{children}</div>
    </div>
  );
}

function host(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return "";
  }
}

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 102.4) / 10} KB`;
  return `${Math.round(bytes / (1024 * 102.4)) / 10} MB`;
}

export function AttachmentBubble({ material }: { material: Material | null }) {
  const { t } = useTranslation("campaigns");
  if (!material) {
    return (
      <div style={{ ...CARD, color: "#999" }} data-testid="preview-missing">
        {t("phone.missing")}
      </div>
    );
  }
  switch (material.kind) {
    case "image":
      return (
        <div data-testid="preview-image">
          <Picture src={material.file_url ?? undefined} alt={material.title || t("phone.image")} style={{ width: 150, height: 150, borderRadius: 4, display: "block" }} />
        </div>
      );
    case "link": {
      const picture = material.preview_url || undefined;
      return (
        <div style={CARD} data-testid="preview-link">
          <div style={{ fontSize: 15, fontWeight: 500, marginBottom: 6, ...CLAMP(2) }}>{material.title}</div>
          <div style={{ display: "flex", gap: 8, justifyContent: "space-between" }}>
            <div style={{ fontSize: 12, color: "#888", ...CLAMP(3) }}>{material.description || host(material.url) || "\u00a0"}</div>
            {picture ? (
              <Picture src={picture} alt={t("phone.linkPicture")} style={{ width: 48, height: 48, flex: "none" }} />
            ) : (
              <div style={{ width: 48, height: 48, flex: "none", background: "#f5f5f5", display: "grid", placeItems: "center", color: "#07c160", fontSize: 22 }}>
                <LinkOutlined />
              </div>
            )}
          </div>
        </div>
      );
    }
    case "miniprogram":
      return (
        <div style={{ ...CARD, padding: 0 }} data-testid="preview-miniprogram">
          <div style={{ padding: "8px 10px 0", fontSize: 12, color: "#888", display: "flex", gap: 6, alignItems: "center" }}>
            <AppstoreFilled style={{ color: "#576b95" }} />
            <span style={{ overflow: "hidden", textOverflow: "ellipsis", whiteSpace: "nowrap" }}>{material.appid || t("phone.miniprogram")}</span>
          </div>
          <div style={{ padding: "4px 10px 6px", fontSize: 14 }}>{material.title}</div>
          <Picture src={material.preview_url || undefined} alt={t("phone.cover")} style={{ width: 230, height: 184, display: "block" }} />
          <div style={{ borderTop: "1px solid #f0f0f0", padding: "4px 10px", fontSize: 11, color: "#888", display: "flex", gap: 4, alignItems: "center" }}>
            <AppstoreFilled style={{ color: "#576b95" }} /> {t("phone.miniprogram")}
          </div>
        </div>
      );
    case "video":
      return (
        <div
          data-testid="preview-video"
          role="img"
          aria-label={t("phone.video", { name: material.title })}
          style={{ width: 150, height: 200, borderRadius: 4, background: "#222", color: "#fff", display: "grid", placeItems: "center", fontSize: 40 }}
        >
          <PlayCircleFilled />
        </div>
      );
    case "file":
      return (
        <div style={{ ...CARD, display: "flex", gap: 10, alignItems: "center" }} data-testid="preview-file">
          <div style={{ flex: 1, minWidth: 0 }}>
            <div style={{ fontSize: 14, ...CLAMP(2) }}>{material.filename || material.title}</div>
            <div style={{ fontSize: 12, color: "#888" }}>{size(material.size)}</div>
          </div>
          <FileOutlined style={{ fontSize: 30, color: "#fa8c16" }} />
        </div>
      );
    default:
      return null;
  }
}

/** A phone's chat screen with the message in it. `materials` are the attachments in order (null: one
 * that could not be loaded). */
export default function PhonePreview({
  chatType,
  sender,
  text,
  materials,
}: {
  chatType: ChatType;
  /** The member whose name and avatar the customer sees. */
  sender: string;
  text: string;
  materials: (Material | null)[];
}) {
  const { t } = useTranslation("campaigns");
  const title = chatType === "group" ? t("phone.groupTitle") : sender;
  const empty = !text.trim() && !materials.length;
  return (
    <section aria-label={t("phone.title")} data-testid="phone-preview">
      <div
        style={{
          width: 320,
          maxWidth: "100%",
          margin: "0 auto",
          border: "10px solid #1f1f1f",
          borderRadius: 28,
          overflow: "hidden",
          background: CHAT_BG,
          boxShadow: "0 8px 24px rgba(0,0,0,0.12)",
        }}
      >
        <div style={{ padding: "10px 12px", textAlign: "center", fontWeight: 600, borderBottom: "1px solid #ddd", position: "relative" }}>
          <span style={{ position: "absolute", left: 12, color: "#333" }} aria-hidden>
            ‹
          </span>
          {title}
          <span style={{ position: "absolute", right: 12, color: "#333" }} aria-hidden>
            ···
          </span>
        </div>
        <div style={{ minHeight: 360, maxHeight: 560, overflowY: "auto", padding: "12px 12px 4px" }}>
          <div style={{ textAlign: "center", fontSize: 12, color: "#999", margin: "4px 12px 14px" }}>{t("phone.now")}</div>
          {empty && (
            <div style={{ textAlign: "center", fontSize: 12, margin: "0 8px 14px" }} data-testid="phone-empty">
              <span style={{ background: "#dcdcdc", color: "#555", borderRadius: 4, padding: "2px 8px", display: "inline-block" }}>{t("phone.empty")}</span>
            </div>
          )}
          {text.trim() && (
            <Row sender={sender}>
              <div style={{ ...BUBBLE, whiteSpace: "pre-wrap" }} data-testid="preview-text">
                {text.trim()}
              </div>
            </Row>
          )}
          {materials.map((material, i) => (
            <Row key={material ? `m${material.id}-${i}` : `missing-${i}`} sender={sender}>
              <AttachmentBubble material={material} />
            </Row>
          ))}
        </div>
      </div>
      <Typography.Paragraph type="secondary" style={{ textAlign: "center", marginTop: 8, fontSize: 12 }}>
        {chatType === "group" ? t("phone.noteGroup", { sender }) : t("phone.note", { sender })}
      </Typography.Paragraph>
    </section>
  );
}
