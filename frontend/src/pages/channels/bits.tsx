// Small pieces the channel pages share: signed net numbers and greeting statuses.
import "./strings";

import { Tag, Tooltip } from "antd";
import { useTranslation } from "react-i18next";

import type { Greeting } from "./api";

export const GREEN = "#389e0d";
export const RED = "#cf1322";

export function Net({ value }: { value: number }) {
  return <span style={{ color: value > 0 ? GREEN : value < 0 ? RED : undefined }}>{value > 0 ? `+${value}` : value}</span>;
}

const STATUS_COLOR: Record<Greeting["status"], string> = {
  pending: "processing",
  sent: "success",
  expired: "warning",
  used: "orange",
  failed: "error",
  skipped: "default",
};

/** A greeting's outcome, coloured, with what it means on hover. */
export function GreetingStatus({ greeting }: { greeting: Pick<Greeting, "status" | "errcode" | "error"> }) {
  const { t } = useTranslation("channels");
  return (
    <Tooltip title={t(`status.hint.${greeting.status}`)}>
      <Tag color={STATUS_COLOR[greeting.status]} tabIndex={0} data-testid="greeting-status">
        {t(`status.${greeting.status}`)}
      </Tag>
    </Tooltip>
  );
}
