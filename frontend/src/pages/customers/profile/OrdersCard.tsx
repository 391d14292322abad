// A customer's orders (pushed by integrators through POST /api/v1/events/), newest first.
import "./strings";

import { Card, Space, Table, Tag, Typography } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";

import { Pager } from "../../../components/Pager";
import { EmptyState, ErrorState, Loading } from "../../../components/states";
import { dateTime } from "../../../lib/format";
import { type Order, useOrders } from "../api";
import { money } from "../value";
import { NS } from "./strings";

const STATUS_COLOR: Record<string, string> = { paid: "green", partially_refunded: "orange", refunded: "default" };
/** Items named in a row; the rest are counted. */
const ITEMS_SHOWN = 3;

export default function OrdersCard({ contactId }: { contactId: number }) {
  const { t, i18n } = useTranslation(NS);
  const [page, setPage] = useState(1);
  const orders = useOrders(contactId, page);
  let body;
  if (orders.isPending) body = <Loading rows={3} />;
  else if (orders.isError) body = <ErrorState error={orders.error} onRetry={() => void orders.refetch()} />;
  else {
    body = (
      <>
        <Table<Order>
          size="small"
          rowKey="id"
          dataSource={orders.data.results}
          pagination={false}
          loading={orders.isFetching}
          scroll={{ x: true }}
          locale={{ emptyText: <EmptyState description={t("orders.empty")} /> }}
          data-testid="orders"
          columns={[
            {
              title: t("orders.order"),
              key: "order",
              render: (_, o) => (
                <Space orientation="vertical" size={0}>
                  <Typography.Text copyable={{ text: o.external_id }}>{o.external_id}</Typography.Text>
                  <Typography.Text type="secondary">{t("orders.source")}: {o.source}</Typography.Text>
                </Space>
              ),
            },
            { title: t("orders.paid"), key: "paid", render: (_, o) => dateTime(o.paid_at) },
            {
              title: t("orders.amount"),
              key: "amount",
              align: "right",
              render: (_, o) => money(o.amount, o.currency, i18n.language),
            },
            {
              title: t("orders.refunded"),
              key: "refunded",
              align: "right",
              render: (_, o) =>
                Number(o.refunded_amount) > 0 ? (
                  <Space orientation="vertical" size={0}>
                    <span>{money(o.refunded_amount, o.currency, i18n.language)}</span>
                    <Typography.Text type="secondary">{dateTime(o.refunded_at)}</Typography.Text>
                  </Space>
                ) : (
                  "—"
                ),
            },
            {
              title: t("orders.status"),
              key: "status",
              render: (_, o) => (
                <Tag color={STATUS_COLOR[o.status] ?? "default"}>{t(`orders.statuses.${o.status}`, { defaultValue: o.status })}</Tag>
              ),
            },
            {
              title: t("orders.items"),
              key: "items",
              render: (_, o) => {
                const names = o.items.map((item) => t("orders.item", { name: item.name || item.sku || "—", quantity: item.quantity }));
                if (!names.length) return "—";
                const more = names.length > ITEMS_SHOWN ? ` +${names.length - ITEMS_SHOWN}` : "";
                return names.slice(0, ITEMS_SHOWN).join(", ") + more;
              },
            },
          ]}
        />
        {(page > 1 || orders.data.next) && <Pager page={page} hasNext={!!orders.data.next} onPage={setPage} loading={orders.isFetching} />}
      </>
    );
  }
  return (
    <Card size="small" title={t("orders.title")} data-testid="orders-card">
      {body}
    </Card>
  );
}
