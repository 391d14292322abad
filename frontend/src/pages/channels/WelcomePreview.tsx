// The welcome as the customer sees it in WeChat right after adding the member: a chat with the
// member's messages as bubbles — the text (placeholders filled with sample names), then each
// attachment (a material of the library) as WeChat draws it: image, link card, mini program card,
// video, file.
import "./strings";

import { AppstoreFilled, FileOutlined, LinkOutlined, PictureOutlined, PlayCircleFilled } from "@ant-design/icons";
import { Tooltip, Typography } from "antd";
import { type CSSProperties, type ReactNode, useState } from "react";
import { useTranslation } from "react-i18next";

import { type Material, useMaterialsByIds } from "../library/api";
import { formatSize } from "../library/materials";
import { type SampleNames, type WelcomeValue, attachmentIds, isEmptyWelcome, linkHost, renderText } from "./welcome";

export const CHAT_BG = "#ededed";
export const BUBBLE: CSSProperties = {
  background: "#fff",
  borderRadius: 4,
  padding: "8px 10px",
  maxWidth: 230,
  fontSize: 14,
  lineHeight: 1.5,
  color: "#111",
  wordBreak: "break-word",
  position: "relative",
};
const CARD: CSSProperties = { ...BUBBLE, width: 230, padding: 10 };

/** An image that shows a neutral box when it cannot load (a link's picture may be off-site). */
export function Picture({ src, alt, style }: { src?: string; alt: string; style: CSSProperties }) {
  const [broken, setBroken] = useState<string | null>(null);
  if (!src || broken === src) {
    return (
      <div
        role="img"
        aria-label={alt}
        style={{ ...style, display: "grid", placeItems: "center", background: "#f0f0f0", color: "#bbb", fontSize: 20 }}
      >
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
      style={{
        width: 36,
        height: 36,
        borderRadius: 4,
        background: "#1677ff",
        color: "#fff",
        display: "grid",
        placeItems: "center",
        flex: "none",
        fontWeight: 600,
      }}
    >
      {Array.from(name.trim())[0] ?? "?"}
    </div>
  );
}

function Row({ staff, children }: { staff: string; children: ReactNode }) {
  return (
    <div style={{ display: "flex", gap: 8, alignItems: "flex-start", marginBottom: 14 }}>
      <Avatar name={staff} />
      <div>{children}</div>
    </div>
  );
}

function TextBubble({ text, names }: { text: string; names: SampleNames }) {
  const { t } = useTranslation("channels");
  return (
    <div style={{ ...BUBBLE, whiteSpace: "pre-wrap" }} data-testid="preview-text">
      {renderText(text.trim(), names).map((piece, i) =>
        piece.placeholder ? (
          <Tooltip key={i} title={t(`welcome.placeholder.${piece.placeholder}`)}>
            <mark style={{ background: "#e6f4ff", padding: 0, color: "inherit" }}>{piece.text}</mark>
          </Tooltip>
        ) : piece.unknown ? (
          <Tooltip key={i} title={t("preview.unknownPlaceholder")}>
            <mark style={{ background: "#fff1f0", padding: 0, color: "#cf1322" }}>{piece.text}</mark>
          </Tooltip>
        ) : (
          <span key={i}>{piece.text}</span>
        ),
      )}
    </div>
  );
}

/** An attachment as WeChat draws it; `material` undefined: not loaded yet, or deleted since. */
export function AttachmentBubble({ material }: { material: Material | undefined }) {
  const { t } = useTranslation("channels");
  if (!material) {
    return (
      <div style={{ ...BUBBLE, color: "#999" }} data-testid="preview-gone">
        {t("preview.gone")}
      </div>
    );
  }
  const picture = material.preview_url ?? undefined;
  if (material.kind === "image") {
    return (
      <div data-testid="preview-image">
        <Picture src={picture} alt={material.title} style={{ width: 150, height: picture ? "auto" : 110, maxHeight: 220, borderRadius: 4, display: "block" }} />
      </div>
    );
  }
  if (material.kind === "link") {
    const host = linkHost(material.url);
    return (
      <div style={CARD} data-testid="preview-link">
        <div style={{ fontSize: 15, fontWeight: 500, marginBottom: 6, overflow: "hidden", display: "-webkit-box", WebkitLineClamp: 2, WebkitBoxOrient: "vertical" }}>
          {material.title || <Typography.Text type="secondary">{t("preview.linkTitle")}</Typography.Text>}
        </div>
        <div style={{ display: "flex", gap: 8, justifyContent: "space-between" }}>
          <div style={{ fontSize: 12, color: "#888", overflow: "hidden", display: "-webkit-box", WebkitLineClamp: 3, WebkitBoxOrient: "vertical" }}>
            {material.description || host || "\u00a0"}
          </div>
          {picture ? (
            <Picture src={picture} alt={t("preview.linkPicture")} style={{ width: 48, height: 48, flex: "none" }} />
          ) : (
            <div style={{ width: 48, height: 48, flex: "none", background: "#f5f5f5", display: "grid", placeItems: "center", color: "#07c160", fontSize: 22 }}>
              <LinkOutlined />
            </div>
          )}
        </div>
      </div>
    );
  }
  if (material.kind === "miniprogram") {
    return (
      <div style={{ ...CARD, padding: 0 }} data-testid="preview-miniprogram">
        <div style={{ padding: "8px 10px 0", fontSize: 12, color: "#888", display: "flex", gap: 6, alignItems: "center" }}>
          <AppstoreFilled style={{ color: "#576b95" }} />
          <span style={{ overflow: "hidden", textOverflow: "ellipsis", whiteSpace: "nowrap" }}>{material.appid || t("preview.miniprogram")}</span>
        </div>
        <div style={{ padding: "4px 10px 6px", fontSize: 14 }}>
          {material.title || <Typography.Text type="secondary">{t("preview.miniprogramTitle")}</Typography.Text>}
        </div>
        <Picture src={picture} alt={t("preview.cover")} style={{ width: 230, height: 184, display: "block" }} />
        <div style={{ borderTop: "1px solid #f0f0f0", padding: "4px 10px", fontSize: 11, color: "#888", display: "flex", gap: 4, alignItems: "center" }}>
          <AppstoreFilled style={{ color: "#576b95" }} /> {t("preview.miniprogram")}
        </div>
      </div>
    );
  }
  if (material.kind === "video") {
    return (
      <div
        data-testid="preview-video"
        aria-label={`${t("preview.video")}: ${material.title}`}
        style={{ width: 150, height: 110, borderRadius: 4, background: "#262626", color: "#fff", display: "grid", placeItems: "center", fontSize: 32 }}
      >
        <PlayCircleFilled />
      </div>
    );
  }
  if (material.kind === "file") {
    return (
      <div style={{ ...CARD, display: "flex", gap: 8, justifyContent: "space-between" }} data-testid="preview-file">
        <div style={{ minWidth: 0 }}>
          <div style={{ fontSize: 14, overflow: "hidden", textOverflow: "ellipsis", whiteSpace: "nowrap" }}>{material.filename || material.title}</div>
          <div style={{ fontSize: 12, color: "#888" }}>{formatSize(material.size)}</div>
        </div>
        <FileOutlined aria-label={t("preview.file")} style={{ fontSize: 32, color: "#1677ff" }} />
      </div>
    );
  }
  return null;
}

/**
 * A phone's chat screen. On a channel code (`usesDefault`), an empty welcome means the tenant's
 * default applies: it is shown (`fallback`) under a note saying so.
 */
export default function WelcomePreview({
  welcome,
  names,
  usesDefault = false,
  fallback,
}: {
  welcome: WelcomeValue | undefined;
  names: SampleNames;
  usesDefault?: boolean;
  /** The tenant's default welcome (for `usesDefault`), once loaded. */
  fallback?: WelcomeValue;
}) {
  const { t } = useTranslation("channels");
  const empty = isEmptyWelcome(welcome);
  const shown = empty && usesDefault ? fallback : welcome;
  const nothing = isEmptyWelcome(shown);
  const materials = useMaterialsByIds(attachmentIds(shown));
  const note = !empty ? null : !usesDefault ? t("preview.noDefault") : nothing ? t("preview.usesEmptyDefault") : t("preview.usesDefault");
  return (
    <section aria-label={t("preview.title")} data-testid="welcome-preview">
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
        <div style={{ background: CHAT_BG, padding: "10px 12px", textAlign: "center", fontWeight: 600, borderBottom: "1px solid #ddd", position: "relative" }}>
          <span style={{ position: "absolute", left: 12, color: "#333" }} aria-hidden>
            ‹
          </span>
          {names.staff_name}
          <span style={{ position: "absolute", right: 12, color: "#333" }} aria-hidden>
            ···
          </span>
        </div>
        <div style={{ minHeight: 360, maxHeight: 560, overflowY: "auto", padding: "12px 12px 4px" }}>
          <div style={{ textAlign: "center", fontSize: 12, color: "#999", margin: "4px 12px 14px" }}>
            {t("preview.added", { staff: names.staff_name })}
          </div>
          {note && (
            <div style={{ textAlign: "center", fontSize: 12, margin: "0 8px 14px" }} data-testid="preview-note">
              <span style={{ background: "#dcdcdc", color: "#555", borderRadius: 4, padding: "2px 8px", display: "inline-block" }}>
                {note}
              </span>
            </div>
          )}
          {!nothing && shown && (
            <div style={empty ? { opacity: 0.75 } : undefined}>
              {(shown.text ?? "").trim() && (
                <Row staff={names.staff_name}>
                  <TextBubble text={shown.text ?? ""} names={names} />
                </Row>
              )}
              {attachmentIds(shown).map((id, i) => (
                <Row key={`${id}-${i}`} staff={names.staff_name}>
                  <AttachmentBubble material={materials.data?.[id]} />
                </Row>
              ))}
            </div>
          )}
        </div>
      </div>
      <Typography.Paragraph type="secondary" style={{ textAlign: "center", marginTop: 8, fontSize: 12 }}>
        {t("preview.sample", { customer: names.customer_name, staff: names.staff_name })}
      </Typography.Paragraph>
    </section>
  );
}
