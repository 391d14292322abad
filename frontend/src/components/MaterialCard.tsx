// A material of the content library at a glance: its picture (or its kind's icon), title and kind.
// The library's table, the picker and the attachment lists of the welcome editors show it the same way.
import "../pages/library/strings";

import {
  AppstoreOutlined,
  FileOutlined,
  FileTextOutlined,
  LinkOutlined,
  PictureOutlined,
  VideoCameraOutlined,
} from "@ant-design/icons";
import { Space, Tag, Typography } from "antd";
import type { ReactNode } from "react";
import { useState } from "react";
import { useTranslation } from "react-i18next";

import type { Material, MaterialKind } from "../pages/library/api";
import { formatSize } from "../pages/library/materials";

export const KIND_ICON: Record<MaterialKind, ReactNode> = {
  text: <FileTextOutlined />,
  image: <PictureOutlined />,
  link: <LinkOutlined />,
  miniprogram: <AppstoreOutlined />,
  video: <VideoCameraOutlined />,
  file: <FileOutlined />,
};

const KIND_COLOR: Record<MaterialKind, string> = {
  text: "default",
  image: "green",
  link: "blue",
  miniprogram: "purple",
  video: "orange",
  file: "cyan",
};

export function KindTag({ kind }: { kind: MaterialKind }) {
  const { t } = useTranslation("library");
  return (
    <Tag color={KIND_COLOR[kind]} icon={KIND_ICON[kind]}>
      {t(`kind.${kind}`)}
    </Tag>
  );
}

/** The material's picture, or its kind's icon in a grey box (a link's picture may be off-site). */
export function MaterialThumb({ material, size = 48 }: { material: Pick<Material, "kind" | "preview_url" | "title">; size?: number }) {
  const [broken, setBroken] = useState<string | null>(null);
  const src = material.preview_url;
  if (src && broken !== src) {
    return (
      <img
        src={src}
        alt={material.title}
        onError={() => setBroken(src)}
        style={{ width: size, height: size, objectFit: "cover", borderRadius: 4, border: "1px solid #f0f0f0", flex: "none" }}
      />
    );
  }
  return (
    <div
      role="img"
      aria-label={material.title}
      style={{ width: size, height: size, borderRadius: 4, background: "#f5f5f5", color: "#8c8c8c", display: "grid", placeItems: "center", fontSize: size / 2.4, flex: "none" }}
    >
      {KIND_ICON[material.kind]}
    </div>
  );
}

/** One line about what the material holds: a link's host, a mini program's page, a file's size. */
export function materialSummary(material: Material): string {
  switch (material.kind) {
    case "text":
      return material.text;
    case "link":
      return material.description || material.url;
    case "miniprogram":
      return `${material.appid} · ${material.page}`;
    default:
      return material.filename ? `${material.filename} · ${formatSize(material.size)}` : "";
  }
}

export default function MaterialCard({ material, extra }: { material: Material; extra?: ReactNode }) {
  return (
    <div style={{ display: "flex", gap: 12, alignItems: "center", minWidth: 0 }} data-testid="material-card">
      <MaterialThumb material={material} />
      <div style={{ minWidth: 0, flex: 1 }}>
        <Space size={4} wrap>
          <Typography.Text strong ellipsis style={{ maxWidth: 280 }}>
            {material.title}
          </Typography.Text>
          <KindTag kind={material.kind} />
        </Space>
        <Typography.Paragraph type="secondary" ellipsis={{ rows: 1 }} style={{ margin: 0, fontSize: 12 }}>
          {materialSummary(material)}
        </Typography.Paragraph>
      </div>
      {extra}
    </div>
  );
}
