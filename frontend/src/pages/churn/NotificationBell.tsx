// The header's bell: unread count (polled every 30 s) and the latest notifications (churn alerts),
// each linking to its customer, with "mark as read" and "mark all as read".
import { BellOutlined, CheckOutlined } from "@ant-design/icons";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { App, Badge, Button, Popover, Space, Typography } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";

import { client, data, type Schemas } from "../../api/client";
import { EmptyState, ErrorState, Loading, errorMessage } from "../../components/states";
import { customerLink } from "./links";
import { dateTime } from "../../lib/format";

type Notification = Schemas["Notification"];

const NOTIFICATIONS_KEY = ["notifications"];
const UNREAD_KEY = ["notifications", "unread-count"];
const RECENT_KEY = ["notifications", "recent"];
export const UNREAD_POLL_MS = 30_000;
const RECENT = 10;

/** What a churn alert's `data` carries (the schema types it as a free-form object). */
interface ChurnData {
  contact_name?: string;
  staff_name?: string;
  staff_userid?: string;
  days_followed?: number | null;
}

/** Title and body in the reader's language when the kind is known, else as the server wrote them. */
function useText(notification: Notification): { title: string; body: string } {
  const { t } = useTranslation("churn");
  if (notification.kind === "churn" && notification.data && typeof notification.data === "object") {
    const d = notification.data as ChurnData;
    const customer = d.contact_name || "";
    const staff = d.staff_name || d.staff_userid || "";
    if (customer && staff) {
      return {
        title: t("bell.churnTitle", { customer, staff }),
        body: d.days_followed != null ? t("bell.churnBody", { days: d.days_followed }) : "",
      };
    }
  }
  return { title: notification.title, body: notification.body };
}

function Item({
  notification,
  onOpen,
  onRead,
  reading,
}: {
  notification: Notification;
  onOpen: () => void;
  onRead: () => void;
  reading: boolean;
}) {
  const { t } = useTranslation("churn");
  const { title, body } = useText(notification);
  const unread = notification.read_at === null;
  const heading = <Typography.Text strong={unread}>{title}</Typography.Text>;
  return (
    <li
      data-testid="notification"
      data-unread={unread}
      style={{ display: "flex", gap: 8, padding: "10px 0", borderBottom: "1px solid #f0f0f0", alignItems: "flex-start" }}
    >
      <Badge status={unread ? "processing" : "default"} aria-label={unread ? t("bell.unread") : undefined} style={{ marginTop: 2 }} />
      <div style={{ flex: 1, minWidth: 0 }}>
        {notification.contact ? (
          <Link to={customerLink(notification.contact)} onClick={onOpen}>
            {heading}
          </Link>
        ) : (
          heading
        )}
        {body && (
          <div>
            <Typography.Text type="secondary">{body}</Typography.Text>
          </div>
        )}
        <Typography.Text type="secondary" style={{ fontSize: 12 }}>
          {dateTime(notification.created_at)}
        </Typography.Text>
      </div>
      {unread && (
        <Button
          size="small"
          type="text"
          icon={<CheckOutlined />}
          loading={reading}
          onClick={onRead}
          aria-label={`${t("bell.read")}: ${title}`}
          title={t("bell.read")}
        />
      )}
    </li>
  );
}

export default function NotificationBell() {
  const { t } = useTranslation("churn");
  const { message } = App.useApp();
  const queryClient = useQueryClient();
  const [open, setOpen] = useState(false);

  const unread = useQuery({
    queryKey: UNREAD_KEY,
    queryFn: () => data(client.GET("/api/v1/notifications/unread-count/")),
    refetchInterval: UNREAD_POLL_MS,
  });
  const recent = useQuery({
    queryKey: RECENT_KEY,
    queryFn: () => data(client.GET("/api/v1/notifications/", { params: { query: { page_size: RECENT } } })),
    enabled: open,
    refetchInterval: open ? UNREAD_POLL_MS : false,
  });

  const changed = () => void queryClient.invalidateQueries({ queryKey: NOTIFICATIONS_KEY });
  const readOne = useMutation({
    mutationFn: (id: number) => data(client.POST("/api/v1/notifications/{id}/read/", { params: { path: { id } } })),
    onSuccess: changed,
    onError: (error) => void message.error(errorMessage(error)),
  });
  const readAll = useMutation({
    mutationFn: () => data(client.POST("/api/v1/notifications/read-all/")),
    onSuccess: changed,
    onError: (error) => void message.error(errorMessage(error)),
  });

  const count = unread.data?.count ?? 0;
  const label = count ? t("bell.labelUnread", { count }) : t("bell.label");

  let list;
  if (recent.isPending) list = <Loading rows={2} />;
  else if (recent.isError) list = <ErrorState error={recent.error} onRetry={() => void recent.refetch()} />;
  else if (recent.data.results.length === 0) list = <EmptyState description={t("bell.empty")} />;
  else {
    list = (
      <ul aria-label={t("bell.title")} style={{ listStyle: "none", margin: 0, padding: 0, maxHeight: 420, overflowY: "auto" }}>
        {recent.data.results.map((n) => (
          <Item
            key={n.id}
            notification={n}
            reading={readOne.isPending && readOne.variables === n.id}
            onRead={() => readOne.mutate(n.id)}
            onOpen={() => {
              if (n.read_at === null) readOne.mutate(n.id);
              setOpen(false);
            }}
          />
        ))}
      </ul>
    );
  }

  const content = (
    <div style={{ width: 360 }}>
      {list}
      <div style={{ paddingTop: 8 }}>
        <Link to="/customers/lost" onClick={() => setOpen(false)}>
          {t("bell.viewLost")}
        </Link>
      </div>
    </div>
  );
  const title = (
    <Space style={{ display: "flex", justifyContent: "space-between" }}>
      <span>{t("bell.title")}</span>
      <Button size="small" type="link" disabled={count === 0} loading={readAll.isPending} onClick={() => readAll.mutate()}>
        {t("bell.readAll")}
      </Button>
    </Space>
  );

  return (
    <Popover trigger="click" placement="bottomRight" open={open} onOpenChange={setOpen} title={title} content={content}>
      <Button type="text" aria-label={label} title={label}>
        <Badge count={count} size="small" overflowCount={99}>
          <BellOutlined style={{ fontSize: 18 }} />
        </Badge>
      </Button>
    </Popover>
  );
}
