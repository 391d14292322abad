// Step 2: what they get. The text (with a byte counter against WeCom's 4,000 bytes, or filled from a
// text material) and up to nine attachments from the content library, beside a phone-style preview of
// the WeChat chat.
import "./strings";

import { ArrowDownOutlined, ArrowUpOutlined, DeleteOutlined, FileTextOutlined, PlusOutlined } from "@ant-design/icons";
import { Alert, Button, Card, Col, Form, Input, List, Row, Space, Typography } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";

import { MAX_ATTACHMENTS, byteCount, formatCount, placeholdersIn } from "../../lib/campaigns";
import { ATTACHMENT_KINDS } from "./materials";
import MaterialCard from "../../components/MaterialCard";
import MaterialPicker from "../../components/MaterialPicker";
import PhonePreview from "./PhonePreview";
import type { ChatType, Material } from "./types";

function ByteCounter({ text }: { text: string }) {
  const { t, i18n } = useTranslation("campaigns");
  const count = byteCount(text);
  const n = (v: number) => formatCount(v, i18n.language);
  return (
    <Typography.Text type={count.over ? "danger" : count.near ? "warning" : "secondary"} style={{ fontSize: 12 }} data-testid="byte-counter">
      {count.over ? t("content.bytesOver", { bytes: n(count.bytes), max: n(count.max), over: n(-count.left) }) : t("content.bytes", { bytes: n(count.bytes), max: n(count.max) })}
    </Typography.Text>
  );
}

/** One attachment in the list: the library's card of it, or that it is loading / gone. */
function AttachmentItem({ material }: { material: Material | null | undefined }) {
  const { t } = useTranslation("campaigns");
  if (material === undefined) return <Typography.Text type="secondary">{t("common:state.loading")}</Typography.Text>;
  if (material === null) return <Typography.Text type="danger">{t("content.missing")}</Typography.Text>;
  return <MaterialCard material={material} />;
}

export default function ContentStep({
  materials,
  onMaterials,
  sender,
}: {
  /** The attachments' materials, in the form's order (undefined: loading; null: gone). */
  materials: (Material | null | undefined)[];
  /** Materials picked here (so they show without being loaded again). */
  onMaterials: (picked: Material[]) => void;
  sender: string;
}) {
  const { t } = useTranslation("campaigns");
  const form = Form.useFormInstance();
  const [picking, setPicking] = useState<"attachments" | "text" | null>(null);
  const text: string = Form.useWatch("text", form) ?? "";
  const chatType: ChatType = Form.useWatch("chat_type", form) ?? "single";
  const attachments: { material_id: number }[] = Form.useWatch("attachments", form) ?? [];
  const placeholders = placeholdersIn(text);

  return (
    <Row gutter={[24, 16]}>
      <Col xs={24} lg={14}>
        <Card title={t("content.title")}>
          <Form.Item
            name="text"
            label={t("content.text")}
            extra={
              <div style={{ display: "flex", flexWrap: "wrap", gap: 8, justifyContent: "space-between", marginTop: 4 }}>
                <Button size="small" icon={<FileTextOutlined />} onClick={() => setPicking("text")}>
                  {t("content.fromLibrary")}
                </Button>
                <ByteCounter text={text} />
              </div>
            }
          >
            <Input.TextArea rows={7} placeholder={t("content.textPlaceholder")} />
          </Form.Item>
          {placeholders.length > 0 && (
            <Alert type="warning" showIcon style={{ marginBottom: 16 }} title={t("content.placeholders", { names: placeholders.join(", ") })} data-testid="placeholder-warning" />
          )}
          <Form.List name="attachments">
            {(fields, { remove, move }, { errors }) => (
              <div>
                <Space style={{ width: "100%", justifyContent: "space-between", marginBottom: 8 }} wrap>
                  <Typography.Text strong>{t("content.attachments", { count: fields.length, max: MAX_ATTACHMENTS })}</Typography.Text>
                  <Button icon={<PlusOutlined />} disabled={fields.length >= MAX_ATTACHMENTS} onClick={() => setPicking("attachments")}>
                    {t("content.addAttachment")}
                  </Button>
                </Space>
                {fields.length === 0 ? (
                  <Typography.Paragraph type="secondary">{t("content.noAttachments")}</Typography.Paragraph>
                ) : (
                  <List
                    size="small"
                    bordered
                    dataSource={fields}
                    renderItem={(field, index) => (
                      <List.Item
                        key={field.key}
                        actions={[
                          <Button key="up" size="small" type="text" icon={<ArrowUpOutlined />} disabled={index === 0} aria-label={t("content.moveUp")} onClick={() => move(index, index - 1)} />,
                          <Button
                            key="down"
                            size="small"
                            type="text"
                            icon={<ArrowDownOutlined />}
                            disabled={index === fields.length - 1}
                            aria-label={t("content.moveDown")}
                            onClick={() => move(index, index + 1)}
                          />,
                          <Button key="remove" size="small" type="text" danger icon={<DeleteOutlined />} aria-label={t("content.remove")} onClick={() => remove(index)} />,
                        ]}
                      >
                        <Form.Item name={[field.name, "material_id"]} style={{ marginBottom: 0 }}>
                          <AttachmentItem material={materials[index]} />
                        </Form.Item>
                      </List.Item>
                    )}
                  />
                )}
                <Form.ErrorList errors={errors} />
              </div>
            )}
          </Form.List>
        </Card>
      </Col>
      <Col xs={24} lg={10}>
        <div style={{ position: "sticky", top: 24 }}>
          <Card title={t("phone.title")} size="small">
            <PhonePreview chatType={chatType} sender={sender} text={text} materials={materials.map((m) => m ?? null).filter((_, i) => materials[i] !== undefined)} />
          </Card>
        </div>
      </Col>
      <MaterialPicker
        open={picking !== null}
        max={picking === "text" ? 1 : Math.max(0, MAX_ATTACHMENTS - attachments.length)}
        kinds={picking === "text" ? ["text"] : ATTACHMENT_KINDS}
        exclude={picking === "text" ? [] : attachments.map((a) => a.material_id)}
        title={picking === "text" ? t("content.pickText") : t("content.pickAttachments")}
        onClose={() => setPicking(null)}
        onPick={(picked) => {
          if (picking === "text") {
            if (picked[0]) form.setFieldValue("text", picked[0].text);
          } else {
            onMaterials(picked);
            const next = [...attachments, ...picked.map((m) => ({ material_id: m.id }))].slice(0, MAX_ATTACHMENTS);
            form.setFieldValue("attachments", next);
          }
          setPicking(null);
        }}
      />
    </Row>
  );
}
