// Group tags (local labels on groups: WeCom has none): create, rename, recolour and delete, in one
// dialog opened from the groups list. Names are unique; the API's refusals land on the name field.
import "./strings";

import { DeleteOutlined, EditOutlined, PlusOutlined } from "@ant-design/icons";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { App, Button, Form, Input, Modal, Popconfirm, Radio, Space, Table, Tag, Typography } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";

import { ApiError } from "../../api/client";
import { ErrorState, Loading, errorMessage } from "../../components/states";
import { type GroupTag, api, keys, useGroupTags } from "./api";
import { TAG_COLORS } from "./bits";

const NAME_MAX = 30;

/** The palette as radio buttons (arrow keys move between colours). */
export function ColorChoice({ id, value, onChange }: { id?: string; value?: string; onChange?: (color: string) => void }) {
  const { t } = useTranslation("groups");
  return (
    <Radio.Group id={id} value={value ?? ""} onChange={(e) => onChange?.(e.target.value as string)} aria-label={t("tags.color")} optionType="button" size="small">
      <Radio.Button value="" aria-label={t("tags.noColor")}>
        <Tag style={{ marginInlineEnd: 0 }}>{t("tags.noColorShort")}</Tag>
      </Radio.Button>
      {TAG_COLORS.map((color) => (
        <Radio.Button key={color} value={color} aria-label={t(`tags.colors.${color}`)} title={t(`tags.colors.${color}`)}>
          <Tag color={color} style={{ marginInlineEnd: 0 }}>
            {"\u00a0\u00a0"}
          </Tag>
        </Radio.Button>
      ))}
    </Radio.Group>
  );
}

interface Values {
  name: string;
  color: string;
}

function placeErrors(form: ReturnType<typeof Form.useForm<Values>>[0], error: unknown): boolean {
  if (!(error instanceof ApiError)) return false;
  const fields = Object.entries(error.fieldErrors()).filter(([path]) => path === "name" || path === "color");
  form.setFields(fields.map(([name, message]) => ({ name: name as keyof Values, errors: [message] })));
  return fields.length > 0;
}

function TagEditor({ tag, onDone }: { tag?: GroupTag; onDone: () => void }) {
  const { t } = useTranslation("groups");
  const { message } = App.useApp();
  const queryClient = useQueryClient();
  const [form] = Form.useForm<Values>();
  const save = useMutation({
    mutationFn: (values: Values) =>
      tag ? api.updateTag(tag.id, { name: values.name.trim(), color: values.color }) : api.createTag({ name: values.name.trim(), color: values.color }),
    onSuccess: (saved) => {
      void message.success(tag ? t("tags.saved", { name: saved.name }) : t("tags.created", { name: saved.name }));
      form.resetFields();
      onDone();
    },
    onError: (error) => {
      if (!placeErrors(form, error)) void message.error(errorMessage(error));
    },
    // Tags show on every group row: refresh them too.
    onSettled: () => {
      void queryClient.invalidateQueries({ queryKey: keys.tags });
      void queryClient.invalidateQueries({ queryKey: keys.groups });
    },
  });
  return (
    <Form<Values>
      form={form}
      layout="inline"
      name={tag ? `group-tag-${tag.id}` : "group-tag-new"}
      initialValues={{ name: tag?.name ?? "", color: tag?.color ?? "blue" }}
      onFinish={(values) => save.mutate(values)}
      style={{ rowGap: 8 }}
    >
      <Form.Item
        name="name"
        label={tag ? t("tags.rename") : t("tags.newName")}
        rules={[
          { required: true, whitespace: true, message: t("tags.nameRequired") },
          { max: NAME_MAX, message: t("tags.nameTooLong", { max: NAME_MAX }) },
        ]}
      >
        <Input maxLength={NAME_MAX} placeholder={t("tags.namePlaceholder")} autoFocus={Boolean(tag)} style={{ width: 180 }} />
      </Form.Item>
      <Form.Item name="color" label={t("tags.color")}>
        <ColorChoice />
      </Form.Item>
      <Space>
        <Button type="primary" htmlType="submit" icon={tag ? undefined : <PlusOutlined />} loading={save.isPending}>
          {tag ? t("common:action.save") : t("tags.add")}
        </Button>
        {tag && <Button onClick={onDone}>{t("common:action.cancel")}</Button>}
      </Space>
    </Form>
  );
}

export default function TagsModal({ onClose }: { onClose: () => void }) {
  const { t } = useTranslation("groups");
  const { message } = App.useApp();
  const queryClient = useQueryClient();
  const tags = useGroupTags();
  const [editing, setEditing] = useState<number | null>(null);
  const remove = useMutation({
    mutationFn: (tag: GroupTag) => api.deleteTag(tag.id),
    onSuccess: (_r, tag) => void message.success(t("tags.deleted", { name: tag.name })),
    onError: (error) => void message.error(errorMessage(error)),
    onSettled: () => {
      void queryClient.invalidateQueries({ queryKey: keys.tags });
      void queryClient.invalidateQueries({ queryKey: keys.groups });
    },
  });

  return (
    <Modal open title={t("tags.title")} onCancel={onClose} footer={<Button onClick={onClose}>{t("common:action.close")}</Button>} width={760} destroyOnHidden>
      <Typography.Paragraph type="secondary">{t("tags.intro")}</Typography.Paragraph>
      <div style={{ marginBottom: 16 }}>
        <TagEditor onDone={() => undefined} />
      </div>
      {tags.isPending ? (
        <Loading rows={3} />
      ) : tags.isError ? (
        <ErrorState error={tags.error} onRetry={() => void tags.refetch()} />
      ) : (
        <Table<GroupTag>
          size="small"
          rowKey="id"
          aria-label={t("tags.title")}
          dataSource={tags.data}
          pagination={false}
          locale={{ emptyText: t("tags.empty") }}
          columns={[
            {
              key: "tag",
              title: t("tags.tag"),
              render: (_, tag) =>
                editing === tag.id ? (
                  <TagEditor tag={tag} onDone={() => setEditing(null)} />
                ) : (
                  <Tag color={tag.color || undefined}>{tag.name}</Tag>
                ),
            },
            { key: "groups", title: t("tags.groups"), align: "right", width: 90, render: (_, tag) => tag.group_count },
            {
              key: "actions",
              title: t("list.actions"),
              width: 170,
              render: (_, tag) =>
                editing === tag.id ? null : (
                  <Space size={0}>
                    <Button type="link" size="small" icon={<EditOutlined />} aria-label={t("tags.editLabel", { name: tag.name })} onClick={() => setEditing(tag.id)}>
                      {t("common:action.edit")}
                    </Button>
                    <Popconfirm
                      title={t("tags.deleteTitle", { name: tag.name })}
                      description={tag.group_count ? t("tags.deleteBody", { count: tag.group_count }) : undefined}
                      okText={t("common:action.delete")}
                      okButtonProps={{ danger: true }}
                      cancelText={t("common:action.cancel")}
                      onConfirm={() => remove.mutateAsync(tag).catch(() => undefined)}
                    >
                      <Button type="link" size="small" danger icon={<DeleteOutlined />} aria-label={t("tags.deleteLabel", { name: tag.name })}>
                        {t("common:action.delete")}
                      </Button>
                    </Popconfirm>
                  </Space>
                ),
            },
          ]}
        />
      )}
    </Modal>
  );
}
