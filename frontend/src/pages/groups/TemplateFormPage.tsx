// Create or edit a group welcome template: its name (kept here), the text with "insert the newcomer's
// nickname" (%NICKNAME%) and a byte counter, and one optional attachment — an image (uploaded as it
// is picked), a link or a mini program — beside a live preview of the group chat. Saving goes to
// WeCom first; the API's refusals land on their fields (`attachment.url`).
import "./strings";

import { ArrowLeftOutlined, PlusOutlined } from "@ant-design/icons";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Alert, App, Button, Card, Col, Form, Input, Row, Segmented, Space, Typography } from "antd";
import type { TextAreaRef } from "antd/es/input/TextArea";
import { useRef } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useParams } from "react-router";

import { ErrorState, Loading } from "../../components/states";
import { MediaField } from "../channels/MediaField";
import { useApiErrors } from "../channels/useApiErrors";
import { type GroupWelcomeTemplate, api, keys, useTemplate } from "./api";
import TemplatePreview from "./TemplatePreview";
import {
  ATTACHMENT_TYPES,
  type AttachmentType,
  type AttachmentValue,
  TEXT_MAX_BYTES,
  type TemplateValues,
  insertNickname,
  isEmptyTemplate,
  newAttachment,
  templateForForm,
  templateForSubmit,
  textBytes,
} from "./welcome";

const NAME_MAX = 60;

function TextField() {
  const { t } = useTranslation("groups");
  const form = Form.useFormInstance<TemplateValues>();
  const ref = useRef<TextAreaRef>(null);
  const text: string = Form.useWatch("text", form) ?? "";
  const bytes = textBytes(text);
  const insert = () => {
    const area = ref.current?.resizableTextArea?.textArea;
    const current: string = form.getFieldValue("text") ?? "";
    const next = insertNickname(current, area?.selectionStart ?? current.length, area?.selectionEnd ?? current.length);
    form.setFieldValue("text", next.text);
    requestAnimationFrame(() => {
      area?.focus();
      area?.setSelectionRange(next.caret, next.caret);
    });
  };
  return (
    <Form.Item
      name="text"
      label={t("templateForm.text")}
      extra={
        <div style={{ display: "flex", flexWrap: "wrap", gap: 8, justifyContent: "space-between", marginTop: 4 }}>
          <Button size="small" icon={<PlusOutlined />} onClick={insert}>
            {t("templateForm.insertNickname")}
          </Button>
          <Typography.Text type={bytes > TEXT_MAX_BYTES ? "danger" : "secondary"} style={{ fontSize: 12 }}>
            {t("templateForm.bytes", { bytes: bytes.toLocaleString(), max: TEXT_MAX_BYTES.toLocaleString() })}
          </Typography.Text>
        </div>
      }
    >
      <Input.TextArea ref={ref} rows={5} placeholder={t("templateForm.textPlaceholder")} />
    </Form.Item>
  );
}

function AttachmentFields({ type }: { type: AttachmentType }) {
  const { t } = useTranslation("groups");
  const required = [{ required: true, whitespace: true, message: t("templateForm.required") }];
  const image = [{ required: true, message: t("templateForm.imageRequired") }];
  if (type === "image") {
    return (
      <Form.Item name={["attachment", "media_asset_id"]} label={t("templateForm.image")} rules={image}>
        <MediaField label={t("templateForm.image")} />
      </Form.Item>
    );
  }
  if (type === "link") {
    return (
      <>
        <Form.Item name={["attachment", "title"]} label={t("templateForm.linkTitle")} rules={required}>
          <Input maxLength={128} />
        </Form.Item>
        <Form.Item name={["attachment", "url"]} label={t("templateForm.linkUrl")} rules={required}>
          <Input inputMode="url" placeholder="https://" />
        </Form.Item>
        <Form.Item name={["attachment", "description"]} label={t("templateForm.linkDescription")}>
          <Input.TextArea rows={2} maxLength={512} />
        </Form.Item>
        <Form.Item name={["attachment", "picture_url"]} label={t("templateForm.linkPicture")}>
          <Input inputMode="url" placeholder="https://" />
        </Form.Item>
      </>
    );
  }
  return (
    <>
      <Form.Item name={["attachment", "title"]} label={t("templateForm.miniprogramTitle")} rules={required}>
        <Input maxLength={64} />
      </Form.Item>
      <Form.Item name={["attachment", "appid"]} label={t("templateForm.appid")} rules={required} extra={t("templateForm.appidHint")}>
        <Input placeholder="wx0123456789abcdef" />
      </Form.Item>
      <Form.Item name={["attachment", "page"]} label={t("templateForm.page")} rules={required} extra={t("templateForm.pageHint")}>
        <Input placeholder="pages/index.html" />
      </Form.Item>
      <Form.Item name={["attachment", "media_asset_id"]} label={t("templateForm.cover")} rules={image}>
        <MediaField label={t("templateForm.cover")} />
      </Form.Item>
    </>
  );
}

function TemplateForm({ template }: { template?: GroupWelcomeTemplate }) {
  const { t } = useTranslation("groups");
  const { message } = App.useApp();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [form] = Form.useForm<TemplateValues>();
  const errors = useApiErrors(form);
  const text: string = Form.useWatch("text", form) ?? template?.text ?? "";
  const attachment: AttachmentValue | null = Form.useWatch("attachment", { form, preserve: true }) ?? null;
  const type = attachment?.msgtype ?? "none";

  const save = useMutation({
    mutationFn: (values: TemplateValues) => {
      const body = templateForSubmit(values) as Parameters<typeof api.createTemplate>[0];
      return template ? api.updateTemplate(template.id, body) : api.createTemplate(body);
    },
    onSuccess: async (saved) => {
      void message.success(template ? t("templateForm.saved", { name: saved.name }) : t("templateForm.created", { name: saved.name }));
      await queryClient.invalidateQueries({ queryKey: keys.templates });
      navigate("/groups/welcome");
    },
    onError: (error) => {
      const placed = errors.show(error);
      if (placed?.fields.length) form.scrollToField(placed.fields[0].name as Parameters<typeof form.scrollToField>[0], { block: "center" });
    },
  });

  return (
    <Form<TemplateValues>
      form={form}
      name="group-welcome"
      layout="vertical"
      initialValues={templateForForm(template)}
      onValuesChange={errors.onValuesChange}
      onFinish={() => {
        errors.reset();
        const values = form.getFieldsValue(true) as TemplateValues;
        if (isEmptyTemplate(values)) {
          form.setFields([{ name: "text", errors: [t("templateForm.emptyTemplate")] }]);
          return;
        }
        save.mutate(values);
      }}
    >
      {errors.general.length > 0 && (
        <Alert
          type="error"
          showIcon
          style={{ marginBottom: 16 }}
          title={t("templateForm.refused")}
          description={errors.general.length === 1 ? errors.general[0] : <ul style={{ margin: 0, paddingLeft: 18 }}>{errors.general.map((g) => <li key={g}>{g}</li>)}</ul>}
          data-testid="form-error"
        />
      )}
      <Row gutter={[24, 16]}>
        <Col xs={24} lg={14}>
          <Card>
            <Form.Item name="name" label={t("templateForm.name")} extra={t("templateForm.nameHint")} rules={[{ required: true, whitespace: true, message: t("templateForm.nameRequired") }]}>
              <Input maxLength={NAME_MAX} showCount />
            </Form.Item>
            <TextField />
            <Form.Item label={t("templateForm.attachment")} htmlFor="template-attachment-type">
              <Segmented<AttachmentType | "none">
                id="template-attachment-type"
                value={type}
                onChange={(next) => form.setFieldValue("attachment", next === "none" ? null : newAttachment(next))}
                options={[
                  { value: "none", label: t("templateForm.type.none") },
                  ...ATTACHMENT_TYPES.map((k) => ({ value: k, label: t(`templateForm.type.${k}`) })),
                ]}
              />
            </Form.Item>
            {attachment?.msgtype && <AttachmentFields type={attachment.msgtype} />}
            <Space>
              <Button type="primary" htmlType="submit" loading={save.isPending}>
                {template ? t("templateForm.save") : t("templateForm.create")}
              </Button>
              <Button onClick={() => navigate("/groups/welcome")}>{t("common:action.cancel")}</Button>
            </Space>
          </Card>
        </Col>
        <Col xs={24} lg={10}>
          <div style={{ position: "sticky", top: 24 }}>
            <Card size="small" title={t("templateForm.preview")}>
              <TemplatePreview
                text={text}
                attachment={attachment}
                nickname={t("templateForm.sampleNickname")}
                sender={t("templateForm.sampleOwner")}
                group={t("templateForm.sampleGroup")}
              />
            </Card>
          </div>
        </Col>
      </Row>
    </Form>
  );
}

export default function TemplateFormPage() {
  const { t } = useTranslation("groups");
  const params = useParams();
  const id = params.id === undefined ? null : Number(params.id);
  const template = useTemplate(id ?? 0, id !== null);
  return (
    <div>
      <Link to="/groups/welcome">
        <ArrowLeftOutlined /> {t("templates.title")}
      </Link>
      <Typography.Title level={3} style={{ marginTop: 8 }}>
        {id === null ? t("templateForm.newTitle") : t("templateForm.editTitle", { name: template.data?.name ?? "" })}
      </Typography.Title>
      {id === null ? (
        <TemplateForm />
      ) : template.isPending ? (
        <Loading rows={8} />
      ) : template.isError ? (
        <ErrorState error={template.error} onRetry={() => void template.refetch()} />
      ) : (
        <TemplateForm key={`${template.data.id}-${template.data.updated_at}`} template={template.data} />
      )}
    </div>
  );
}
