// The welcome message's fields inside a form (under the name `welcome`): the text with buttons that
// insert the customer's or the member's name where the cursor is (or a text of the content library),
// and up to nine attachments picked from the content library — images, links, mini programs, videos,
// files — in the order they are sent. The API checks everything and names what is wrong
// (`welcome.attachments.2.material_id`): its messages land on these fields.
import "./strings";

import { ArrowDownOutlined, ArrowUpOutlined, DeleteOutlined, FileTextOutlined, FolderOpenOutlined, PlusOutlined } from "@ant-design/icons";
import { Button, Card, Form, type FormInstance, Input, Space, Typography } from "antd";
import type { TextAreaRef } from "antd/es/input/TextArea";
import { useRef, useState } from "react";
import { useTranslation } from "react-i18next";

import MaterialCard from "../../components/MaterialCard";
import MaterialPicker from "../../components/MaterialPicker";
import { type Material, useMaterialsByIds } from "../library/api";
import { ATTACHMENT_KINDS } from "../library/materials";
import {
  type Attachment,
  MAX_ATTACHMENTS,
  PLACEHOLDERS,
  type Placeholder,
  TEXT_MAX_BYTES,
  insertPlaceholder,
  textBytes,
  unknownPlaceholders,
} from "./welcome";

/** One attachment's material (the form keeps its id), as the library shows it. */
function AttachedMaterial({ value, materials }: { value?: number; materials: Record<number, Material> | undefined }) {
  const { t } = useTranslation("channels");
  const material = value !== undefined ? materials?.[value] : undefined;
  if (material) return <MaterialCard material={material} />;
  return <Typography.Text type="secondary">{materials ? t("welcome.gone", { id: value }) : "…"}</Typography.Text>;
}

function TextField({ form }: { form: FormInstance }) {
  const { t } = useTranslation("channels");
  const ref = useRef<TextAreaRef>(null);
  const text: string = Form.useWatch(["welcome", "text"], form) ?? "";
  const [picking, setPicking] = useState(false);
  const bytes = textBytes(text);
  const unknown = unknownPlaceholders(text);

  const insert = (name: Placeholder) => {
    const area = ref.current?.resizableTextArea?.textArea;
    const current: string = form.getFieldValue(["welcome", "text"]) ?? "";
    const start = area?.selectionStart ?? current.length;
    const end = area?.selectionEnd ?? current.length;
    const next = insertPlaceholder(current, start, end, name);
    form.setFieldValue(["welcome", "text"], next.text);
    // The cursor goes after what was inserted, ready to type on.
    requestAnimationFrame(() => {
      area?.focus();
      area?.setSelectionRange(next.caret, next.caret);
    });
  };

  return (
    <>
      <MaterialPicker
        open={picking}
        onClose={() => setPicking(false)}
        kinds={["text"]}
        max={1}
        title={t("welcome.textFromLibrary")}
        onPick={([material]) => form.setFieldValue(["welcome", "text"], material.text)}
      />
    <Form.Item
      name={["welcome", "text"]}
      label={t("welcome.text")}
      extra={
        <div style={{ display: "flex", flexWrap: "wrap", gap: 8, justifyContent: "space-between", marginTop: 4 }}>
          <Space wrap size={4}>
            <Typography.Text type="secondary" style={{ fontSize: 12 }}>
              {t("welcome.insertLabel")}
            </Typography.Text>
            {PLACEHOLDERS.map((name) => (
              <Button key={name} size="small" icon={<PlusOutlined />} onClick={() => insert(name)}>
                {t(`welcome.insert.${name}`)}
              </Button>
            ))}
            <Button size="small" icon={<FileTextOutlined />} onClick={() => setPicking(true)}>
              {t("welcome.textFromLibrary")}
            </Button>
          </Space>
          <Space wrap>
            {unknown.length > 0 && (
              <Typography.Text type="danger" style={{ fontSize: 12 }}>
                {t("welcome.unknown", { names: unknown.map((n) => `{${n}}`).join(", ") })}
              </Typography.Text>
            )}
            <Typography.Text type={bytes > TEXT_MAX_BYTES ? "danger" : "secondary"} style={{ fontSize: 12 }}>
              {t("welcome.bytes", { bytes: bytes.toLocaleString(), max: TEXT_MAX_BYTES.toLocaleString() })}
            </Typography.Text>
          </Space>
        </div>
      }
    >
      <Input.TextArea ref={ref} rows={5} placeholder={t("welcome.textPlaceholder")} />
    </Form.Item>
    </>
  );
}

export default function WelcomeEditor({ form }: { form: FormInstance }) {
  const { t } = useTranslation("channels");
  const [picking, setPicking] = useState(false);
  const attached: Attachment[] = Form.useWatch(["welcome", "attachments"], { form, preserve: true }) ?? [];
  const ids = attached.map((a) => a?.material_id).filter((id): id is number => typeof id === "number");
  const materials = useMaterialsByIds(ids);
  return (
    <div data-testid="welcome-editor">
      <TextField form={form} />
      <Form.List name={["welcome", "attachments"]}>
        {(fields, { add, remove, move }, { errors }) => (
          <>
            <Typography.Text strong>{t("welcome.attachments", { count: fields.length, max: MAX_ATTACHMENTS })}</Typography.Text>
            <Typography.Paragraph type="secondary" style={{ fontSize: 12, marginBottom: 8 }}>
              {t("welcome.attachmentHint")}
            </Typography.Paragraph>
            <Space orientation="vertical" style={{ width: "100%" }}>
              {fields.map((field, position) => {
                const label = t("welcome.attachmentLabel", { n: position + 1 });
                return (
                  <Card
                    key={field.key}
                    size="small"
                    role="group"
                    aria-label={label}
                    data-testid="attachment"
                    title={label}
                    extra={
                      <Space size={4}>
                        <Button
                          size="small"
                          type="text"
                          icon={<ArrowUpOutlined />}
                          aria-label={t("welcome.moveUp", { n: position + 1 })}
                          disabled={position === 0}
                          onClick={() => move(position, position - 1)}
                        />
                        <Button
                          size="small"
                          type="text"
                          icon={<ArrowDownOutlined />}
                          aria-label={t("welcome.moveDown", { n: position + 1 })}
                          disabled={position === fields.length - 1}
                          onClick={() => move(position, position + 1)}
                        />
                        <Button
                          size="small"
                          type="text"
                          danger
                          icon={<DeleteOutlined />}
                          aria-label={t("welcome.remove", { n: position + 1 })}
                          onClick={() => remove(field.name)}
                        />
                      </Space>
                    }
                  >
                    <Form.Item name={[field.name, "material_id"]} style={{ margin: 0 }}>
                      <AttachedMaterial materials={materials.data} />
                    </Form.Item>
                  </Card>
                );
              })}
            </Space>
            <Form.ErrorList errors={errors} />
            <Button
              icon={<FolderOpenOutlined />}
              style={{ marginTop: 8, display: "flex" }}
              disabled={fields.length >= MAX_ATTACHMENTS}
              onClick={() => setPicking(true)}
            >
              {fields.length >= MAX_ATTACHMENTS ? t("welcome.full", { max: MAX_ATTACHMENTS }) : t("welcome.addAttachment")}
            </Button>
            <MaterialPicker
              open={picking}
              onClose={() => setPicking(false)}
              kinds={ATTACHMENT_KINDS}
              max={MAX_ATTACHMENTS - fields.length}
              exclude={ids}
              onPick={(picked) => picked.forEach((material) => add({ material_id: material.id }))}
            />
          </>
        )}
      </Form.List>
    </div>
  );
}
