// The groups list's bulk actions on the selected groups: tag or untag them, and hand them to a new
// owner (a background transfer, followed here until WeCom has answered for every group, each with its
// outcome and WeCom's error).
import "./strings";

import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Alert, App, Button, Form, Modal, Progress, Select, Space, Table, Tag, Typography } from "antd";
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";

import { ErrorState, Loading, errorMessage } from "../../components/states";
import { type Group, type GroupTransfer, api, keys, useGroupTags, useTransfer } from "./api";
import { StaffPicker, tagOptions } from "./bits";
import { planTransfer, transferActive, transferPercent } from "./transfer";

export function BulkTagModal({
  action,
  groups,
  onClose,
  onDone,
}: {
  action: "tag" | "untag";
  groups: Group[];
  onClose: () => void;
  onDone: () => void;
}) {
  const { t } = useTranslation("groups");
  const { message } = App.useApp();
  const queryClient = useQueryClient();
  const tags = useGroupTags();
  const [chosen, setChosen] = useState<number[]>([]);
  const [error, setError] = useState<unknown>(null);
  const run = useMutation({
    mutationFn: () =>
      api.bulkTag(
        groups.map((g) => g.id),
        action === "tag" ? chosen : [],
        action === "untag" ? chosen : [],
      ),
    onSuccess: (result) => {
      void message.success(
        action === "tag" ? t("bulk.tagged", { count: result.groups, changed: result.added }) : t("bulk.untagged", { count: result.groups, changed: result.removed }),
      );
      onDone();
    },
    onError: setError,
    onSettled: () => {
      void queryClient.invalidateQueries({ queryKey: keys.groups });
      void queryClient.invalidateQueries({ queryKey: keys.tags });
    },
  });
  return (
    <Modal
      open
      title={action === "tag" ? t("bulk.tagTitle", { count: groups.length }) : t("bulk.untagTitle", { count: groups.length })}
      okText={action === "tag" ? t("bulk.tagOk") : t("bulk.untagOk")}
      okButtonProps={{ disabled: !chosen.length, danger: action === "untag" }}
      cancelText={t("common:action.cancel")}
      confirmLoading={run.isPending}
      onOk={() => {
        setError(null);
        run.mutate();
      }}
      onCancel={onClose}
      destroyOnHidden
    >
      <Form layout="vertical">
        <Form.Item label={t("bulk.tags")} htmlFor="bulk-group-tags" extra={tags.data?.length === 0 ? t("bulk.noTags") : undefined}>
          <Select<number[]>
            id="bulk-group-tags"
            mode="multiple"
            allowClear
            showSearch={{ optionFilterProp: "label" }}
            loading={tags.isPending}
            options={tagOptions(tags.data)}
            value={chosen}
            onChange={setChosen}
            placeholder={t("bulk.tagsPlaceholder")}
          />
        </Form.Item>
      </Form>
      {error !== null && <Alert type="error" showIcon title={errorMessage(error)} />}
    </Modal>
  );
}

function TransferResult({ id, onClose }: { id: number; onClose: () => void }) {
  const { t } = useTranslation("groups");
  const queryClient = useQueryClient();
  const [polling, setPolling] = useState(true);
  const transfer = useTransfer(id, polling);
  const done = transfer.data ? !transferActive(transfer.data) : false;
  useEffect(() => {
    if (done && polling) {
      setPolling(false);
      // The groups' owners (and the group list's owner column) changed.
      void queryClient.invalidateQueries({ queryKey: keys.groups });
    }
  }, [done, polling, queryClient]);

  if (transfer.isPending) return <Loading rows={3} />;
  if (transfer.isError) return <ErrorState error={transfer.error} onRetry={() => void transfer.refetch()} />;
  const data: GroupTransfer = transfer.data;
  const items = data.items ?? [];
  return (
    <div data-testid="transfer-result" aria-live="polite">
      <Space orientation="vertical" style={{ width: "100%" }}>
        <Typography.Text>
          {t("transfer.to", { name: data.new_owner?.name || data.new_owner?.userid || "—" })} · {t(`transfer.kind.${data.kind}`, { defaultValue: data.kind })}
        </Typography.Text>
        <Progress
          percent={transferPercent(data)}
          status={transferActive(data) ? "active" : data.failed ? (data.succeeded ? "normal" : "exception") : "success"}
          aria-label={t("transfer.progress")}
        />
        <Space wrap>
          <Tag color="success">{t("transfer.succeeded", { count: data.succeeded })}</Tag>
          {data.failed > 0 && <Tag color="error">{t("transfer.failed", { count: data.failed })}</Tag>}
          {transferActive(data) && <Typography.Text type="secondary">{t("transfer.waiting")}</Typography.Text>}
        </Space>
        <Table
          size="small"
          rowKey={(item) => item.group.id}
          aria-label={t("transfer.results")}
          dataSource={items}
          pagination={items.length > 10 ? { pageSize: 10, showSizeChanger: false } : false}
          columns={[
            { key: "group", title: t("transfer.group"), render: (_, item) => item.group.name || `#${item.group.id}` },
            {
              key: "previous",
              title: t("transfer.previousOwner"),
              render: (_, item) => item.previous_owner?.name || item.previous_owner?.userid || "—",
            },
            {
              key: "status",
              title: t("transfer.status"),
              render: (_, item) => (
                <Tag color={item.status === "succeeded" ? "success" : item.status === "failed" ? "error" : "processing"} data-testid="transfer-item-status">
                  {t(`transfer.itemStatus.${item.status}`, { defaultValue: item.status })}
                </Tag>
              ),
            },
            {
              key: "error",
              title: t("transfer.error"),
              render: (_, item) =>
                item.errcode !== null || item.error ? (
                  <Typography.Text type="danger">
                    {item.errcode !== null && <Typography.Text code>{item.errcode}</Typography.Text>} {item.error}
                  </Typography.Text>
                ) : (
                  "—"
                ),
            },
          ]}
        />
        <div style={{ textAlign: "right" }}>
          <Button type="primary" onClick={onClose}>
            {t("common:action.close")}
          </Button>
        </div>
      </Space>
    </div>
  );
}

export function TransferModal({ groups, onClose, onStarted }: { groups: Group[]; onClose: () => void; onStarted: () => void }) {
  const { t } = useTranslation("groups");
  const [owner, setOwner] = useState<number[]>([]);
  const [started, setStarted] = useState<number | null>(null);
  const newOwner = owner[0] ?? null;
  const plan = planTransfer(groups, newOwner);
  const start = useMutation({
    mutationFn: () => api.transfer(plan.send, newOwner as number),
    onSuccess: (transfer) => {
      setStarted(transfer.id);
      onStarted();
    },
  });

  return (
    <Modal
      open
      title={started ? t("transfer.resultTitle") : t("transfer.title", { count: groups.length })}
      onCancel={onClose}
      footer={
        started
          ? null
          : [
              <Button key="cancel" onClick={onClose}>
                {t("common:action.cancel")}
              </Button>,
              <Button key="ok" type="primary" danger disabled={newOwner === null || !plan.send.length} loading={start.isPending} onClick={() => start.mutate()}>
                {t("transfer.ok", { count: plan.send.length })}
              </Button>,
            ]
      }
      width={720}
      destroyOnHidden
    >
      {started ? (
        <TransferResult id={started} onClose={onClose} />
      ) : (
        <Space orientation="vertical" style={{ width: "100%" }}>
          <Typography.Paragraph type="secondary" style={{ margin: 0 }}>
            {t("transfer.intro")}
          </Typography.Paragraph>
          <Form layout="vertical">
            <Form.Item label={t("transfer.newOwner")} htmlFor="transfer-new-owner" required>
              <StaffPicker id="transfer-new-owner" activeOnly value={owner} onChange={setOwner} placeholder={t("transfer.newOwnerPlaceholder")} />
            </Form.Item>
          </Form>
          {plan.skipped.length > 0 && (
            <Alert
              type="warning"
              showIcon
              title={t("transfer.skipped", { count: plan.skipped.length })}
              description={
                <ul style={{ margin: 0, paddingInlineStart: 20 }}>
                  {plan.skipped.map((s) => (
                    <li key={s.id}>
                      {s.name || `#${s.id}`}: {t(`transfer.reason.${s.reason}`)}
                    </li>
                  ))}
                </ul>
              }
            />
          )}
          {start.isError && <Alert type="error" showIcon title={errorMessage(start.error)} />}
        </Space>
      )}
    </Modal>
  );
}
