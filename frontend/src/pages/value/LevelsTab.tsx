// Membership levels (会员等级): name, the points earned in all that reach it, and a color for its tag;
// create, change, delete. Customers are placed again by the API whenever levels change.
import "./strings";

import { PlusOutlined } from "@ant-design/icons";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Alert, App, Button, Form, Input, InputNumber, Modal, Popconfirm, Select, Space, Table, Tag, Typography } from "antd";
import type { ColumnsType } from "antd/es/table";
import { type ReactNode, useState } from "react";
import { useTranslation } from "react-i18next";

import { EmptyState, ErrorState, Loading, errorMessage } from "../../components/states";
import { useApiErrors } from "../channels/useApiErrors";
import { api, keys, useLevels } from "./api";
import { LEVEL_COLORS, count, nextLevelPoints } from "./format";
import type { Level } from "./types";

interface Values {
  name: string;
  min_points: number;
  color: string;
}

function LevelTag({ name, color }: { name: string; color: string }) {
  return <Tag color={color || undefined}>{name}</Tag>;
}

function LevelDialog({ level, suggestedPoints, onClose }: { level: Level | null; suggestedPoints: number; onClose: () => void }) {
  const { t } = useTranslation("value");
  const { message } = App.useApp();
  const queryClient = useQueryClient();
  const [form] = Form.useForm<Values>();
  const errors = useApiErrors(form);
  const name = Form.useWatch("name", form) as string | undefined;
  const color = Form.useWatch("color", form) as string | undefined;
  const save = useMutation({
    mutationFn: (values: Values) => {
      const body = { name: values.name.trim(), min_points: values.min_points, color: values.color ?? "" };
      return level ? api.updateLevel(level.id, body) : api.createLevel(body);
    },
    onSuccess: (saved) => {
      void queryClient.invalidateQueries({ queryKey: keys.levels });
      void message.success(t("levels.saved", { name: saved.name }));
      onClose();
    },
    onError: (error) => errors.show(error),
  });
  const colors: { value: string; label: ReactNode }[] = LEVEL_COLORS.map((c) => ({
    value: c.value,
    label: <LevelTag name={c.value ? t(`levels.colors.${c.name}`) : t("levels.noColor")} color={c.value} />,
  }));
  // A color set through the API that is not one of ours stays choosable.
  if (level?.color && !LEVEL_COLORS.some((c) => c.value === level.color)) {
    colors.push({ value: level.color, label: <LevelTag name={level.color} color={level.color} /> });
  }
  return (
    <Modal
      open
      title={t(level ? "levels.editTitle" : "levels.createTitle")}
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
        name="level"
        layout="vertical"
        initialValues={level ? { name: level.name, min_points: level.min_points, color: level.color ?? "" } : { name: "", min_points: suggestedPoints, color: "" }}
        onValuesChange={() => errors.onValuesChange()}
        onFinish={(values) => {
          errors.reset();
          save.mutate(values);
        }}
      >
        <Form.Item name="name" label={t("levels.name")} rules={[{ required: true, whitespace: true, message: t("levels.required") }]}>
          <Input autoFocus maxLength={32} showCount />
        </Form.Item>
        <Form.Item name="min_points" label={t("levels.minPoints")} extra={t("levels.minPointsHint")} rules={[{ required: true, message: t("levels.required") }]}>
          <InputNumber min={0} max={2147483647} precision={0} style={{ width: 200 }} />
        </Form.Item>
        <Form.Item name="color" label={t("levels.color")}>
          <Select options={colors} style={{ width: 200 }} aria-label={t("levels.color")} />
        </Form.Item>
        <Form.Item label={t("levels.preview")}>
          <LevelTag name={name?.trim() || "—"} color={color ?? ""} />
        </Form.Item>
      </Form>
    </Modal>
  );
}

export default function LevelsTab() {
  const { t, i18n } = useTranslation("value");
  const { message } = App.useApp();
  const queryClient = useQueryClient();
  const levels = useLevels();
  const [editing, setEditing] = useState<Level | "new" | null>(null);
  const remove = useMutation({
    mutationFn: (level: Level) => api.deleteLevel(level.id),
    onSuccess: (_, level) => {
      void queryClient.invalidateQueries({ queryKey: keys.levels });
      void message.success(t("levels.removed", { name: level.name }));
    },
    onError: (error) => void message.error(errorMessage(error)),
  });
  const rows = levels.data ?? [];

  const columns: ColumnsType<Level> = [
    { key: "name", title: t("levels.name"), render: (_, row) => <LevelTag name={row.name} color={row.color ?? ""} /> },
    { key: "min_points", title: t("levels.minPoints"), align: "right", render: (_, row) => count(row.min_points, i18n.language) },
    { key: "customers", title: t("levels.customers"), align: "right", render: (_, row) => count(row.customers, i18n.language) },
    {
      key: "actions",
      title: t("levels.actions"),
      render: (_, row) => (
        <Space>
          <Button size="small" onClick={() => setEditing(row)} aria-label={`${t("common:action.edit")} ${row.name}`}>
            {t("common:action.edit")}
          </Button>
          <Popconfirm
            title={t("levels.removeConfirm", { name: row.name })}
            okText={t("common:action.delete")}
            okButtonProps={{ danger: true }}
            cancelText={t("common:action.cancel")}
            onConfirm={() => remove.mutateAsync(row).catch(() => undefined)}
          >
            <Button size="small" danger aria-label={`${t("levels.remove")} ${row.name}`}>
              {t("levels.remove")}
            </Button>
          </Popconfirm>
        </Space>
      ),
    },
  ];

  return (
    <div>
      <Typography.Paragraph type="secondary">{t("levels.intro")}</Typography.Paragraph>
      <Space style={{ marginBottom: 16 }}>
        <Button type="primary" icon={<PlusOutlined />} onClick={() => setEditing("new")}>
          {t("levels.new")}
        </Button>
      </Space>
      {levels.isPending ? (
        <Loading rows={4} />
      ) : levels.isError ? (
        <ErrorState error={levels.error} onRetry={() => void levels.refetch()} />
      ) : rows.length === 0 ? (
        <EmptyState description={t("levels.empty")}>
          <Typography.Paragraph type="secondary">{t("levels.emptyHint")}</Typography.Paragraph>
        </EmptyState>
      ) : (
        <Table<Level>
          size="middle"
          aria-label={t("settings.tabs.levels")}
          rowKey="id"
          columns={columns}
          dataSource={[...rows].sort((a, b) => a.min_points - b.min_points)}
          loading={levels.isFetching}
          pagination={false}
          style={{ maxWidth: 720 }}
        />
      )}
      {editing !== null && (
        <LevelDialog level={editing === "new" ? null : editing} suggestedPoints={nextLevelPoints(rows)} onClose={() => setEditing(null)} />
      )}
    </div>
  );
}
