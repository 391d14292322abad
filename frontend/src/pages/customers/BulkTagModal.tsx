// Tag or untag many customers at once (a background job): the selected rows, or every customer the
// current filters select.
import { useMutation } from "@tanstack/react-query";
import { Alert, App, Form, Modal, Radio } from "antd";
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";

import { ApiError, client, data } from "../../api/client";
import { errorMessage } from "../../components/states";
import { type Job, idempotencyKey, useTagGroups } from "./api";
import { TagPicker } from "./controls";
import { type CustomerFilters, filtersToParams, hasActiveFilters } from "./filters";

type Target = "selected" | "filter";

interface Values {
  action: "tag" | "untag";
  target: Target;
  tags: number[];
}

export default function BulkTagModal({
  open,
  action,
  selected,
  filters,
  onClose,
  onStarted,
}: {
  open: boolean;
  action: "tag" | "untag";
  selected: number[];
  filters: CustomerFilters;
  onClose: () => void;
  onStarted: (job: Job) => void;
}) {
  const { t } = useTranslation("customers");
  const { message } = App.useApp();
  const [form] = Form.useForm<Values>();
  const tagGroups = useTagGroups();
  // One key per opening of the dialog: a double click or a retry does not start two jobs.
  const [key, setKey] = useState(idempotencyKey);
  const target = Form.useWatch("target", form);

  useEffect(() => {
    if (open) {
      setKey(idempotencyKey());
      form.setFieldsValue({ action, target: selected.length ? "selected" : "filter", tags: [] });
    }
  }, [open, action, selected.length, form]);

  const start = useMutation({
    mutationFn: (values: Values) =>
      data(
        client.POST("/api/v1/contacts/bulk-tag/", {
          params: { header: { "Idempotency-Key": key } },
          body: {
            action: values.action,
            tags: values.tags,
            ...(values.target === "selected" ? { contacts: selected } : { filters: filtersToParams(filters) }),
          },
        }),
      ),
    onSuccess: (job) => {
      onStarted(job);
      onClose();
    },
    onError: (error) => {
      if (error instanceof ApiError) {
        const fields = error.fieldErrors();
        const known = (["tags", "action"] as const).filter((name) => fields[name]);
        if (known.length) {
          form.setFields(known.map((name) => ({ name, errors: [fields[name]] })));
          return;
        }
      }
      void message.error(errorMessage(error));
    },
  });

  return (
    <Modal
      open={open}
      title={t("bulk.title")}
      okText={t("bulk.start")}
      onOk={() => form.submit()}
      confirmLoading={start.isPending}
      onCancel={onClose}
      destroyOnHidden
    >
      <Form<Values> form={form} layout="vertical" onFinish={(values) => start.mutate(values)}>
        <Form.Item name="action" label={t("bulk.action")}>
          <Radio.Group
            options={[
              { value: "tag", label: t("bulk.tag") },
              { value: "untag", label: t("bulk.untag") },
            ]}
          />
        </Form.Item>
        <Form.Item
          name="tags"
          label={t("bulk.tags")}
          rules={[{ required: true, type: "array", min: 1, message: t("bulk.tagsRequired") }]}
        >
          <TagPicker
            groups={tagGroups.data}
            loading={tagGroups.isPending}
            placeholder={t("bulk.tagsPlaceholder")}
          />
        </Form.Item>
        <Form.Item name="target" label={t("bulk.target")}>
          <Radio.Group
            options={[
              { value: "selected", label: t("bulk.selected", { count: selected.length }), disabled: !selected.length },
              { value: "filter", label: hasActiveFilters(filters) ? t("bulk.filtered") : t("bulk.everyone") },
            ]}
          />
        </Form.Item>
        {target === "filter" && !hasActiveFilters(filters) && (
          <Alert type="warning" showIcon title={t("bulk.everyoneWarning")} />
        )}
      </Form>
    </Modal>
  );
}
