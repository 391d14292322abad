// The SOP list (/sop): each SOP with its kind, status, live version and enrolment counts; a new SOP
// starts from one of the templates or blank, and opens in the builder.
import "./strings";

import { CheckCircleFilled, FileAddOutlined, PlusOutlined, ScheduleOutlined } from "@ant-design/icons";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { App, Button, Card, Col, Form, Input, Modal, Radio, Row, Space, Table, Typography } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useSearchParams } from "react-router";

import { EmptyState, ErrorState, errorMessage } from "../../components/states";
import { dateTime } from "../../lib/format";
import { PAGE_SIZE, api, keys, pagerTotal, useSops, useTemplates } from "./api";
import { KindTag, StatusTag } from "./bits";
import { KINDS, type Kind, type SopRow } from "./types";

const BLANK = "";

function CreateModal({ open, onClose }: { open: boolean; onClose: () => void }) {
  const { t } = useTranslation("sop");
  const { message } = App.useApp();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const templates = useTemplates(open);
  const [form] = Form.useForm<{ name: string; kind: Kind; description?: string }>();
  const [template, setTemplate] = useState<string>(BLANK);
  const create = useMutation({
    mutationFn: (values: { name: string; kind: Kind; description?: string }) =>
      api.create({ ...values, ...(template ? { template } : {}) }),
    onSuccess: (sop) => {
      void message.success(t("create.created", { name: sop.name }));
      void queryClient.invalidateQueries({ queryKey: keys.all });
      onClose();
      void navigate(`/sop/${sop.id}`);
    },
    onError: (error) => void message.error(errorMessage(error)),
  });
  const choose = (key: string) => {
    setTemplate(key);
    const chosen = templates.data?.find((tpl) => tpl.key === key);
    if (chosen) form.setFieldsValue({ name: chosen.name, kind: chosen.kind, description: chosen.description });
  };
  return (
    <Modal
      open={open}
      title={t("create.title")}
      onCancel={onClose}
      width={760}
      okText={t("create.submit")}
      okButtonProps={{ loading: create.isPending }}
      onOk={() => form.submit()}
      destroyOnHidden
      afterClose={() => setTemplate(BLANK)}
    >
      <Typography.Title level={5}>{t("create.template")}</Typography.Title>
      {templates.isError && <Typography.Text type="danger">{t("create.templatesError")}</Typography.Text>}
      <Row gutter={[12, 12]} style={{ marginBottom: 16 }} role="radiogroup" aria-label={t("create.template")}>
        {[...(templates.data ?? []), null].map((tpl) => {
          const key = tpl?.key ?? BLANK;
          const checked = template === key;
          return (
            <Col span={12} key={key || "blank"}>
              <Card
                size="small"
                hoverable
                role="radio"
                aria-checked={checked}
                tabIndex={0}
                data-testid="sop-template"
                onClick={() => choose(key)}
                onKeyDown={(e) => {
                  if (e.key === "Enter" || e.key === " ") {
                    e.preventDefault();
                    choose(key);
                  }
                }}
                style={{ borderColor: checked ? "#1677ff" : undefined, height: "100%" }}
              >
                <Space align="start">
                  {tpl ? <ScheduleOutlined style={{ fontSize: 20, color: "#1677ff" }} /> : <FileAddOutlined style={{ fontSize: 20 }} />}
                  <div>
                    <Space>
                      <Typography.Text strong>{tpl ? tpl.name : t("create.blank")}</Typography.Text>
                      {tpl && <KindTag kind={tpl.kind} />}
                      {checked && <CheckCircleFilled style={{ color: "#1677ff" }} />}
                    </Space>
                    <Typography.Paragraph type="secondary" style={{ margin: 0, fontSize: 12 }}>
                      {tpl ? tpl.description : t("create.blankHint")}
                    </Typography.Paragraph>
                  </div>
                </Space>
              </Card>
            </Col>
          );
        })}
      </Row>
      <Form form={form} layout="vertical" initialValues={{ kind: "customer" }} onFinish={(values) => create.mutate(values)}>
        <Form.Item name="name" label={t("create.name")} rules={[{ required: true, whitespace: true, message: t("create.required") }]}>
          <Input maxLength={100} />
        </Form.Item>
        <Form.Item name="kind" label={t("create.kind")}>
          <Radio.Group
            disabled={template !== BLANK}
            options={KINDS.map((k) => ({ value: k, label: t(`kind.${k}`) }))}
          />
        </Form.Item>
        <Form.Item name="description" label={t("create.description")}>
          <Input.TextArea maxLength={500} rows={2} />
        </Form.Item>
      </Form>
    </Modal>
  );
}

export default function SopsPage() {
  const { t } = useTranslation("sop");
  const [params, setParams] = useSearchParams();
  const page = Math.max(1, Number(params.get("page")) || 1);
  const sops = useSops(page);
  const [creating, setCreating] = useState(false);
  const body = sops.data;
  const list = body?.results ?? [];
  const total = pagerTotal(page, body);

  return (
    <div>
      <Space style={{ width: "100%", justifyContent: "space-between", marginBottom: 8 }} wrap>
        <Typography.Title level={3} style={{ margin: 0 }}>
          {t("list.title")}
        </Typography.Title>
        <Space>
          <Link to="/sop/tasks">{t("list.myTasks")}</Link>
          <Button type="primary" icon={<PlusOutlined />} onClick={() => setCreating(true)}>
            {t("list.new")}
          </Button>
        </Space>
      </Space>
      <Typography.Paragraph type="secondary">{t("list.intro")}</Typography.Paragraph>
      {sops.isError ? (
        <ErrorState error={sops.error} onRetry={() => void sops.refetch()} />
      ) : !sops.isPending && list.length === 0 && page === 1 ? (
        <EmptyState description={t("list.empty")}>
          <Typography.Paragraph type="secondary">{t("list.emptyHint")}</Typography.Paragraph>
          <Button type="primary" icon={<PlusOutlined />} onClick={() => setCreating(true)}>
            {t("list.new")}
          </Button>
        </EmptyState>
      ) : (
        <Table<SopRow>
          rowKey="id"
          loading={sops.isFetching}
          dataSource={list}
          pagination={{
            current: page,
            pageSize: PAGE_SIZE,
            total,
            showSizeChanger: false,
            onChange: (p) => setParams(p > 1 ? { page: String(p) } : {}),
          }}
          columns={[
            {
              title: t("list.name"),
              key: "name",
              render: (_, sop) => (
                <div>
                  <Link to={`/sop/${sop.id}`}>{sop.name}</Link>
                  {sop.description && (
                    <Typography.Paragraph type="secondary" ellipsis={{ rows: 1 }} style={{ margin: 0, fontSize: 12, maxWidth: 420 }}>
                      {sop.description}
                    </Typography.Paragraph>
                  )}
                </div>
              ),
            },
            { title: t("list.kind"), key: "kind", render: (_, sop) => <KindTag kind={sop.kind} /> },
            { title: t("list.status"), key: "status", render: (_, sop) => <StatusTag status={sop.status} /> },
            {
              title: t("list.liveVersion"),
              key: "version",
              render: (_, sop) => (sop.live_version ? `v${sop.live_version.number}` : "—"),
            },
            {
              title: t("list.enrolments"),
              key: "enrolments",
              render: (_, sop) => (
                <Typography.Text data-testid="sop-active">{t("list.active", { count: sop.active_enrolments ?? 0 })}</Typography.Text>
              ),
            },
            { title: t("list.updated"), key: "updated", render: (_, sop) => (sop.updated_at ? dateTime(sop.updated_at) : "—") },
            {
              title: t("list.actions"),
              key: "actions",
              render: (_, sop) => (
                <Space>
                  <Link to={`/sop/${sop.id}`}>{t("list.edit")}</Link>
                  {sop.status !== "draft" && <Link to={`/sop/${sop.id}/report`}>{t("list.report")}</Link>}
                </Space>
              ),
            },
          ]}
        />
      )}
      <CreateModal open={creating} onClose={() => setCreating(false)} />
    </div>
  );
}
