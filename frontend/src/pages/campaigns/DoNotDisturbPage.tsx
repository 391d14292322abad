// Do-not-disturb (免打扰): customers the tenant never sends marketing to — every campaign's plan
// leaves them out and says how many. Add customers by search with a reason; remove them.
import "./strings";

import { ArrowLeftOutlined, DeleteOutlined, PlusOutlined } from "@ant-design/icons";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { App, Button, Card, Form, Input, Modal, Select, Space, Table, Typography } from "antd";
import type { ColumnsType } from "antd/es/table";
import { useDeferredValue, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useSearchParams } from "react-router";

import { ApiError } from "../../api/client";
import { Pager } from "../../components/Pager";
import { EmptyState, ErrorState, Loading, errorMessage } from "../../components/states";
import { actorName } from "../../lib/actor";
import { dateTime } from "../../lib/format";
import { api, keys, useContactOptions, useDoNotDisturb } from "./api";
import type { DoNotDisturb } from "./types";

function positive(raw: string | null): number {
  const n = Number(raw);
  return Number.isInteger(n) && n >= 1 ? n : 1;
}

function ContactSelect({ id, value, onChange }: { id?: string; value?: number[]; onChange?: (ids: number[]) => void }) {
  const { t } = useTranslation("campaigns");
  const [search, setSearch] = useState("");
  const deferred = useDeferredValue(search.trim());
  const contacts = useContactOptions(deferred);
  // Chosen customers keep their names while another search is on screen.
  const [names, setNames] = useState<Map<number, string>>(() => new Map());
  const options = (contacts.data?.results ?? []).map((c) => ({ value: c.id, label: c.name || c.external_userid }));
  for (const chosen of value ?? []) {
    if (!options.some((o) => o.value === chosen)) options.push({ value: chosen, label: names.get(chosen) ?? `#${chosen}` });
  }
  return (
    <Select<number[]>
      id={id}
      mode="multiple"
      showSearch={{ filterOption: false, onSearch: setSearch, searchValue: search }}
      placeholder={t("dnd.searchCustomer")}
      loading={contacts.isFetching}
      options={options}
      value={value}
      onChange={(next) => {
        setNames((current) => {
          const map = new Map(current);
          for (const option of options) if (next.includes(option.value)) map.set(option.value, option.label);
          return map;
        });
        setSearch("");
        onChange?.(next ?? []);
      }}
      notFoundContent={deferred ? (contacts.isFetching ? t("common:state.loading") : t("dnd.noCustomer")) : t("dnd.typeToSearch")}
      style={{ width: "100%" }}
    />
  );
}

function AddModal({ open, onClose }: { open: boolean; onClose: () => void }) {
  const { t } = useTranslation("campaigns");
  const [form] = Form.useForm<{ contacts: number[]; reason: string }>();
  const queryClient = useQueryClient();
  const { message } = App.useApp();
  const add = useMutation({
    mutationFn: (values: { contacts: number[]; reason: string }) => api.addDnd({ contacts: values.contacts, reason: (values.reason ?? "").trim() }),
    onSuccess: (result) => {
      void queryClient.invalidateQueries({ queryKey: keys.dnd });
      const already = result.entries.length - result.added;
      void message.success(
        result.entries.length === 1 && result.added === 1
          ? t("dnd.added", { name: result.entries[0].contact.name })
          : t("dnd.addedMany", { count: result.added, n: result.added, already }),
      );
      form.resetFields();
      onClose();
    },
    onError: (error) => {
      const fields = error instanceof ApiError ? error.fieldErrors() : {};
      // An unknown customer is named at its index (contacts.2): the picker shows it.
      const onContacts = Object.entries(fields).filter(([path]) => path === "contacts" || path.startsWith("contacts."));
      if (onContacts.length || fields.reason) {
        form.setFields([
          ...(onContacts.length ? [{ name: "contacts" as const, errors: onContacts.map(([, text]) => text) }] : []),
          ...(fields.reason ? [{ name: "reason" as const, errors: [fields.reason] }] : []),
        ]);
      } else void message.error(errorMessage(error));
    },
  });
  return (
    <Modal
      open={open}
      title={t("dnd.addTitle")}
      okText={t("dnd.add")}
      cancelText={t("common:action.cancel")}
      onOk={() => form.submit()}
      confirmLoading={add.isPending}
      onCancel={onClose}
      destroyOnHidden
    >
      <Form form={form} layout="vertical" onFinish={(values) => add.mutate(values)}>
        <Form.Item name="contacts" label={t("dnd.customers")} rules={[{ required: true, type: "array", min: 1, message: t("dnd.customerRequired") }]}>
          <ContactSelect />
        </Form.Item>
        <Form.Item name="reason" label={t("dnd.reason")}>
          <Input maxLength={200} placeholder={t("dnd.reasonPlaceholder")} />
        </Form.Item>
      </Form>
    </Modal>
  );
}

export default function DoNotDisturbPage() {
  const { t } = useTranslation("campaigns");
  const { message, modal } = App.useApp();
  const queryClient = useQueryClient();
  const [params, setParams] = useSearchParams();
  const page = positive(params.get("page"));
  const search = (params.get("search") ?? "").trim();
  const list = useDoNotDisturb(page, search);
  const [adding, setAdding] = useState(false);
  const setView = (next: { page: number; search: string }) => {
    const out = new URLSearchParams();
    if (next.search) out.set("search", next.search);
    if (next.page > 1) out.set("page", String(next.page));
    setParams(out);
  };

  const remove = useMutation({
    mutationFn: (row: DoNotDisturb) => api.removeDnd(row.id),
    onSuccess: (_r, row) => void message.success(t("dnd.removed", { name: row.contact.name })),
    onError: (error) => void message.error(errorMessage(error)),
    onSettled: () => queryClient.invalidateQueries({ queryKey: keys.dnd }),
  });

  const columns: ColumnsType<DoNotDisturb> = [
    { key: "customer", title: t("dnd.customer"), render: (_, row) => <Link to={`/customers?contact=${row.contact.id}`}>{row.contact.name}</Link> },
    { key: "reason", title: t("dnd.reason"), render: (_, row) => row.reason || <Typography.Text type="secondary">—</Typography.Text> },
    { key: "by", title: t("dnd.addedBy"), render: (_, row) => actorName(row.created_by, t) ?? "—" },
    { key: "at", title: t("dnd.addedAt"), render: (_, row) => dateTime(row.created_at) },
    {
      key: "actions",
      title: t("dnd.actions"),
      width: 120,
      render: (_, row) => (
        <Button
          type="link"
          size="small"
          danger
          icon={<DeleteOutlined />}
          aria-label={t("dnd.removeLabel", { name: row.contact.name })}
          onClick={() =>
            modal.confirm({
              title: t("dnd.removeTitle", { name: row.contact.name }),
              content: t("dnd.removeBody"),
              okText: t("dnd.remove"),
              okButtonProps: { danger: true },
              cancelText: t("common:action.cancel"),
              onOk: () => remove.mutateAsync(row).catch(() => undefined),
            })
          }
        >
          {t("dnd.remove")}
        </Button>
      ),
    },
  ];

  return (
    <div>
      <Space style={{ marginBottom: 8 }}>
        <Link to="/campaigns">
          <ArrowLeftOutlined /> {t("list.title")}
        </Link>
      </Space>
      <Space style={{ width: "100%", justifyContent: "space-between" }} align="start" wrap>
        <Typography.Title level={3}>{t("dnd.title")}</Typography.Title>
        <Button type="primary" icon={<PlusOutlined />} onClick={() => setAdding(true)}>
          {t("dnd.add")}
        </Button>
      </Space>
      <Typography.Paragraph type="secondary">{t("dnd.intro")}</Typography.Paragraph>
      <Card size="small" style={{ marginBottom: 16 }}>
        <Input.Search
          key={search}
          defaultValue={search}
          allowClear
          aria-label={t("dnd.search")}
          placeholder={t("dnd.search")}
          onSearch={(text) => setView({ page: 1, search: text.trim() })}
          style={{ width: 260 }}
        />
      </Card>
      {list.isPending ? (
        <Loading rows={5} />
      ) : list.isError ? (
        <ErrorState error={list.error} onRetry={() => void list.refetch()} />
      ) : (
        <>
          <Table<DoNotDisturb>
            rowKey="id"
            aria-label={t("dnd.title")}
            columns={columns}
            dataSource={list.data.results}
            loading={list.isFetching}
            pagination={false}
            locale={{ emptyText: <EmptyState description={search ? t("dnd.noMatch") : t("dnd.empty")} /> }}
          />
          {(page > 1 || list.data.next) && <Pager page={page} hasNext={!!list.data.next} onPage={(next) => setView({ page: next, search })} loading={list.isFetching} />}
        </>
      )}
      <AddModal open={adding} onClose={() => setAdding(false)} />
    </div>
  );
}
