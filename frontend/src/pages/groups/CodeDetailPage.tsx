// One group code: its QR (with the PNG to print), its groups and how full they are, the customers who
// joined through it per day and per group over a date range, and — on demo tenants — a simulated scan.
import "./strings";

import { ArrowLeftOutlined, DeleteOutlined, EditOutlined } from "@ant-design/icons";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { App, Button, Card, Col, Descriptions, Row, Space, Table, Typography } from "antd";
import { lazy, Suspense } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useParams } from "react-router";

import { QrCard } from "../../components/QrCard";
import { ErrorState, Loading, errorMessage } from "../../components/states";
import { dateTime } from "../../lib/format";
import { type GroupCode, api, codeQrUrl, keys, useGroupCode } from "./api";
import { StatusTag } from "./bits";
import { groupFull } from "./codes";

// The figures (with the date picker, then ECharts) and the demo's simulator load after the QR and
// the setup, so the page's first screen stays small.
const StatsCard = lazy(() => import("./CodeStatsCard"));
const CodeSimulateCard = lazy(() => import("./CodeSimulateCard"));

function CodeQrCard({ code }: { code: GroupCode }) {
  const { t } = useTranslation("groups");
  return (
    <QrCard
      src={codeQrUrl(code.id)}
      downloadHref={codeQrUrl(code.id, true)}
      title={t("codes.qr")}
      alt={t("codes.qrOf", { name: code.name })}
      failed={t("codeDetail.qrFailed")}
      download={t("codeDetail.download")}
      hint={t("codeDetail.qrHint")}
    />
  );
}

function SetupCard({ code }: { code: GroupCode }) {
  const { t } = useTranslation("groups");
  return (
    <Card title={t("codeDetail.setup")} extra={<Link to={`/groups/codes/${code.id}/edit`}>{t("common:action.edit")}</Link>}>
      <Table
        size="small"
        rowKey={(g) => g.chat_id}
        aria-label={t("codes.groups")}
        dataSource={code.groups}
        pagination={false}
        columns={[
          {
            key: "name",
            title: t("codes.group"),
            render: (_, g) =>
              g.id !== null ? <Link to={`/groups/${g.id}`}>{g.name || t("list.unnamed")}</Link> : <Typography.Text type="secondary">{t("codes.unsyncedGroup")}</Typography.Text>,
          },
          {
            key: "members",
            title: t("list.members"),
            align: "right",
            render: (_, g) => (g.member_count === null ? "—" : <span style={{ color: groupFull(g) ? "#cf1322" : undefined }}>{g.member_count}</span>),
          },
          { key: "status", title: t("list.status"), render: (_, g) => (g.status ? <StatusTag status={g.status} /> : "—") },
        ]}
      />
      <Descriptions
        size="small"
        column={1}
        style={{ marginTop: 12 }}
        items={[
          {
            key: "auto",
            label: t("codeForm.auto"),
            children: code.auto_create_room ? t("codes.autoCreates", { name: code.room_base_name, next: code.room_base_id }) : t("codeDetail.no"),
          },
          {
            key: "state",
            label: t("codeDetail.state"),
            children: (
              <Typography.Text code copyable>
                {code.state}
              </Typography.Text>
            ),
          },
          { key: "created", label: t("codeDetail.created"), children: dateTime(code.created_at) },
        ]}
      />
    </Card>
  );
}

export default function CodeDetailPage() {
  const { t } = useTranslation("groups");
  const { message, modal } = App.useApp();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const id = Number(useParams().id);
  const code = useGroupCode(id);
  const remove = useMutation({
    mutationFn: (c: GroupCode) => api.deleteCode(c.id),
    onSuccess: async (_r, c) => {
      void message.success(t("codes.deleted", { name: c.name }));
      await queryClient.invalidateQueries({ queryKey: keys.codes });
      navigate("/groups/codes");
    },
    onError: (error) => void message.error(errorMessage(error)),
  });

  return (
    <div>
      <Link to="/groups/codes">
        <ArrowLeftOutlined /> {t("codes.title")}
      </Link>
      {code.isPending ? (
        <Loading rows={10} />
      ) : code.isError ? (
        <ErrorState error={code.error} onRetry={() => void code.refetch()} />
      ) : (
        <>
          <Space style={{ width: "100%", justifyContent: "space-between", marginTop: 8 }} align="start" wrap>
            <Typography.Title level={3}>{code.data.name}</Typography.Title>
            <Space wrap>
              <Button icon={<EditOutlined />} onClick={() => navigate(`/groups/codes/${id}/edit`)}>
                {t("common:action.edit")}
              </Button>
              <Button
                danger
                icon={<DeleteOutlined />}
                onClick={() =>
                  modal.confirm({
                    title: t("codes.deleteTitle", { name: code.data.name }),
                    content: t("codes.deleteBody"),
                    okText: t("common:action.delete"),
                    okButtonProps: { danger: true },
                    cancelText: t("common:action.cancel"),
                    onOk: () => remove.mutateAsync(code.data).catch(() => undefined),
                  })
                }
              >
                {t("common:action.delete")}
              </Button>
            </Space>
          </Space>
          <Row gutter={[16, 16]}>
            <Col xs={24} lg={9}>
              <Space orientation="vertical" size="middle" style={{ width: "100%" }}>
                <CodeQrCard code={code.data} />
                <SetupCard code={code.data} />
              </Space>
            </Col>
            <Col xs={24} lg={15}>
              <Space orientation="vertical" size="middle" style={{ width: "100%" }}>
                {code.data.can_simulate && (
                  <Suspense fallback={<Loading rows={3} />}>
                    <CodeSimulateCard code={code.data} />
                  </Suspense>
                )}
                <Suspense fallback={<Card><Loading rows={6} /></Card>}>
                  <StatsCard code={code.data} />
                </Suspense>
              </Space>
            </Col>
          </Row>
        </>
      )}
    </div>
  );
}
