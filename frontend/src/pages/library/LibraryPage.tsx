// The content library (素材库): folders on the left; on the right the materials of the chosen folder
// with a kind filter, a tag filter and a search; upload a file (its kind from its type: JPG/PNG
// images, MP4 videos, anything else a file), write a text, a link or a mini program card, edit, and
// delete (refused while something uses the material: the message names what).
import "./strings";

import {
  DeleteOutlined,
  DownloadOutlined,
  EditOutlined,
  FolderAddOutlined,
  FolderOpenOutlined,
  FolderOutlined,
  MoreOutlined,
  PlusOutlined,
  UploadOutlined,
} from "@ant-design/icons";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { App, Button, Card, Col, Dropdown, Input, Menu, Row, Select, Space, Table, Tag, Tooltip, Typography, Upload } from "antd";
import type { ColumnsType } from "antd/es/table";
import { useState } from "react";
import { useTranslation } from "react-i18next";

import { ApiError } from "../../api/client";
import { KindTag, MaterialThumb, materialSummary } from "../../components/MaterialCard";
import { PAGE_SIZES, Pager } from "../../components/Pager";
import { EmptyState, ErrorState, Loading, errorMessage } from "../../components/states";
import { type Folder, type Material, type MaterialKind, type MaterialUser, api, keys, useFolders, useMaterialTags, useMaterials } from "./api";
import MaterialForm from "./MaterialForm";
import { KINDS, UPLOAD_LIMITS, formatSize, uploadKindFor, uploadProblem, usersList } from "./materials";

type FolderKey = number | "none" | undefined;

function folderKey(folder: FolderKey): string {
  return folder === undefined ? "all" : String(folder);
}

function FolderList({ folder, onFolder }: { folder: FolderKey; onFolder: (folder: FolderKey) => void }) {
  const { t } = useTranslation("library");
  const { message, modal } = App.useApp();
  const queryClient = useQueryClient();
  const folders = useFolders();
  const refresh = () => Promise.all([queryClient.invalidateQueries({ queryKey: keys.folders }), queryClient.invalidateQueries({ queryKey: keys.materials })]);

  const ask = (title: string, initial: string, save: (name: string) => Promise<unknown>) => {
    let name = initial;
    modal.confirm({
      title,
      icon: <FolderOutlined />,
      content: <Input autoFocus defaultValue={initial} aria-label={t("folders.name")} maxLength={60} onChange={(e) => (name = e.target.value)} />,
      okText: t("common:action.save"),
      cancelText: t("common:action.cancel"),
      onOk: () =>
        save(name).then(refresh, (error) => {
          void message.error(errorMessage(error));
          throw error;
        }),
    });
  };
  const remove = (item: Folder) =>
    modal.confirm({
      title: t("folders.removeTitle", { name: item.name }),
      content: t("folders.removeBody"),
      okText: t("common:action.delete"),
      okButtonProps: { danger: true },
      cancelText: t("common:action.cancel"),
      onOk: () =>
        api.removeFolder(item.id).then(async () => {
          void message.success(t("folders.removed", { name: item.name }));
          if (folder === item.id) onFolder(undefined);
          await refresh();
        }),
    });

  const items = [
    { key: "all", icon: <FolderOpenOutlined />, label: t("folders.all") },
    { key: "none", icon: <FolderOutlined />, label: t("folders.none") },
    ...(folders.data ?? []).map((item) => ({
      key: String(item.id),
      icon: <FolderOutlined />,
      label: (
        <span style={{ display: "flex", justifyContent: "space-between", gap: 4 }}>
          <Typography.Text ellipsis style={{ maxWidth: 120 }}>
            {item.name}
          </Typography.Text>
          <span>
            <Typography.Text type="secondary">{item.material_count}</Typography.Text>
            <Dropdown
              trigger={["click"]}
              menu={{
                items: [
                  { key: "rename", icon: <EditOutlined />, label: t("folders.rename") },
                  { key: "remove", icon: <DeleteOutlined />, danger: true, label: t("folders.remove") },
                ],
                onClick: ({ key, domEvent }) => {
                  domEvent.stopPropagation();
                  if (key === "rename") ask(t("folders.renameLabel", { name: item.name }), item.name, (name) => api.renameFolder(item.id, name));
                  else remove(item);
                },
              }}
            >
              <Button size="small" type="text" icon={<MoreOutlined />} aria-label={t("folders.renameLabel", { name: item.name })} onClick={(e) => e.stopPropagation()} />
            </Dropdown>
          </span>
        </span>
      ),
    })),
  ];

  return (
    <Card
      size="small"
      title={t("folders.title")}
      extra={
        <Button
          size="small"
          icon={<FolderAddOutlined />}
          onClick={() =>
            ask(t("folders.add"), "", (name) =>
              api.createFolder(name).then((created) => void message.success(t("folders.created", { name: created.name }))),
            )
          }
        >
          {t("folders.add")}
        </Button>
      }
      styles={{ body: { padding: 4 } }}
    >
      <Menu
        mode="inline"
        aria-label={t("folders.title")}
        selectedKeys={[folderKey(folder)]}
        items={items}
        style={{ borderInlineEnd: "none" }}
        onClick={({ key }) => onFolder(key === "all" ? undefined : key === "none" ? "none" : Number(key))}
      />
    </Card>
  );
}

export default function LibraryPage() {
  const { t } = useTranslation("library");
  const { message, modal } = App.useApp();
  const queryClient = useQueryClient();
  const [folder, setFolder] = useState<FolderKey>(undefined);
  const [kind, setKind] = useState<MaterialKind | "">("");
  const [tag, setTag] = useState<string | undefined>(undefined);
  const [q, setQ] = useState("");
  const [page, setPage] = useState(1);
  const [pageSize, setPageSize] = useState(20);
  const [editing, setEditing] = useState<{ kind: MaterialKind; material?: Material } | null>(null);
  const materials = useMaterials({ page, pageSize, kinds: kind ? [kind] : undefined, folder, tag, q: q || undefined });
  const tags = useMaterialTags();
  const filtered = Boolean(kind || tag || q || folder !== undefined);
  const refresh = () => Promise.all([queryClient.invalidateQueries({ queryKey: keys.materials }), queryClient.invalidateQueries({ queryKey: keys.folders })]);
  const reset = (apply: () => void) => {
    apply();
    setPage(1);
  };

  const upload = useMutation({
    mutationFn: (file: File) => api.upload({ kind: uploadKindFor(file), file, folder: typeof folder === "number" ? folder : null }),
    onSuccess: async (created) => {
      void message.success(t("form.created", { title: created.title }));
      await refresh();
    },
    onError: (error) => {
      const field = error instanceof ApiError ? error.fieldErrors().file : undefined;
      void message.error(field ?? errorMessage(error));
    },
  });

  const remove = (material: Material) =>
    modal.confirm({
      title: t("remove.title", { title: material.title }),
      content: t("remove.body"),
      okText: t("common:action.delete"),
      okButtonProps: { danger: true },
      cancelText: t("common:action.cancel"),
      onOk: () =>
        api.remove(material.id).then(
          async () => {
            void message.success(t("remove.done", { title: material.title }));
            await refresh();
          },
          (error) => {
            const users = error instanceof ApiError ? (error.problem as unknown as { used_by?: MaterialUser[] }).used_by : undefined;
            if (error instanceof ApiError && error.status === 409 && users) {
              modal.error({
                title: t("remove.inUseTitle", { title: material.title }),
                content: (
                  <div data-testid="in-use">
                    <Typography.Paragraph>{t("remove.inUseBody")}</Typography.Paragraph>
                    <ul>
                      {usersList(users).map((line) => (
                        <li key={line}>{line}</li>
                      ))}
                    </ul>
                  </div>
                ),
              });
            } else {
              void message.error(errorMessage(error));
            }
          },
        ),
    });

  const columns: ColumnsType<Material> = [
    { key: "preview", title: t("table.preview"), width: 72, render: (_, m) => <MaterialThumb material={m} /> },
    {
      key: "title",
      title: t("table.title"),
      render: (_, m) => (
        <div style={{ minWidth: 0 }}>
          <Typography.Text strong>{m.title}</Typography.Text>
          <Typography.Paragraph type="secondary" ellipsis={{ rows: 1 }} style={{ margin: 0, fontSize: 12, maxWidth: 420 }}>
            {materialSummary(m)}
          </Typography.Paragraph>
        </div>
      ),
    },
    { key: "kind", title: t("table.kind"), width: 110, render: (_, m) => <KindTag kind={m.kind} /> },
    {
      key: "tags",
      title: t("table.tags"),
      render: (_, m) => (
        <Space size={[4, 4]} wrap>
          {m.tags.map((name) => (
            <Tag key={name}>{name}</Tag>
          ))}
        </Space>
      ),
    },
    {
      key: "usage",
      title: t("table.usage"),
      width: 150,
      render: (_, m) =>
        m.usage_count ? (
          <Tooltip title={m.usage.map((u) => `${u.label} × ${u.count}`).join("，")}>
            <Typography.Text tabIndex={0} data-testid="usage">
              {t("table.usedBy", { count: m.usage_count })}
            </Typography.Text>
          </Tooltip>
        ) : (
          <Typography.Text type="secondary" data-testid="usage">
            {t("table.unused")}
          </Typography.Text>
        ),
    },
    {
      key: "updated",
      title: t("table.updated"),
      width: 170,
      render: (_, m) => new Date(m.updated_at).toLocaleString(),
    },
    {
      key: "actions",
      title: t("table.actions"),
      width: 130,
      render: (_, m) => (
        <Space size={0}>
          <Button type="text" icon={<EditOutlined />} aria-label={t("table.editLabel", { title: m.title })} onClick={() => setEditing({ kind: m.kind, material: m })} />
          {m.file_url && (
            <Button type="text" icon={<DownloadOutlined />} aria-label={t("table.downloadLabel", { title: m.title })} href={`${m.file_url}?download=true`} />
          )}
          <Button type="text" danger icon={<DeleteOutlined />} aria-label={t("table.removeLabel", { title: m.title })} onClick={() => remove(m)} />
        </Space>
      ),
    },
  ];

  const rows = materials.data?.results ?? [];
  return (
    <div>
      <Typography.Title level={3}>{t("title")}</Typography.Title>
      <Typography.Paragraph type="secondary">{t("intro")}</Typography.Paragraph>
      <Row gutter={[16, 16]}>
        <Col xs={24} md={6} xl={5}>
          <FolderList folder={folder} onFolder={(next) => reset(() => setFolder(next))} />
        </Col>
        <Col xs={24} md={18} xl={19}>
          <Card>
            <Space wrap style={{ marginBottom: 16, width: "100%", justifyContent: "space-between" }}>
              <Space wrap>
                <Input.Search allowClear placeholder={t("toolbar.search")} aria-label={t("toolbar.search")} style={{ width: 260 }} onSearch={(value) => reset(() => setQ(value.trim()))} />
                <Select<MaterialKind | "">
                  aria-label={t("toolbar.kind")}
                  value={kind}
                  style={{ width: 140 }}
                  onChange={(value) => reset(() => setKind(value))}
                  options={[{ value: "", label: t("toolbar.allKinds") }, ...KINDS.map((k) => ({ value: k, label: t(`kind.${k}`) }))]}
                />
                <Select<string>
                  allowClear
                  aria-label={t("toolbar.tag")}
                  placeholder={t("toolbar.tag")}
                  value={tag}
                  style={{ width: 160 }}
                  onChange={(value) => reset(() => setTag(value))}
                  options={(tags.data ?? []).map((item) => ({ value: item.name, label: `${item.name} (${item.material_count})` }))}
                />
              </Space>
              <Space wrap>
                <Tooltip title={t("toolbar.uploadHint")}>
                  <Upload
                    showUploadList={false}
                    accept={[UPLOAD_LIMITS.image.accept, UPLOAD_LIMITS.video.accept, "*/*"].join(",")}
                    beforeUpload={(file) => {
                      const uploadKind = uploadKindFor(file);
                      const problem = uploadProblem(uploadKind, file);
                      if (problem) {
                        void message.error(
                          t(`form.problem.${problem}`, { kind: t(`kind.${uploadKind}`), max: formatSize(UPLOAD_LIMITS[uploadKind].max), types: UPLOAD_LIMITS[uploadKind].accept }),
                        );
                        return Upload.LIST_IGNORE;
                      }
                      upload.mutate(file);
                      return false;
                    }}
                  >
                    <Button icon={<UploadOutlined />} loading={upload.isPending} data-testid="upload">
                      {t("toolbar.upload")}
                    </Button>
                  </Upload>
                </Tooltip>
                <Dropdown
                  trigger={["click"]}
                  menu={{
                    items: (["text", "link", "miniprogram"] as const).map((k) => ({ key: k, label: t(`kind.${k}`) })),
                    onClick: ({ key }) => setEditing({ kind: key as MaterialKind }),
                  }}
                >
                  <Button type="primary" icon={<PlusOutlined />}>
                    {t("toolbar.new")}
                  </Button>
                </Dropdown>
              </Space>
            </Space>
            {materials.isPending ? (
              <Loading />
            ) : materials.isError ? (
              <ErrorState error={materials.error} onRetry={() => void materials.refetch()} />
            ) : rows.length === 0 && page === 1 ? (
              <EmptyState description={filtered ? t("table.noMatch") : t("table.empty")}>{!filtered && <Typography.Text type="secondary">{t("table.emptyHint")}</Typography.Text>}</EmptyState>
            ) : (
              <>
                <Table<Material> rowKey="id" columns={columns} dataSource={rows} pagination={false} loading={materials.isFetching} scroll={{ x: 900 }} />
                <Pager
                  page={page}
                  hasNext={Boolean(materials.data?.next)}
                  onPage={setPage}
                  pageSize={pageSize}
                  onPageSize={(size) => reset(() => setPageSize(PAGE_SIZES.includes(size) ? size : 20))}
                  loading={materials.isFetching}
                />
              </>
            )}
          </Card>
        </Col>
      </Row>
      {editing && (
        <MaterialForm
          kind={editing.kind}
          material={editing.material}
          defaultFolder={typeof folder === "number" ? folder : null}
          onClose={() => setEditing(null)}
        />
      )}
    </div>
  );
}
