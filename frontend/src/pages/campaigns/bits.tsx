// Small pieces the campaign pages share: labels of the API's enums, the status tags, a member's name.
import "./strings";

import { Avatar, Space, Tag, Tooltip } from "antd";
import { useTranslation } from "react-i18next";

import { initial } from "../customers/controls";
import type { CampaignStatus, RecipientStatus, StaffRef } from "./types";

const STATUS_COLOR: Record<CampaignStatus, string> = {
  draft: "default",
  scheduled: "blue",
  dispatching: "processing",
  sent: "green",
  closed: "default",
  cancelled: "orange",
  failed: "red",
};

const RECIPIENT_COLOR: Record<RecipientStatus, string> = {
  planned: "processing",
  sent: "green",
  not_friend: "orange",
  over_limit: "gold",
  failed: "red",
  cancelled: "default",
  skipped_limit: "default",
  skipped_cap: "default",
  skipped_dnd: "default",
  skipped_no_sender: "default",
};

export function useCampaignLabels() {
  const { t } = useTranslation("campaigns");
  return {
    status: (status: string) => t(`status.${status}`, { defaultValue: status }),
    statusHint: (status: string) => t(`statusHint.${status}`, { defaultValue: "" }),
    chatType: (type: string) => t(`chatType.${type}`, { defaultValue: type }),
    recipientStatus: (status: string) => t(`recipientStatus.${status}`, { defaultValue: status }),
    taskStatus: (status: string) => t(`taskStatus.${status}`, { defaultValue: status }),
  };
}

export function StatusTag({ status }: { status: CampaignStatus }) {
  const labels = useCampaignLabels();
  const hint = labels.statusHint(status);
  const tag = (
    <Tag color={STATUS_COLOR[status] ?? "default"} data-testid="campaign-status" tabIndex={hint ? 0 : undefined}>
      {labels.status(status)}
    </Tag>
  );
  return hint ? <Tooltip title={hint}>{tag}</Tooltip> : tag;
}

export function RecipientStatusTag({ status }: { status: RecipientStatus }) {
  const labels = useCampaignLabels();
  return <Tag color={RECIPIENT_COLOR[status] ?? "default"}>{labels.recipientStatus(status)}</Tag>;
}

export function Member({ staff }: { staff: StaffRef | null | undefined }) {
  if (!staff) return <>—</>;
  const name = staff.name || staff.userid;
  return (
    <Space size={6}>
      <Avatar size="small" alt="">
        {initial(name)}
      </Avatar>
      <span>{name}</span>
    </Space>
  );
}
