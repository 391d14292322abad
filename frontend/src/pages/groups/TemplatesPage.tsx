// Group welcome templates (入群欢迎语): what a newcomer to a group receives, kept in WeCom (at most 100
// per company) and chosen in the WeCom client when an owner sets a group's welcome. List, edit, delete.
import "./strings";

import { DeleteOutlined, EditOutlined, PlusOutlined } from "@ant-design/icons";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { App, Button, Space, Table, Tag, Typography } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate } from "react-router";

import { KindTag } from "../../components/MaterialCard";
import { Pager } from "../../components/Pager";
import { EmptyState, ErrorState, Loading, errorMessage } from "../../components/states";
import { dateTime } from "../../lib/format";
import { useMaterialsByIds } from "../library/api";
import { type GroupWelcomeTemplate, api, keys, useTemplates } from "./api";
import { attachmentForForm, renderNickname } from "./welcome";

function Excerpt({ text }: { text: string }) {
  const { t } = useTranslation("groups");
  if (!text.trim()) return <Typography.Text type="secondary">—</Typography.Text>;
  return (
    <Typography.Paragraph ellipsis={{ rows: 2, tooltip: text }} style={{ margin: 0, maxWidth: 420 }}>
      {renderNickname(text, t("templates.nickname")).map((piece, i) =>
        piece.nickname ? (
          <Tag key={i} color="blue" style={{ marginInline: 2 }}>
            {piece.text}
          </Tag>
        ) : (
          <span key={i}>{piece.text}</span>
        ),
      )}
    </Typography.Paragraph>
  );
}

export default function TemplatesPage() {
  const { t } = useTranslation("groups");
  const { message, modal } = App.useApp();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [page, setPage] = useState(1);
  const templates = useTemplates(page);
  const attached = (templates.data?.results ?? []).map((tpl) => attachmentForForm(tpl.attachment)?.material_id);
  const materials = useMaterialsByIds(attached.filter((id): id is number => id !== undefined));
  const remove = useMutation({
    mutationFn: (template: GroupWelcomeTemplate) => api.deleteTemplate(template.id),
    onSuccess: (_r, template) => void message.success(t("templates.deleted", { name: template.name })),
    onError: (error) => void message.error(errorMessage(error)),
    onSettled: () => queryClient.invalidateQueries({ queryKey: keys.templates }),
  });

  return (
    <div>
      <Space style={{ width: "100%", justifyContent: "space-between" }} align="start" wrap>
        <Typography.Title level={3}>{t("templates.title")}</Typography.Title>
        <Button type="primary" icon={<PlusOutlined />} onClick={() => navigate("/groups/welcome/new")}>
          {t("templates.new")}
        </Button>
      </Space>
      <Typography.Paragraph type="secondary">{t("templates.intro")}</Typography.Paragraph>
      {templates.isPending ? (
        <Loading rows={5} />
      ) : templates.isError ? (
        <ErrorState error={templates.error} onRetry={() => void templates.refetch()} />
      ) : (
        <>
          <Table<GroupWelcomeTemplate>
            rowKey="id"
            aria-label={t("templates.title")}
            dataSource={templates.data.results}
            loading={templates.isFetching}
            pagination={false}
            scroll={{ x: 800 }}
            locale={{
              emptyText: (
                <EmptyState description={page > 1 ? t("list.pastEnd") : t("templates.empty")}>
                  {page > 1 ? (
                    <Button onClick={() => setPage(1)}>{t("list.firstPage")}</Button>
                  ) : (
                    <Button type="primary" icon={<PlusOutlined />} onClick={() => navigate("/groups/welcome/new")}>
                      {t("templates.createFirst")}
                    </Button>
                  )}
                </EmptyState>
              ),
            }}
            columns={[
              {
                key: "name",
                title: t("templates.name"),
                render: (_, tpl) => (
                  <Link to={`/groups/welcome/${tpl.id}/edit`}>
                    <Typography.Text strong>{tpl.name}</Typography.Text>
                  </Link>
                ),
              },
              { key: "text", title: t("templates.text"), render: (_, tpl) => <Excerpt text={tpl.text} /> },
              {
                key: "attachment",
                title: t("templates.attachment"),
                render: (_, tpl) => {
                  const attachment = attachmentForForm(tpl.attachment);
                  const material = attachment ? materials.data?.[attachment.material_id] : undefined;
                  return material ? (
                    <Space size={4}>
                      <KindTag kind={material.kind} />
                      <Typography.Text ellipsis style={{ maxWidth: 160 }}>
                        {material.title}
                      </Typography.Text>
                    </Space>
                  ) : (
                    <Typography.Text type="secondary">—</Typography.Text>
                  );
                },
              },
              { key: "updated", title: t("templates.updated"), render: (_, tpl) => dateTime(tpl.updated_at) },
              {
                key: "actions",
                title: t("list.actions"),
                width: 180,
                render: (_, tpl) => (
                  <Space size={0}>
                    <Button type="link" size="small" icon={<EditOutlined />} aria-label={t("templates.editLabel", { name: tpl.name })} onClick={() => navigate(`/groups/welcome/${tpl.id}/edit`)}>
                      {t("common:action.edit")}
                    </Button>
                    <Button
                      type="link"
                      size="small"
                      danger
                      icon={<DeleteOutlined />}
                      aria-label={t("templates.deleteLabel", { name: tpl.name })}
                      onClick={() =>
                        modal.confirm({
                          title: t("templates.deleteTitle", { name: tpl.name }),
                          content: t("templates.deleteBody"),
                          okText: t("common:action.delete"),
                          okButtonProps: { danger: true },
                          cancelText: t("common:action.cancel"),
                          onOk: () => remove.mutateAsync(tpl).catch(() => undefined),
                        })
                      }
                    >
                      {t("common:action.delete")}
                    </Button>
                  </Space>
                ),
              },
            ]}
          />
          {(page > 1 || templates.data.next) && <Pager page={page} hasNext={!!templates.data.next} onPage={setPage} loading={templates.isFetching} />}
        </>
      )}
    </div>
  );
}
