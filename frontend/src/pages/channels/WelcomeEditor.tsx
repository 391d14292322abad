// The welcome message's fields inside a form (under the name `welcome`): the text with buttons that
// insert the customer's or the member's name where the cursor is, and up to nine attachments —
// images (uploaded here), links and mini programs. The API checks everything and names what is
// wrong (`welcome.attachments.2.url`): its messages land on these fields.
import "./strings";

import {
  AppstoreOutlined,
  ArrowDownOutlined,
  ArrowUpOutlined,
  DeleteOutlined,
  LinkOutlined,
  PictureOutlined,
  PlusOutlined,
} from "@ant-design/icons";
import { Button, Card, Dropdown, Form, type FormInstance, Input, Space, Typography } from "antd";
import type { TextAreaRef } from "antd/es/input/TextArea";
import { type ReactNode, useRef } from "react";
import { useTranslation } from "react-i18next";

import { MediaField } from "./MediaField";
import {
  type AttachmentType,
  MAX_ATTACHMENTS,
  PLACEHOLDERS,
  type Placeholder,
  TEXT_MAX_BYTES,
  insertPlaceholder,
  newAttachment,
  textBytes,
  unknownPlaceholders,
} from "./welcome";

const TYPE_ICON: Record<AttachmentType, ReactNode> = {
  image: <PictureOutlined />,
  link: <LinkOutlined />,
  miniprogram: <AppstoreOutlined />,
};

/** An uploaded image's id, with its thumbnail and an upload (or replace) button. */
function AttachmentFields({ index, type }: { index: number; type: AttachmentType }) {
  const { t } = useTranslation("channels");
  const required = [{ required: true, whitespace: true, message: t("form.required") }];
  if (type === "image") {
    return (
      <Form.Item name={[index, "media"]} label={t("welcome.image")} rules={[{ required: true, message: t("welcome.imageRequired") }]}>
        <MediaField label={t("welcome.image")} />
      </Form.Item>
    );
  }
  if (type === "link") {
    return (
      <>
        <Form.Item name={[index, "title"]} label={t("welcome.linkTitle")} rules={required}>
          <Input maxLength={128} placeholder={t("welcome.linkTitlePlaceholder")} />
        </Form.Item>
        <Form.Item name={[index, "url"]} label={t("welcome.linkUrl")} rules={required}>
          <Input inputMode="url" placeholder="https://" />
        </Form.Item>
        <Form.Item name={[index, "description"]} label={t("welcome.linkDescription")}>
          <Input.TextArea rows={2} maxLength={512} />
        </Form.Item>
        <Form.Item name={[index, "picture_url"]} label={t("welcome.linkPicture")} extra={t("welcome.linkPictureHint")}>
          <Input inputMode="url" placeholder="https://" />
        </Form.Item>
      </>
    );
  }
  return (
    <>
      <Form.Item name={[index, "appid"]} label={t("welcome.appid")} rules={required} extra={t("welcome.appidHint")}>
        <Input placeholder="wx0123456789abcdef" />
      </Form.Item>
      <Form.Item name={[index, "page"]} label={t("welcome.page")} rules={required} extra={t("welcome.pageHint")}>
        <Input placeholder="pages/index.html" />
      </Form.Item>
      <Form.Item name={[index, "title"]} label={t("welcome.miniprogramTitle")} rules={required}>
        <Input />
      </Form.Item>
      <Form.Item name={[index, "media"]} label={t("welcome.cover")} rules={[{ required: true, message: t("welcome.imageRequired") }]}>
        <MediaField label={t("welcome.cover")} />
      </Form.Item>
    </>
  );
}

function TextField({ form }: { form: FormInstance }) {
  const { t } = useTranslation("channels");
  const ref = useRef<TextAreaRef>(null);
  const text: string = Form.useWatch(["welcome", "text"], form) ?? "";
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
  );
}

export default function WelcomeEditor({ form }: { form: FormInstance }) {
  const { t } = useTranslation("channels");
  return (
    <div data-testid="welcome-editor">
      <TextField form={form} />
      <Form.List name={["welcome", "attachments"]}>
        {(fields, { add, remove, move }, { errors }) => (
          <>
            <Typography.Text strong>{t("welcome.attachments", { count: fields.length, max: MAX_ATTACHMENTS })}</Typography.Text>
            <Space orientation="vertical" style={{ width: "100%", marginTop: 8 }}>
              {fields.map((field, position) => {
                const type = (form.getFieldValue(["welcome", "attachments", field.name, "type"]) ?? "link") as AttachmentType;
                const label = t("welcome.attachmentLabel", { n: position + 1, type: t(`welcome.type.${type}`) });
                return (
                  <Card
                    key={field.key}
                    size="small"
                    role="group"
                    aria-label={label}
                    data-testid="attachment"
                    title={
                      <Space>
                        {TYPE_ICON[type]}
                        {label}
                      </Space>
                    }
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
                    <AttachmentFields index={field.name} type={type} />
                  </Card>
                );
              })}
            </Space>
            <Form.ErrorList errors={errors} />
            <Dropdown
              disabled={fields.length >= MAX_ATTACHMENTS}
              trigger={["click"]}
              menu={{
                items: (["image", "link", "miniprogram"] as const).map((type) => ({
                  key: type,
                  icon: TYPE_ICON[type],
                  label: t(`welcome.add.${type}`),
                })),
                onClick: ({ key }) => add(newAttachment(key as AttachmentType)),
              }}
            >
              <Button icon={<PlusOutlined />} style={{ marginTop: 8, display: "flex" }} disabled={fields.length >= MAX_ATTACHMENTS}>
                {fields.length >= MAX_ATTACHMENTS ? t("welcome.full", { max: MAX_ATTACHMENTS }) : t("welcome.addAttachment")}
              </Button>
            </Dropdown>
          </>
        )}
      </Form.List>
    </div>
  );
}
