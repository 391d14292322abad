// Saved segments: open one (its filters replace the current ones), save the current filters as one,
// delete one. Admins and operators write; everyone may open them. A segment naming tags deleted in
// WeCom is marked, and opening it says which: it no longer means what it was saved to mean.
import { DeleteOutlined, SaveOutlined, WarningOutlined } from "@ant-design/icons";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Alert, App, Button, Form, Input, Modal, Popconfirm, Select, Space } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";

import { ApiError, client, data } from "../../api/client";
import { errorMessage } from "../../components/states";
import { type Segment, keys, useSegments } from "./api";
import { type CustomerFilters, filtersFromParams, filtersToParams, hasActiveFilters, sameFilters } from "./filters";

function SaveSegmentModal({
  open,
  filters,
  onClose,
  onSaved,
}: {
  open: boolean;
  filters: CustomerFilters;
  onClose: () => void;
  onSaved: (segment: Segment) => void;
}) {
  const { t } = useTranslation("customers");
  const [form] = Form.useForm<{ name: string }>();
  const queryClient = useQueryClient();
  const { message } = App.useApp();
  const save = useMutation({
    mutationFn: (name: string) =>
      data(client.POST("/api/v1/segments/", { body: { name, filters: filtersToParams(filters) } })),
    onSuccess: (segment) => {
      void queryClient.invalidateQueries({ queryKey: keys.segments });
      void message.success(t("segment.saved", { name: segment.name }));
      onSaved(segment);
      form.resetFields();
    },
    onError: (error) => {
      const fields = error instanceof ApiError ? error.fieldErrors() : {};
      if (fields.name) form.setFields([{ name: "name", errors: [fields.name] }]);
      else void message.error(errorMessage(error));
    },
  });
  return (
    <Modal
      open={open}
      title={t("segment.saveTitle")}
      okText={t("common:action.save")}
      onOk={() => form.submit()}
      confirmLoading={save.isPending}
      onCancel={onClose}
      destroyOnHidden
    >
      <Form form={form} layout="vertical" onFinish={(values) => save.mutate(values.name.trim())}>
        <Form.Item
          name="name"
          label={t("segment.name")}
          rules={[{ required: true, whitespace: true, message: t("segment.nameRequired") }]}
        >
          <Input maxLength={100} autoFocus />
        </Form.Item>
      </Form>
    </Modal>
  );
}

export default function SegmentsBar({
  filters,
  canWrite,
  onOpen,
}: {
  filters: CustomerFilters;
  canWrite: boolean;
  onOpen: (filters: CustomerFilters) => void;
}) {
  const { t } = useTranslation("customers");
  const { message } = App.useApp();
  const queryClient = useQueryClient();
  const segments = useSegments();
  const [saving, setSaving] = useState(false);
  const list = segments.data?.results ?? [];
  // The segment on screen: the one whose filters are the current ones.
  const active = list.find((segment) => sameFilters(filtersFromParams(segment.filters), filters));

  const remove = useMutation({
    mutationFn: (id: number) => data(client.DELETE("/api/v1/segments/{id}/", { params: { path: { id: String(id) } } })),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: keys.segments });
      void message.success(t("segment.deleted"));
    },
    onError: (error) => void message.error(errorMessage(error)),
  });

  const deletedTags = active?.deleted_tags ?? [];

  return (
    <Space orientation="vertical" size={8} style={{ maxWidth: "100%" }}>
      <Space wrap>
        <label htmlFor="segment-select">{t("segment.label")}</label>
        <Select
          id="segment-select"
          style={{ minWidth: 220 }}
          placeholder={segments.isError ? t("segment.loadFailed") : t("segment.placeholder")}
          loading={segments.isPending}
          status={segments.isError ? "error" : undefined}
          showSearch={{ optionFilterProp: "label" }}
          options={list.map((segment) => ({ value: segment.id, label: segment.name }))}
          optionRender={(option) => {
            const stale = list.find((s) => s.id === option.value)?.deleted_tags.length;
            return (
              <Space size={4}>
                {option.label}
                {stale ? <WarningOutlined style={{ color: "#faad14" }} aria-label={t("segment.staleMark")} /> : null}
              </Space>
            );
          }}
          value={active?.id ?? null /* null shows the placeholder */}
          onChange={(id) => {
            const segment = list.find((s) => s.id === id);
            if (segment) onOpen(filtersFromParams(segment.filters));
          }}
          notFoundContent={t("segment.none")}
        />
        {canWrite && (
          <Button
            icon={<SaveOutlined />}
            disabled={!hasActiveFilters(filters) || !!active}
            onClick={() => setSaving(true)}
          >
            {t("segment.save")}
          </Button>
        )}
        {canWrite && active && (
          <Popconfirm
            title={t("segment.deleteConfirm", { name: active.name })}
            okText={t("common:action.delete")}
            okButtonProps={{ danger: true }}
            cancelText={t("common:action.cancel")}
            // A failure is shown by onError; the promise only keeps the OK button loading.
            onConfirm={() => remove.mutateAsync(active.id).catch(() => undefined)}
          >
            <Button danger icon={<DeleteOutlined />} loading={remove.isPending}>
              {t("segment.delete")}
            </Button>
          </Popconfirm>
        )}
        <SaveSegmentModal
          open={saving}
          filters={filters}
          onClose={() => setSaving(false)}
          onSaved={() => setSaving(false)}
        />
      </Space>
      {active && deletedTags.length > 0 && (
        <Alert
          type="warning"
          showIcon
          data-testid="segment-deleted-tags"
          title={t("segment.staleTitle", { name: active.name })}
          description={t("segment.staleBody", {
            tags: deletedTags
              .map((tag) => (tag.name ? `${tag.group} / ${tag.name}` : t("segment.unknownTag", { id: tag.id })))
              .join("、"),
          })}
        />
      )}
    </Space>
  );
}
