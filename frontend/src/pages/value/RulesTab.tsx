// Points rules: one row per action that can earn points (spending per yuan, adding a member, joining a
// group, commenting on a Moment, referring someone), set or not; set one (points, active), change it,
// or delete it.
import "./strings";

import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Alert, App, Button, Form, InputNumber, Modal, Popconfirm, Space, Switch, Table, Tag, Typography } from "antd";
import type { ColumnsType } from "antd/es/table";
import { useState } from "react";
import { useTranslation } from "react-i18next";

import { ErrorState, Loading, errorMessage } from "../../components/states";
import { useApiErrors } from "../channels/useApiErrors";
import { api, keys, usePointsRules } from "./api";
import { count } from "./format";
import { POINTS_ACTIONS, type PointsAction, type PointsRule } from "./types";

interface Row {
  action: PointsAction;
  rule: PointsRule | null;
}

interface Values {
  points: number;
  is_active: boolean;
}

function RuleDialog({ row, onClose }: { row: Row; onClose: () => void }) {
  const { t } = useTranslation("value");
  const { message } = App.useApp();
  const queryClient = useQueryClient();
  const [form] = Form.useForm<Values>();
  const errors = useApiErrors(form);
  const save = useMutation({
    mutationFn: (values: Values) =>
      row.rule ? api.updateRule(row.rule.id, values) : api.createRule({ action: row.action, points: values.points, is_active: values.is_active }),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: keys.rules });
      void message.success(t("rules.saved"));
      onClose();
    },
    onError: (error) => errors.show(error),
  });
  const purchase = row.action === "purchase";
  return (
    <Modal
      open
      title={t("rules.editTitle", { action: t(`rules.actions.${row.action}`) })}
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
        name="points-rule"
        layout="vertical"
        initialValues={{ points: row.rule?.points ?? (purchase ? 1 : 10), is_active: row.rule?.is_active ?? true }}
        onValuesChange={() => errors.onValuesChange()}
        onFinish={(values) => {
          errors.reset();
          save.mutate(values);
        }}
      >
        <Form.Item
          name="points"
          label={purchase ? t("rules.pointsPerYuan") : t("rules.points")}
          extra={purchase ? t("rules.pointsHint") : undefined}
          rules={[{ required: true, message: t("fields.required") }]}
        >
          <InputNumber autoFocus min={1} max={1000000} precision={0} style={{ width: 200 }} />
        </Form.Item>
        <Form.Item name="is_active" label={t("rules.active")} valuePropName="checked">
          <Switch />
        </Form.Item>
      </Form>
    </Modal>
  );
}

export default function RulesTab() {
  const { t, i18n } = useTranslation("value");
  const { message } = App.useApp();
  const queryClient = useQueryClient();
  const rules = usePointsRules();
  const [editing, setEditing] = useState<Row | null>(null);
  const remove = useMutation({
    mutationFn: (rule: PointsRule) => api.deleteRule(rule.id),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: keys.rules });
      void message.success(t("rules.removed"));
    },
    onError: (error) => void message.error(errorMessage(error)),
  });
  const byAction = new Map((rules.data ?? []).map((rule) => [rule.action, rule]));
  const rows: Row[] = POINTS_ACTIONS.map((action) => ({ action, rule: byAction.get(action) ?? null }));

  const columns: ColumnsType<Row> = [
    { key: "action", title: t("rules.action"), render: (_, row) => t(`rules.actions.${row.action}`) },
    {
      key: "points",
      title: t("rules.points"),
      align: "right",
      render: (_, row) => (row.rule ? count(row.rule.points, i18n.language) : <Typography.Text type="secondary">{t("rules.notSet")}</Typography.Text>),
    },
    {
      key: "status",
      title: t("rules.status"),
      render: (_, row) => (row.rule ? row.rule.is_active ? <Tag color="green">{t("rules.enabled")}</Tag> : <Tag>{t("rules.disabled")}</Tag> : "—"),
    },
    {
      key: "actions",
      title: t("rules.actionsColumn"),
      render: (_, row) => {
        const name = t(`rules.actions.${row.action}`);
        return (
          <Space>
            <Button size="small" type={row.rule ? "default" : "primary"} onClick={() => setEditing(row)} aria-label={`${row.rule ? t("common:action.edit") : t("rules.set")} ${name}`}>
              {row.rule ? t("common:action.edit") : t("rules.set")}
            </Button>
            {row.rule && (
              <Popconfirm
                title={t("rules.removeConfirm", { action: name })}
                okText={t("common:action.delete")}
                okButtonProps={{ danger: true }}
                cancelText={t("common:action.cancel")}
                onConfirm={() => remove.mutateAsync(row.rule as PointsRule).catch(() => undefined)}
              >
                <Button size="small" danger aria-label={`${t("rules.remove")} ${name}`}>
                  {t("common:action.delete")}
                </Button>
              </Popconfirm>
            )}
          </Space>
        );
      },
    },
  ];

  return (
    <div>
      <Typography.Paragraph type="secondary">{t("rules.intro")}</Typography.Paragraph>
      {rules.isPending ? (
        <Loading rows={5} />
      ) : rules.isError ? (
        <ErrorState error={rules.error} onRetry={() => void rules.refetch()} />
      ) : (
        <Table<Row>
          size="middle"
          aria-label={t("settings.tabs.rules")}
          rowKey="action"
          columns={columns}
          dataSource={rows}
          loading={rules.isFetching}
          pagination={false}
          style={{ maxWidth: 860 }}
        />
      )}
      {editing && <RuleDialog row={editing} onClose={() => setEditing(null)} />}
    </div>
  );
}
