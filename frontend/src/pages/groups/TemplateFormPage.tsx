// Create or edit a group welcome template: its name (kept here), the text with "insert the newcomer's
// nickname" (%NICKNAME%) and a byte counter, and one optional attachment picked from the content
// library (an image, a link, a mini program, a video or a file) beside a live preview of the group
// chat. Saving goes to WeCom first; the API's refusals land on their fields (`attachment.material_id`).
import "./strings";

import { ArrowLeftOutlined, PlusOutlined } from "@ant-design/icons";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Alert, App, Button, Card, Col, Form, Input, Row, Space, Typography } from "antd";
import type { TextAreaRef } from "antd/es/input/TextArea";
import { useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useParams } from "react-router";

import { ErrorState, Loading } from "../../components/states";
import MaterialCard from "../../components/MaterialCard";
import MaterialPicker from "../../components/MaterialPicker";
import { useApiErrors } from "../channels/useApiErrors";
import { useMaterialsByIds } from "../library/api";
import { ATTACHMENT_KINDS } from "../library/materials";
import { type GroupWelcomeTemplate, api, keys, useTemplate } from "./api";
import TemplatePreview from "./TemplatePreview";
import {
  type AttachmentValue,
  TEXT_MAX_BYTES,
  type TemplateValues,
  insertNickname,
  isEmptyTemplate,
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

/** The attachment: a material of the library (its card), with buttons to pick, change or remove it. */
function AttachmentField({ value, onChange }: { value?: AttachmentValue; onChange?: (value: AttachmentValue) => void }) {
  const { t } = useTranslation("groups");
  const [open, setOpen] = useState(false);
  const materials = useMaterialsByIds(value ? [value.material_id] : []);
  const material = value ? materials.data?.[value.material_id] : undefined;
  return (
    <Space orientation="vertical" style={{ width: "100%" }}>
      {value &&
        (material ? (
          <MaterialCard material={material} />
        ) : (
          <Typography.Text type="secondary">{materials.data ? t("templateForm.attachmentGone", { id: value.material_id }) : "…"}</Typography.Text>
        ))}
      <Space>
        <Button onClick={() => setOpen(true)}>
          {value ? t("templateForm.changeAttachment") : t("templateForm.pickAttachment")}
        </Button>
        {value && <Button onClick={() => onChange?.(null)}>{t("templateForm.removeAttachment")}</Button>}
      </Space>
      <MaterialPicker
        open={open}
        onClose={() => setOpen(false)}
        kinds={ATTACHMENT_KINDS}
        max={1}
        onPick={([picked]) => onChange?.({ material_id: picked.id })}
      />
    </Space>
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
  const attachment: AttachmentValue = Form.useWatch("attachment", { form, preserve: true }) ?? null;

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
            <Form.Item name="attachment" label={t("templateForm.attachment")} extra={t("templateForm.attachmentHint")}>
              <AttachmentField />
            </Form.Item>
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
