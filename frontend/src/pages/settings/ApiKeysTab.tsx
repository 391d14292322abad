// API keys: list, create (the full key is shown once, right after), revoke.
import "./strings";

import { PlusOutlined, StopOutlined } from "@ant-design/icons";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Alert, App, Button, Form, Input, Modal, Popconfirm, Select, Space, Table, Tag, Typography } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";

import { client, data } from "../../api/client";
import { Pager } from "../../components/Pager";
import { EmptyState, ErrorState, Loading, errorMessage } from "../../components/states";
import { actorName } from "../../lib/actor";
import { dateTime } from "../../lib/format";
import { type ApiKey, type ApiKeyCreated, PAGE_SIZE, ROLES, type Role, applyFieldErrors, keys } from "./api";
import CopyButton from "./CopyButton";

type Shown = "all" | "active" | "revoked";

function CreateKeyModal({ open, onClose, onCreated }: { open: boolean; onClose: () => void; onCreated: (key: ApiKeyCreated) => void }) {
  const { t } = useTranslation("settings");
  const { message } = App.useApp();
  const queryClient = useQueryClient();
  const [form] = Form.useForm<{ name: string; role: Role }>();
  const create = useMutation({
    mutationFn: (body: { name: string; role: Role }) => data(client.POST("/api/v1/api-keys/", { body })),
    // The answer holds the full key: it is handed to the shown-once dialog, then dropped from here
    // (reset) and from the mutation cache (gcTime 0), so it stays in memory only while shown.
    gcTime: 0,
    onSuccess: (created) => {
      void queryClient.invalidateQueries({ queryKey: keys.apiKeys });
      onCreated(created);
      create.reset();
    },
    onError: (error) => {
      if (!applyFieldErrors(form, error, ["name", "role"])) void message.error(errorMessage(error));
    },
  });
  return (
    <Modal
      open={open}
      title={t("apiKeys.createTitle")}
      okText={t("common:action.create")}
      cancelText={t("common:action.cancel")}
      onOk={() => form.submit()}
      confirmLoading={create.isPending}
      onCancel={onClose}
      destroyOnHidden
    >
      <Form form={form} layout="vertical" preserve={false} initialValues={{ role: "operator" }} onFinish={(v) => create.mutate(v)}>
        <Form.Item name="name" label={t("apiKeys.name")} extra={t("apiKeys.nameHelp")} rules={[{ required: true, message: t("required") }]}>
          <Input maxLength={100} autoComplete="off" />
        </Form.Item>
        <Form.Item name="role" label={t("apiKeys.role")} extra={t("apiKeys.roleHelp")} rules={[{ required: true, message: t("required") }]}>
          <Select options={ROLES.map((r) => ({ value: r, label: t(`role.${r}`) }))} />
        </Form.Item>
      </Form>
    </Modal>
  );
}

/** The new key, once: there is no way to read it again, so the dialog is closed on purpose only. */
function NewKeyModal({ created, onClose }: { created: ApiKeyCreated | null; onClose: () => void }) {
  const { t } = useTranslation("settings");
  return (
    <Modal
      open={created !== null}
      title={t("apiKeys.createdTitle", { name: created?.name ?? "" })}
      closable={false}
      mask={{ closable: false }}
      keyboard={false}
      destroyOnHidden
      footer={
        <Button type="primary" onClick={onClose}>
          {t("apiKeys.done")}
        </Button>
      }
    >
      {created && (
        <Space orientation="vertical" style={{ width: "100%" }}>
          <Alert type="warning" showIcon role="alert" title={t("apiKeys.onceWarning")} />
          <Space.Compact style={{ width: "100%" }}>
            <Input
              readOnly
              value={created.key}
              aria-label={t("apiKeys.fullKey")}
              data-testid="new-api-key"
              style={{ fontFamily: "monospace" }}
              onFocus={(e) => e.target.select()}
            />
            <CopyButton value={created.key} label={t("apiKeys.copy")} />
          </Space.Compact>
          <Typography.Text type="secondary">{t("apiKeys.usage")}</Typography.Text>
          <pre
            style={{ margin: 0, padding: 8, borderRadius: 6, background: "rgba(0,0,0,0.04)", whiteSpace: "pre-wrap", wordBreak: "break-all" }}
          >
            {`curl -H "Authorization: Bearer ${created.key}" \\\n  ${window.location.origin}/api/v1/contacts/`}
          </pre>
        </Space>
      )}
    </Modal>
  );
}

export default function ApiKeysTab() {
  const { t } = useTranslation("settings");
  const { message } = App.useApp();
  const queryClient = useQueryClient();
  const [page, setPage] = useState(1);
  const [shown, setShown] = useState<Shown>("all");
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<ApiKeyCreated | null>(null);

  const apiKeys = useQuery({
    queryKey: [...keys.apiKeyList(page), shown],
    queryFn: () =>
      data(
        client.GET("/api/v1/api-keys/", {
          params: { query: { page, page_size: PAGE_SIZE, revoked: shown === "all" ? undefined : shown === "revoked" } },
        }),
      ),
    placeholderData: keepPreviousData,
  });

  const revoke = useMutation({
    mutationFn: (key: ApiKey) => data(client.POST("/api/v1/api-keys/{id}/revoke/", { params: { path: { id: key.id } } })),
    onSuccess: (key) => void message.success(t("apiKeys.revoked", { name: key.name })),
    onError: (error) => void message.error(errorMessage(error)),
    onSettled: () => void queryClient.invalidateQueries({ queryKey: keys.apiKeys }),
  });

  const columns = [
    { title: t("apiKeys.name"), key: "name", render: (_: unknown, k: ApiKey) => <Typography.Text strong>{k.name}</Typography.Text> },
    { title: t("apiKeys.role"), key: "role", render: (_: unknown, k: ApiKey) => t(`role.${k.role}`) },
    {
      title: t("apiKeys.key"),
      key: "prefix",
      render: (_: unknown, k: ApiKey) => <Typography.Text code>{`${k.prefix}.…`}</Typography.Text>,
    },
    { title: t("apiKeys.createdBy"), key: "by", render: (_: unknown, k: ApiKey) => actorName(k.created_by, t) ?? "—" },
    { title: t("apiKeys.createdAt"), key: "created", render: (_: unknown, k: ApiKey) => dateTime(k.created_at) },
    { title: t("apiKeys.lastUsed"), key: "used", render: (_: unknown, k: ApiKey) => (k.last_used_at ? dateTime(k.last_used_at) : t("apiKeys.never")) },
    {
      title: t("apiKeys.status"),
      key: "status",
      render: (_: unknown, k: ApiKey) =>
        k.revoked ? (
          <Tag color="default">{t("apiKeys.revokedAt", { when: dateTime(k.revoked_at) })}</Tag>
        ) : (
          <Tag color="green">{t("apiKeys.active")}</Tag>
        ),
    },
    {
      title: t("actions"),
      key: "actions",
      render: (_: unknown, k: ApiKey) =>
        k.revoked ? null : (
          <Popconfirm
            title={t("apiKeys.revokeConfirm", { name: k.name })}
            description={t("apiKeys.revokeWarning")}
            okText={t("apiKeys.revoke")}
            okButtonProps={{ danger: true }}
            cancelText={t("common:action.cancel")}
            onConfirm={() => revoke.mutateAsync(k).catch(() => undefined)}
          >
            <Button size="small" danger icon={<StopOutlined />} aria-label={t("apiKeys.revokeLabel", { name: k.name })}>
              {t("apiKeys.revoke")}
            </Button>
          </Popconfirm>
        ),
    },
  ];

  return (
    <div>
      <div style={{ display: "flex", flexWrap: "wrap", gap: 8, marginBottom: 16, alignItems: "center" }}>
        <Select<Shown>
          aria-label={t("apiKeys.show")}
          style={{ width: 160 }}
          value={shown}
          options={(["all", "active", "revoked"] as const).map((v) => ({ value: v, label: t(`apiKeys.shown.${v}`) }))}
          onChange={(value) => {
            setShown(value);
            setPage(1);
          }}
        />
        <Typography.Text type="secondary">{t("apiKeys.help")}</Typography.Text>
        <div style={{ flex: 1 }} />
        <Button type="primary" icon={<PlusOutlined />} onClick={() => setCreating(true)}>
          {t("apiKeys.create")}
        </Button>
      </div>
      {apiKeys.isPending ? (
        <Loading />
      ) : apiKeys.isError ? (
        <ErrorState error={apiKeys.error} onRetry={() => void apiKeys.refetch()} />
      ) : (
        <>
          <Table<ApiKey>
            rowKey="id"
            aria-label={t("tabs.apiKeys")}
            columns={columns}
            dataSource={apiKeys.data.results}
            loading={apiKeys.isFetching}
            pagination={false}
            scroll={{ x: 900 }}
            locale={{
              emptyText: (
                <EmptyState description={shown === "all" ? t("apiKeys.empty") : t("apiKeys.emptyFiltered")}>
                  {shown === "all" && (
                    <Button type="primary" icon={<PlusOutlined />} onClick={() => setCreating(true)}>
                      {t("apiKeys.create")}
                    </Button>
                  )}
                </EmptyState>
              ),
            }}
          />
          <Pager page={page} hasNext={!!apiKeys.data.next} onPage={setPage} loading={apiKeys.isFetching} />
        </>
      )}
      <CreateKeyModal
        open={creating}
        onClose={() => setCreating(false)}
        onCreated={(key) => {
          setCreating(false);
          setCreated(key);
        }}
      />
      <NewKeyModal created={created} onClose={() => setCreated(null)} />
    </div>
  );
}
