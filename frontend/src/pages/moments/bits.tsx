// Small pieces the Moments pages share: labels of the API's enums, the status tag, a member's name.
import "./strings";

import { Avatar, Space, Tag, Tooltip } from "antd";
import { useTranslation } from "react-i18next";

import { initial } from "../customers/controls";
import type { StaffRef, TaskStatus } from "./types";

const STATUS_COLOR: Record<TaskStatus, string> = {
  draft: "default",
  scheduled: "blue",
  submitting: "processing",
  publishing: "green",
  cancelled: "orange",
  failed: "red",
};

export function StatusTag({ status }: { status: TaskStatus }) {
  const { t } = useTranslation("moments");
  const hint = t(`statusHint.${status}`, { defaultValue: "" });
  const tag = (
    <Tag color={STATUS_COLOR[status] ?? "default"} data-testid="task-status" tabIndex={hint ? 0 : undefined}>
      {t(`status.${status}`, { defaultValue: status })}
    </Tag>
  );
  return hint ? <Tooltip title={hint}>{tag}</Tooltip> : tag;
}

/** A corp post (published by members) or a member's own. */
export function KindTag({ createType }: { createType: number }) {
  const { t } = useTranslation("moments");
  return createType === 1 ? <Tag color="purple">{t("kind.member")}</Tag> : <Tag color="geekblue">{t("kind.corp")}</Tag>;
}

export function Member({ staff }: { staff: Pick<StaffRef, "name" | "userid"> & { avatar?: string } | null | undefined }) {
  if (!staff) return <>—</>;
  const name = staff.name || staff.userid;
  return (
    <Space size={6}>
      <Avatar size="small" alt="" src={staff.avatar || undefined}>
        {initial(name)}
      </Avatar>
      <span>{name}</span>
    </Space>
  );
}

/** A post's text in a list: its first line, cut. */
export function snippet(text: string, max = 60): string {
  const line = text.trim().split("\n")[0] ?? "";
  const chars = Array.from(line);
  return chars.length > max ? `${chars.slice(0, max).join("")}…` : line;
}
