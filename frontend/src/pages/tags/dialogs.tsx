// The Tags page's dialogs: a new group with its first tags, and one name (rename, add a tag).
// Invalid fields come back from the API onto the form; WeCom's refusals show in the dialog.
import { MinusCircleOutlined, PlusOutlined } from "@ant-design/icons";
import { Button, Form, type FormInstance, Input, Modal, Space, Typography } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";

import { ApiError } from "../../api/client";
import { WriteErrorAlert } from "./wecom";

export const NAME_MAX = 30; // WeCom's limit for tag and group names

type NamePath = (string | number)[];

/** Put the API's field errors on the form's fields; true when every error found its field. */
function placeFieldErrors(form: FormInstance, error: unknown, known: (path: NamePath) => boolean): boolean {
  if (!(error instanceof ApiError) || error.problem.type === "wecom_error") return false;
  const fields: { name: NamePath; errors: string[] }[] = [];
  let placed = true;
  for (const [path, message] of Object.entries(error.fieldErrors())) {
    const name = path.split(".").map((part) => (/^\d+$/.test(part) ? Number(part) : part));
    if (known(name)) fields.push({ name, errors: [message] });
    else placed = false;
  }
  form.setFields(fields);
  return placed && fields.length > 0 && fields.length === error.problem.errors.length;
}

function useNameRules() {
  const { t } = useTranslation("tags");
  return [
    { required: true, whitespace: true, message: t("form.required") },
    { max: NAME_MAX, message: t("form.tooLong") },
  ];
}

export interface NewGroup {
  name: string;
  tags: string[];
}

export function CreateGroupDialog({ onCreate, onClose }: { onCreate: (group: NewGroup) => Promise<unknown>; onClose: () => void }) {
  const { t } = useTranslation("tags");
  const [form] = Form.useForm<{ name: string; tags: { name: string }[] }>();
  const [error, setError] = useState<unknown>(null);
  const [saving, setSaving] = useState(false);
  const rules = useNameRules();

  const submit = async () => {
    const values = await form.validateFields().catch(() => null);
    if (!values) return;
    setSaving(true);
    setError(null);
    try {
      await onCreate({ name: values.name.trim(), tags: values.tags.map((tag) => tag.name.trim()) });
      onClose();
    } catch (err) {
      const known = (path: NamePath) =>
        (path.length === 1 && path[0] === "name") ||
        (path.length === 3 && path[0] === "tags" && typeof path[1] === "number" && path[2] === "name");
      if (!placeFieldErrors(form, err, known)) setError(err);
    } finally {
      setSaving(false);
    }
  };

  return (
    <Modal
      open
      title={t("form.createTitle")}
      okText={t("form.submitCreate")}
      cancelText={t("common:action.cancel")}
      onOk={() => void submit()}
      onCancel={onClose}
      confirmLoading={saving}
      destroyOnHidden
    >
      <Form form={form} name="tag-group-create" layout="vertical" initialValues={{ tags: [{ name: "" }] }}>
        <Typography.Paragraph type="secondary">{t("form.groupHint")}</Typography.Paragraph>
        <Form.Item name="name" label={t("form.groupName")} rules={rules}>
          <Input autoFocus count={{ show: true, max: NAME_MAX }} onPressEnter={() => void submit()} />
        </Form.Item>
        <Form.List name="tags">
          {(fields, { add, remove }) => (
            <>
              {fields.map((field, index) => (
                <Space key={field.key} align="baseline" style={{ display: "flex" }}>
                  <Form.Item
                    name={[field.name, "name"]}
                    label={t("form.tagLabel", { index: index + 1 })}
                    rules={rules}
                    style={{ width: 380 }}
                  >
                    <Input count={{ show: true, max: NAME_MAX }} onPressEnter={() => void submit()} />
                  </Form.Item>
                  {fields.length > 1 && (
                    <Button
                      type="text"
                      icon={<MinusCircleOutlined />}
                      aria-label={t("form.removeTag", { index: index + 1 })}
                      onClick={() => remove(field.name)}
                    />
                  )}
                </Space>
              ))}
              <Button type="dashed" icon={<PlusOutlined />} onClick={() => add({ name: "" })}>
                {t("form.addAnotherTag")}
              </Button>
            </>
          )}
        </Form.List>
      </Form>
      {error !== null && (
        <div style={{ marginTop: 16 }}>
          <WriteErrorAlert error={error} />
        </div>
      )}
    </Modal>
  );
}

/** One name to give: rename a group or a tag, or add a tag to a group. */
export function NameDialog({
  formName,
  title,
  label,
  initial = "",
  okText,
  onSubmit,
  onClose,
}: {
  formName: string;
  title: string;
  label: string;
  initial?: string;
  okText: string;
  onSubmit: (name: string) => Promise<unknown>;
  onClose: () => void;
}) {
  const { t } = useTranslation("tags");
  const [form] = Form.useForm<{ name: string }>();
  const [error, setError] = useState<unknown>(null);
  const [saving, setSaving] = useState(false);
  const rules = useNameRules();

  const submit = async () => {
    const values = await form.validateFields().catch(() => null);
    if (!values) return;
    const name = values.name.trim();
    if (name === initial) {
      onClose(); // nothing to ask WeCom
      return;
    }
    setSaving(true);
    setError(null);
    try {
      await onSubmit(name);
      onClose();
    } catch (err) {
      if (!placeFieldErrors(form, err, (path) => path.length === 1 && path[0] === "name")) setError(err);
    } finally {
      setSaving(false);
    }
  };

  return (
    <Modal
      open
      title={title}
      okText={okText}
      cancelText={t("common:action.cancel")}
      onOk={() => void submit()}
      onCancel={onClose}
      confirmLoading={saving}
      destroyOnHidden
    >
      <Form form={form} name={formName} layout="vertical" initialValues={{ name: initial }}>
        <Form.Item name="name" label={label} rules={rules}>
          <Input autoFocus count={{ show: true, max: NAME_MAX }} onPressEnter={() => void submit()} />
        </Form.Item>
      </Form>
      {error !== null && <WriteErrorAlert error={error} />}
    </Modal>
  );
}
