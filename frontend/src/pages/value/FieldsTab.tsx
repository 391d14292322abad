// Profile fields: the tenant's own fields on the customer profile. Create one (key and kind are fixed
// from then on), change its label, choices, order and "yearly", archive it (its values stay) and
// restore it. The API's validation errors land on their fields.
import "./strings";

import { PlusOutlined } from "@ant-design/icons";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Alert, App, Button, Form, Input, InputNumber, Modal, Popconfirm, Select, Space, Switch, Table, Tag, Typography } from "antd";
import type { ColumnsType } from "antd/es/table";
import { useState } from "react";
import { useTranslation } from "react-i18next";

import { EmptyState, ErrorState, Loading, errorMessage } from "../../components/states";
import { useApiErrors } from "../channels/useApiErrors";
import { api, keys, useProfileFields } from "./api";
import { CHOICES_MAX, CHOICE_MAX, FIELD_KEY_RE, cleanChoices, hasChoices, suggestKey } from "./format";
import { FIELD_KINDS, type FieldKind, type ProfileField, type ProfileFieldInput } from "./types";

type Values = ProfileFieldInput;

/** Create (`field` null) or edit a field. */
function FieldDialog({ field, nextOrder, onClose }: { field: ProfileField | null; nextOrder: number; onClose: () => void }) {
  const { t } = useTranslation("value");
  const { message } = App.useApp();
  const queryClient = useQueryClient();
  const [form] = Form.useForm<Values>();
  const errors = useApiErrors(form);
  const kind = Form.useWatch("kind", form) as FieldKind | undefined;
  // The key follows a Latin label until someone types a key of their own.
  const [keyTouched, setKeyTouched] = useState(false);
  const save = useMutation({
    mutationFn: (values: Values) => {
      const choices = hasChoices(values.kind) ? cleanChoices(values.choices) : [];
      const yearly = values.kind === "date" ? Boolean(values.yearly) : false;
      const common = { label: values.label.trim(), choices, yearly, order: values.order ?? 0 };
      return field ? api.updateField(field.id, common) : api.createField({ ...common, key: values.key, kind: values.kind });
    },
    onSuccess: (saved) => {
      void queryClient.invalidateQueries({ queryKey: keys.allFields });
      void message.success(t(field ? "fields.updated" : "fields.created", { label: saved.label }));
      onClose();
    },
    onError: (error) => errors.show(error),
  });
  const initial: Values = field
    ? { key: field.key, label: field.label, kind: field.kind, choices: field.choices, yearly: field.yearly, order: field.order }
    : { key: "", label: "", kind: "text", choices: [], yearly: false, order: nextOrder };
  return (
    <Modal
      open
      title={t(field ? "fields.editTitle" : "fields.createTitle")}
      okText={t("common:action.save")}
      cancelText={t("common:action.cancel")}
      onOk={() => form.submit()}
      confirmLoading={save.isPending}
      onCancel={onClose}
      destroyOnHidden
    >
      {errors.general.length > 0 && <Alert type="error" showIcon style={{ marginBottom: 16 }} title={errors.general.join(" ")} />}
      <Form<Values>
        form={form}
        name="profile-field"
        layout="vertical"
        initialValues={initial}
        onValuesChange={(changed: Partial<Values>) => {
          errors.onValuesChange();
          if (!field && !keyTouched && changed.label !== undefined) form.setFieldValue("key", suggestKey(changed.label));
        }}
        onFinish={(values) => {
          errors.reset();
          save.mutate(values);
        }}
      >
        <Form.Item name="label" label={t("fields.label")} rules={[{ required: true, whitespace: true, message: t("fields.required") }]}>
          <Input autoFocus maxLength={64} showCount />
        </Form.Item>
        <Form.Item
          name="key"
          label={t("fields.key")}
          extra={field ? t("fields.keyFixed") : t("fields.keyHint")}
          rules={field ? [] : [{ required: true, message: t("fields.required") }, { pattern: FIELD_KEY_RE, message: t("fields.keyInvalid") }]}
        >
          <Input disabled={field !== null} maxLength={32} autoComplete="off" spellCheck={false} onChange={() => setKeyTouched(true)} />
        </Form.Item>
        <Form.Item name="kind" label={t("fields.kind")}>
          <Select disabled={field !== null} options={FIELD_KINDS.map((value) => ({ value, label: t(`fields.kinds.${value}`) }))} />
        </Form.Item>
        {hasChoices(kind) && (
          <Form.Item
            name="choices"
            label={t("fields.choices")}
            extra={t("fields.choicesHint")}
            rules={[
              {
                validator: (_, value: string[] | undefined) =>
                  cleanChoices(value).length ? Promise.resolve() : Promise.reject(new Error(t("fields.choicesRequired"))),
              },
            ]}
          >
            <Select
              mode="tags"
              open={false}
              suffixIcon={null}
              tokenSeparators={[",", "，"]}
              maxCount={CHOICES_MAX}
              maxTagTextLength={CHOICE_MAX}
              aria-label={t("fields.choices")}
            />
          </Form.Item>
        )}
        {kind === "date" && (
          <Form.Item name="yearly" label={t("fields.yearly")} extra={t("fields.yearlyHint")} valuePropName="checked">
            <Switch />
          </Form.Item>
        )}
        <Form.Item name="order" label={t("fields.order")} extra={t("fields.orderHint")}>
          <InputNumber min={0} max={100000} precision={0} style={{ width: 160 }} />
        </Form.Item>
      </Form>
    </Modal>
  );
}

export default function FieldsTab() {
  const { t } = useTranslation("value");
  const { message } = App.useApp();
  const queryClient = useQueryClient();
  const [showArchived, setShowArchived] = useState(false);
  const [editing, setEditing] = useState<ProfileField | "new" | null>(null);
  const fields = useProfileFields(showArchived);
  const change = useMutation({
    mutationFn: ({ field, archive }: { field: ProfileField; archive: boolean }) =>
      archive ? api.archiveField(field.id) : api.updateField(field.id, { archived: false }),
    onSuccess: (_, { field, archive }) => {
      void queryClient.invalidateQueries({ queryKey: keys.allFields });
      void message.success(t(archive ? "fields.archivedDone" : "fields.restored", { label: field.label }));
    },
    onError: (error) => void message.error(errorMessage(error)),
  });
  const rows = fields.data ?? [];
  const nextOrder = rows.reduce((max, row) => Math.max(max, row.order + 1), 0);

  const columns: ColumnsType<ProfileField> = [
    { key: "label", title: t("fields.label"), render: (_, row) => <Typography.Text strong={!row.archived}>{row.label}</Typography.Text> },
    { key: "key", title: t("fields.key"), render: (_, row) => <Typography.Text code>{row.key}</Typography.Text> },
    {
      key: "kind",
      title: t("fields.kind"),
      render: (_, row) => (
        <>
          {t(`fields.kinds.${row.kind}`)}
          {row.yearly && <Tag style={{ marginInlineStart: 8 }}>{t("fields.yearly")}</Tag>}
        </>
      ),
    },
    {
      key: "choices",
      title: t("fields.choices"),
      render: (_, row) =>
        row.choices.length ? (
          <Space size={[0, 4]} wrap>
            {row.choices.slice(0, 8).map((choice) => (
              <Tag key={choice}>{choice}</Tag>
            ))}
            {row.choices.length > 8 && <Typography.Text type="secondary">+{row.choices.length - 8}</Typography.Text>}
          </Space>
        ) : (
          "—"
        ),
    },
    { key: "order", title: t("fields.order"), align: "right", render: (_, row) => row.order },
    {
      key: "status",
      title: t("fields.status"),
      render: (_, row) => (row.archived ? <Tag>{t("fields.archived")}</Tag> : <Tag color="green">{t("fields.active")}</Tag>),
    },
    {
      key: "actions",
      title: t("fields.actions"),
      render: (_, row) => (
        <Space>
          <Button size="small" onClick={() => setEditing(row)} aria-label={`${t("common:action.edit")} ${row.label}`}>
            {t("common:action.edit")}
          </Button>
          {row.archived ? (
            <Button size="small" onClick={() => change.mutate({ field: row, archive: false })} aria-label={`${t("fields.restore")} ${row.label}`}>
              {t("fields.restore")}
            </Button>
          ) : (
            <Popconfirm
              title={t("fields.archiveConfirm", { label: row.label })}
              okText={t("fields.archive")}
              cancelText={t("common:action.cancel")}
              onConfirm={() => change.mutateAsync({ field: row, archive: true }).catch(() => undefined)}
            >
              <Button size="small" aria-label={`${t("fields.archive")} ${row.label}`}>
                {t("fields.archive")}
              </Button>
            </Popconfirm>
          )}
        </Space>
      ),
    },
  ];

  return (
    <div>
      <Typography.Paragraph type="secondary">{t("fields.intro")}</Typography.Paragraph>
      <Space style={{ width: "100%", justifyContent: "space-between", marginBottom: 16 }} wrap>
        <Space>
          <Switch checked={showArchived} onChange={setShowArchived} aria-label={t("fields.showArchived")} />
          <Typography.Text>{t("fields.showArchived")}</Typography.Text>
        </Space>
        <Button type="primary" icon={<PlusOutlined />} onClick={() => setEditing("new")}>
          {t("fields.new")}
        </Button>
      </Space>
      {fields.isPending ? (
        <Loading rows={4} />
      ) : fields.isError ? (
        <ErrorState error={fields.error} onRetry={() => void fields.refetch()} />
      ) : rows.length === 0 ? (
        <EmptyState description={t("fields.empty")}>
          <Typography.Paragraph type="secondary">{t("fields.emptyHint")}</Typography.Paragraph>
        </EmptyState>
      ) : (
        <Table<ProfileField>
          size="middle"
          aria-label={t("settings.tabs.fields")}
          rowKey="id"
          columns={columns}
          dataSource={rows}
          loading={fields.isFetching}
          pagination={false}
          scroll={{ x: 820 }}
        />
      )}
      {editing !== null && <FieldDialog field={editing === "new" ? null : editing} nextOrder={nextOrder} onClose={() => setEditing(null)} />}
    </div>
  );
}
