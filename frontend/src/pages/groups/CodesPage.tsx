// Group codes (群活码): every code with its QR, its groups (with how full they are) and the customers
// who joined through it; edit, download the QR, delete. Page and page size live in the URL.
import "./strings";

import { DeleteOutlined, DownloadOutlined, EditOutlined, MessageOutlined, PlusOutlined, QrcodeOutlined } from "@ant-design/icons";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { App, Button, Space, Table, Tag, Tooltip, Typography } from "antd";
import type { ColumnsType } from "antd/es/table";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useSearchParams } from "react-router";

import { Pager } from "../../components/Pager";
import { EmptyState, ErrorState, Loading, errorMessage } from "../../components/states";
import { readList, writeList } from "../channels/params";
import { type GroupCode, api, codeQrUrl, keys, useGroupCodes } from "./api";
import { groupFull } from "./codes";

function CodeGroups({ code }: { code: GroupCode }) {
  const { t } = useTranslation("groups");
  return (
    <Space orientation="vertical" size={2}>
      {code.groups.map((group, i) => {
        const label = group.name || t("codes.unsyncedGroup");
        const count = group.member_count ?? null;
        return (
          <Space key={`${group.chat_id}-${i}`} size={4}>
            {group.id !== null ? <Link to={`/groups/${group.id}`}>{label}</Link> : <Typography.Text type="secondary">{label}</Typography.Text>}
            {count !== null && (
              <Tooltip title={groupFull(group) ? t("codes.fullHint") : undefined}>
                <Tag color={groupFull(group) ? "red" : undefined} tabIndex={groupFull(group) ? 0 : undefined}>
                  {t("codes.memberCount", { count })}
                </Tag>
              </Tooltip>
            )}
            {group.status === "dismissed" && <Tag>{t("status.dismissed")}</Tag>}
          </Space>
        );
      })}
      {code.auto_create_room && (
        <Typography.Text type="secondary" style={{ fontSize: 12 }}>
          {t("codes.autoCreates", { name: code.room_base_name, next: code.room_base_id })}
        </Typography.Text>
      )}
    </Space>
  );
}

export default function CodesPage() {
  const { t } = useTranslation("groups");
  const { message, modal } = App.useApp();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [params, setParams] = useSearchParams();
  const view = readList(params);
  const codes = useGroupCodes(view.page, view.pageSize);

  const remove = useMutation({
    mutationFn: (code: GroupCode) => api.deleteCode(code.id),
    onSuccess: (_r, code) => void message.success(t("codes.deleted", { name: code.name })),
    onError: (error) => void message.error(errorMessage(error)),
    onSettled: () => queryClient.invalidateQueries({ queryKey: keys.codes }),
  });
  const confirmDelete = (code: GroupCode) =>
    modal.confirm({
      title: t("codes.deleteTitle", { name: code.name }),
      content: t("codes.deleteBody"),
      okText: t("common:action.delete"),
      okButtonProps: { danger: true },
      cancelText: t("common:action.cancel"),
      onOk: () => remove.mutateAsync(code).catch(() => undefined),
    });

  const columns: ColumnsType<GroupCode> = [
    {
      key: "qr",
      title: t("codes.qr"),
      width: 84,
      render: (_, code) => (
        <Link to={`/groups/codes/${code.id}`} aria-label={t("codes.open", { name: code.name })}>
          <img
            src={codeQrUrl(code.id)}
            alt={t("codes.qrOf", { name: code.name })}
            loading="lazy"
            width={56}
            height={56}
            style={{ display: "block", border: "1px solid #f0f0f0", borderRadius: 4, background: "#fff" }}
            data-testid="qr-thumb"
          />
        </Link>
      ),
    },
    {
      key: "name",
      title: t("codes.name"),
      render: (_, code) => (
        <Link to={`/groups/codes/${code.id}`}>
          <Typography.Text strong>{code.name}</Typography.Text>
        </Link>
      ),
    },
    { key: "groups", title: t("codes.groups"), render: (_, code) => <CodeGroups code={code} /> },
    { key: "joins", title: t("codes.joins"), align: "right", render: (_, code) => <span data-testid="code-joins">{code.joins}</span> },
    {
      key: "actions",
      title: t("list.actions"),
      width: 250,
      render: (_, code) => (
        <Space size={0} wrap>
          <Button type="link" size="small" icon={<EditOutlined />} aria-label={t("codes.editLabel", { name: code.name })} onClick={() => navigate(`/groups/codes/${code.id}/edit`)}>
            {t("common:action.edit")}
          </Button>
          <Button type="link" size="small" icon={<DownloadOutlined />} href={codeQrUrl(code.id, true)} aria-label={t("codes.downloadLabel", { name: code.name })}>
            {t("codes.download")}
          </Button>
          <Button type="link" size="small" danger icon={<DeleteOutlined />} aria-label={t("codes.deleteLabel", { name: code.name })} onClick={() => confirmDelete(code)}>
            {t("common:action.delete")}
          </Button>
        </Space>
      ),
    },
  ];

  const empty =
    view.page > 1 ? (
      <EmptyState description={t("list.pastEnd")}>
        <Button onClick={() => setParams(writeList(params, { ...view, page: 1 }))}>{t("list.firstPage")}</Button>
      </EmptyState>
    ) : (
      <EmptyState description={t("codes.empty")}>
        <Typography.Paragraph type="secondary" style={{ maxWidth: 480, margin: "0 auto 16px" }}>
          {t("codes.emptyHint")}
        </Typography.Paragraph>
        <Button type="primary" icon={<QrcodeOutlined />} onClick={() => navigate("/groups/codes/new")}>
          {t("codes.createFirst")}
        </Button>
      </EmptyState>
    );

  return (
    <div>
      <Space style={{ width: "100%", justifyContent: "space-between" }} align="start" wrap>
        <Typography.Title level={3}>{t("codes.title")}</Typography.Title>
        <Space wrap>
          <Button icon={<MessageOutlined />} onClick={() => navigate("/groups/welcome")}>
            {t("templates.nav")}
          </Button>
          <Button type="primary" icon={<PlusOutlined />} onClick={() => navigate("/groups/codes/new")}>
            {t("codes.new")}
          </Button>
        </Space>
      </Space>
      <Typography.Paragraph type="secondary">{t("codes.intro")}</Typography.Paragraph>
      {codes.isPending ? (
        <Loading rows={6} />
      ) : codes.isError ? (
        <ErrorState error={codes.error} onRetry={() => void codes.refetch()} />
      ) : (
        <>
          <Table<GroupCode>
            rowKey="id"
            aria-label={t("codes.title")}
            columns={columns}
            dataSource={codes.data.results}
            loading={codes.isFetching}
            pagination={false}
            scroll={{ x: 900 }}
            locale={{ emptyText: empty }}
          />
          {(view.page > 1 || codes.data.next) && (
            <Pager
              page={view.page}
              hasNext={!!codes.data.next}
              onPage={(page) => setParams(writeList(params, { ...view, page }))}
              pageSize={view.pageSize}
              onPageSize={(pageSize) => setParams(writeList(params, { ...view, pageSize, page: 1 }))}
              loading={codes.isFetching}
            />
          )}
        </>
      )}
    </div>
  );
}
