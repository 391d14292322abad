// Pick materials of the content library: a modal listing the materials of the allowed kinds (with
// search, a folder and a kind filter), where up to `max` can be ticked. The welcome editors and the
// campaign wizard attach what it returns as `{material_id}` references.
import "../pages/library/strings";

import { CheckCircleFilled } from "@ant-design/icons";
import { Button, Checkbox, Empty, Input, Modal, Select, Space, Spin, Typography } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";

import { type Material, type MaterialKind, useFolders, useMaterials } from "../pages/library/api";
import MaterialCard from "./MaterialCard";
import { Pager } from "./Pager";

const PAGE_SIZE = 20;

export interface MaterialPickerProps {
  open: boolean;
  onClose: () => void;
  /** The picked materials, in the order they were ticked. */
  onPick: (materials: Material[]) => void;
  /** The kinds that may be picked (e.g. an image for a cover; anything but texts for attachments). */
  kinds: MaterialKind[];
  /** At most this many (what the message still has room for). */
  max: number;
  /** Already attached: shown as picked, not picked again. */
  exclude?: number[];
  title?: string;
}

export default function MaterialPicker({ open, onClose, onPick, kinds, max, exclude = [], title }: MaterialPickerProps) {
  const { t } = useTranslation("library");
  const [page, setPage] = useState(1);
  const [search, setSearch] = useState("");
  const [kind, setKind] = useState<MaterialKind | "">("");
  const [folder, setFolder] = useState<number | "none" | undefined>(undefined);
  const [picked, setPicked] = useState<Material[]>([]);
  const folders = useFolders();
  const materials = useMaterials(
    { page, pageSize: PAGE_SIZE, kinds: kind ? [kind] : kinds, folder, q: search.trim() || undefined },
    open,
  );

  const close = () => {
    setPicked([]);
    onClose();
  };
  const toggle = (material: Material) => {
    setPicked((current) =>
      current.some((m) => m.id === material.id)
        ? current.filter((m) => m.id !== material.id)
        : max === 1
          ? [material]
          : current.length < max
            ? [...current, material]
            : current,
    );
  };
  const rows = materials.data?.results ?? [];

  return (
    <Modal
      open={open}
      onCancel={close}
      title={title ?? t("picker.title")}
      width={820}
      destroyOnHidden
      footer={
        <Space style={{ width: "100%", justifyContent: "space-between" }}>
          <Space>
            <Typography.Text type="secondary" data-testid="picker-count">
              {t("picker.selected", { count: picked.length, max })}
            </Typography.Text>
            <Link to="/library" target="_blank">
              {t("picker.manage")}
            </Link>
          </Space>
          <Space>
            <Button onClick={close}>{t("common:action.cancel")}</Button>
            <Button
              type="primary"
              disabled={picked.length === 0}
              onClick={() => {
                onPick(picked);
                close();
              }}
            >
              {t("picker.confirm")}
            </Button>
          </Space>
        </Space>
      }
    >
      <Space wrap style={{ marginBottom: 12 }}>
        <Input.Search
          allowClear
          placeholder={t("picker.search")}
          aria-label={t("picker.search")}
          onSearch={(value) => {
            setSearch(value);
            setPage(1);
          }}
          style={{ width: 240 }}
        />
        {kinds.length > 1 && (
          <Select<MaterialKind | "">
            aria-label={t("toolbar.kind")}
            value={kind}
            style={{ width: 140 }}
            onChange={(value) => {
              setKind(value);
              setPage(1);
            }}
            options={[{ value: "", label: t("toolbar.allKinds") }, ...kinds.map((k) => ({ value: k, label: t(`kind.${k}`) }))]}
          />
        )}
        <Select<number | "none" | "">
          aria-label={t("form.folder")}
          value={folder ?? ""}
          style={{ width: 160 }}
          onChange={(value) => {
            setFolder(value === "" ? undefined : value);
            setPage(1);
          }}
          options={[
            { value: "", label: t("folders.all") },
            { value: "none", label: t("folders.none") },
            ...(folders.data ?? []).map((f) => ({ value: f.id, label: f.name })),
          ]}
        />
      </Space>
      <Spin spinning={materials.isFetching}>
        {rows.length === 0 && !materials.isPending ? (
          <Empty description={t("picker.empty")} />
        ) : (
          <div role="list" style={{ display: "grid", gridTemplateColumns: "repeat(auto-fill, minmax(360px, 1fr))", gap: 8, minHeight: 120 }}>
            {rows.map((material) => {
              const attached = exclude.includes(material.id);
              const chosen = picked.some((m) => m.id === material.id);
              const full = !chosen && max > 1 && picked.length >= max;
              return (
                <div
                  key={material.id}
                  role="listitem"
                  aria-label={t("picker.pick", { title: material.title })}
                  data-testid="picker-item"
                  onClick={() => !attached && !full && toggle(material)}
                  style={{
                    border: `1px solid ${chosen ? "#1677ff" : "#f0f0f0"}`,
                    borderRadius: 6,
                    padding: 8,
                    cursor: attached || full ? "not-allowed" : "pointer",
                    opacity: attached ? 0.55 : 1,
                    background: chosen ? "#e6f4ff" : undefined,
                  }}
                >
                  <MaterialCard
                    material={material}
                    extra={
                      attached ? (
                        <CheckCircleFilled style={{ color: "#52c41a" }} />
                      ) : (
                        <Checkbox checked={chosen} disabled={full} aria-label={t("picker.pick", { title: material.title })} />
                      )
                    }
                  />
                </div>
              );
            })}
          </div>
        )}
      </Spin>
      <Pager page={page} hasNext={Boolean(materials.data?.next)} onPage={setPage} loading={materials.isFetching} />
    </Modal>
  );
}
