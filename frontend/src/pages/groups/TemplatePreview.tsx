// A group welcome as a newcomer sees it in the WeChat group: the join notice, then the owner's
// messages — the text with %NICKNAME% filled in (marked), and the attachment (a material of the
// library) as WeChat draws it.
import "./strings";

import { Tooltip, Typography } from "antd";
import { useTranslation } from "react-i18next";

import { AttachmentBubble, BUBBLE, CHAT_BG } from "../channels/WelcomePreview";
import { useMaterialsByIds } from "../library/api";
import { type AttachmentValue, renderNickname } from "./welcome";

function Sender({ name }: { name: string }) {
  return (
    <div
      aria-hidden
      style={{ width: 36, height: 36, borderRadius: 4, background: "#07c160", color: "#fff", display: "grid", placeItems: "center", flex: "none", fontWeight: 600 }}
    >
      {Array.from(name.trim())[0] ?? "?"}
    </div>
  );
}

export default function TemplatePreview({
  text,
  attachment,
  nickname,
  sender,
  group,
}: {
  text: string;
  attachment: AttachmentValue | null | undefined;
  nickname: string;
  sender: string;
  group: string;
}) {
  const { t } = useTranslation("groups");
  const item = attachment ?? null;
  const materials = useMaterialsByIds(item ? [item.material_id] : []);
  const trimmed = text.trim();
  return (
    <section aria-label={t("templateForm.preview")} data-testid="template-preview">
      <div style={{ width: 320, maxWidth: "100%", margin: "0 auto", border: "10px solid #1f1f1f", borderRadius: 28, overflow: "hidden", background: CHAT_BG }}>
        <div style={{ padding: "10px 12px", textAlign: "center", fontWeight: 600, borderBottom: "1px solid #ddd" }}>{group}</div>
        <div style={{ minHeight: 320, padding: "12px 12px 4px" }}>
          <div style={{ textAlign: "center", fontSize: 12, color: "#999", margin: "4px 12px 14px" }}>{t("templateForm.joinedNotice", { nickname })}</div>
          {!trimmed && !item && (
            <div style={{ textAlign: "center", fontSize: 12, color: "#999" }} data-testid="preview-empty">
              {t("templateForm.previewEmpty")}
            </div>
          )}
          {trimmed && (
            <div style={{ display: "flex", gap: 8, marginBottom: 14 }}>
              <Sender name={sender} />
              <div>
                <div style={{ fontSize: 12, color: "#888", marginBottom: 2 }}>{sender}</div>
                <div style={{ ...BUBBLE, whiteSpace: "pre-wrap" }} data-testid="preview-text">
                  {renderNickname(trimmed, nickname).map((piece, i) =>
                    piece.nickname ? (
                      <Tooltip key={i} title={t("templateForm.nicknameHint")}>
                        <mark style={{ background: "#e6f4ff", padding: 0, color: "inherit" }}>{piece.text}</mark>
                      </Tooltip>
                    ) : (
                      <span key={i}>{piece.text}</span>
                    ),
                  )}
                </div>
              </div>
            </div>
          )}
          {item && (
            <div style={{ display: "flex", gap: 8, marginBottom: 14 }}>
              <Sender name={sender} />
              <div>
                <div style={{ fontSize: 12, color: "#888", marginBottom: 2 }}>{sender}</div>
                <AttachmentBubble material={materials.data?.[item.material_id]} />
              </div>
            </div>
          )}
        </div>
      </div>
      <Typography.Paragraph type="secondary" style={{ textAlign: "center", marginTop: 8, fontSize: 12 }}>
        {t("templateForm.sample", { nickname })}
      </Typography.Paragraph>
    </section>
  );
}
