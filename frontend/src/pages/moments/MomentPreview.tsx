// A Moment as a customer sees it in WeChat's Moments (朋友圈) once the member has published it: the
// member's avatar and name, the text folded after six lines (全文 / 收起), the pictures in WeChat's
// grid (one large, four in 2×2, else rows of three), a link card or a video's cover.
import "./strings";

import { LinkOutlined, PictureOutlined, PlayCircleFilled } from "@ant-design/icons";
import { type CSSProperties, useState } from "react";
import { useTranslation } from "react-i18next";

import { folds, imageGrid } from "../../lib/moments";
import type { PostAttachment } from "./types";

const NAME_COLOR = "#576b95";
const CLAMP = (lines: number): CSSProperties => ({
  overflow: "hidden",
  display: "-webkit-box",
  WebkitLineClamp: lines,
  WebkitBoxOrient: "vertical",
});

/** A picture that shows a neutral box when it cannot load (a link's cover may be off-site). */
function Picture({ src, alt, style }: { src?: string | null; alt: string; style: CSSProperties }) {
  const [broken, setBroken] = useState<string | null>(null);
  if (!src || broken === src) {
    return (
      <div role="img" aria-label={alt} style={{ ...style, display: "grid", placeItems: "center", background: "#f0f0f0", color: "#bbb", fontSize: 20 }}>
        <PictureOutlined />
      </div>
    );
  }
  return <img src={src} alt={alt} style={{ ...style, objectFit: "cover", display: "block" }} onError={() => setBroken(src)} />;
}

function Images({ images }: { images: PostAttachment[] }) {
  const { t } = useTranslation("moments");
  const grid = imageGrid(images.length);
  if (!grid) return null;
  if (grid.single) {
    const image = images[0];
    return (
      <div data-testid="preview-grid" data-columns={1}>
        <Picture src={image.file_url ?? image.preview_url} alt={image.title || t("preview.image")} style={{ maxWidth: 180, maxHeight: 180, minWidth: 100, minHeight: 100 }} />
      </div>
    );
  }
  const cell = grid.columns === 2 ? 84 : 76;
  return (
    <div data-testid="preview-grid" data-columns={grid.columns} style={{ display: "grid", gridTemplateColumns: `repeat(${grid.columns}, ${cell}px)`, gap: 4 }}>
      {images.slice(0, 9).map((image, i) => (
        <Picture key={`${image.file_url ?? image.title}-${i}`} src={image.file_url ?? image.preview_url} alt={image.title || t("preview.image")} style={{ width: cell, height: cell }} />
      ))}
    </div>
  );
}

function LinkCard({ link }: { link: PostAttachment }) {
  const { t } = useTranslation("moments");
  const cover = link.preview_url;
  return (
    <div data-testid="preview-link" style={{ display: "flex", gap: 8, alignItems: "center", background: "#f3f3f5", padding: 6, maxWidth: 250 }}>
      {cover ? (
        <Picture src={cover} alt={t("preview.linkCover")} style={{ width: 44, height: 44, flex: "none" }} />
      ) : (
        <div style={{ width: 44, height: 44, flex: "none", background: "#fff", display: "grid", placeItems: "center", color: "#07c160", fontSize: 20 }}>
          <LinkOutlined />
        </div>
      )}
      <div style={{ fontSize: 13, color: "#111", ...CLAMP(2) }}>{link.title || link.url}</div>
    </div>
  );
}

function VideoCover({ video }: { video: PostAttachment }) {
  const { t } = useTranslation("moments");
  return (
    <div
      data-testid="preview-video"
      role="img"
      aria-label={t("preview.video", { name: video.title })}
      style={{ position: "relative", width: 140, height: 180, background: "#222", color: "#fff", display: "grid", placeItems: "center", fontSize: 40 }}
    >
      {video.preview_url && <img src={video.preview_url} alt="" style={{ position: "absolute", inset: 0, width: "100%", height: "100%", objectFit: "cover" }} />}
      <PlayCircleFilled style={{ position: "relative" }} />
    </div>
  );
}

/** The post in a phone's Moments feed. `attachments` in order (null: one that could not be loaded, left
 * out). */
export default function MomentPreview({ member, text, attachments }: { member: string; text: string; attachments: (PostAttachment | null)[] }) {
  const { t } = useTranslation("moments");
  const [open, setOpen] = useState(false);
  const shown = attachments.filter((m): m is PostAttachment => m !== null);
  const images = shown.filter((m) => m.kind === "image");
  const video = shown.find((m) => m.kind === "video");
  const link = shown.find((m) => m.kind === "link");
  const body = text.trim();
  const folded = folds(body);
  const empty = !body && !shown.length;
  return (
    <section aria-label={t("preview.title")} data-testid="moment-preview">
      <div style={{ width: 340, maxWidth: "100%", margin: "0 auto", border: "10px solid #1f1f1f", borderRadius: 28, overflow: "hidden", background: "#fff" }}>
        <div style={{ height: 90, background: "linear-gradient(135deg, #6d8db8, #a9c2de)", position: "relative", marginBottom: 26 }}>
          <div aria-hidden style={{ position: "absolute", right: 12, bottom: -20, width: 48, height: 48, borderRadius: 6, background: "#ccc", border: "2px solid #fff" }} />
        </div>
        <div style={{ display: "flex", gap: 10, padding: "8px 12px 16px", minHeight: 260 }}>
          <div
            aria-hidden
            style={{ width: 40, height: 40, borderRadius: 4, background: "#1677ff", color: "#fff", display: "grid", placeItems: "center", flex: "none", fontWeight: 600 }}
          >
            {Array.from(member.trim())[0] ?? "?"}
          </div>
          <div style={{ minWidth: 0, flex: 1 }}>
            <div style={{ color: NAME_COLOR, fontWeight: 600, fontSize: 15, marginBottom: 4 }} data-testid="preview-member">
              {member}
            </div>
            {empty && <div style={{ color: "#999", fontSize: 13 }}>{t("preview.empty")}</div>}
            {body && (
              <div style={{ fontSize: 15, lineHeight: 1.5, color: "#111", whiteSpace: "pre-wrap", wordBreak: "break-word", ...(folded && !open ? CLAMP(6) : {}) }} data-testid="preview-text">
                {body}
              </div>
            )}
            {folded && (
              <button
                type="button"
                onClick={() => setOpen(!open)}
                style={{ background: "none", border: 0, padding: 0, color: NAME_COLOR, cursor: "pointer", fontSize: 15, margin: "2px 0" }}
                data-testid="preview-fold"
              >
                {open ? t("preview.less") : t("preview.more")}
              </button>
            )}
            <div style={{ marginTop: 8 }}>
              {images.length > 0 && <Images images={images} />}
              {video && <VideoCover video={video} />}
              {link && <LinkCard link={link} />}
            </div>
            <div style={{ display: "flex", justifyContent: "space-between", alignItems: "center", marginTop: 8, fontSize: 12, color: "#999" }}>
              <span>{t("preview.justNow")}</span>
              <span aria-hidden style={{ background: "#f3f3f5", color: NAME_COLOR, borderRadius: 3, padding: "0 6px", fontWeight: 700 }}>
                ··
              </span>
            </div>
          </div>
        </div>
      </div>
    </section>
  );
}
