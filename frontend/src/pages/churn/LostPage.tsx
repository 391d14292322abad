// Lost customers (流失): who deleted which staff member, when, from which channel, after how long.
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { Avatar, Card, DatePicker, Form, Select, Space, Table, Typography } from "antd";
import type { ColumnsType } from "antd/es/table";
import dayjs from "dayjs";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useSearchParams } from "react-router";

import { client, data, type Schemas } from "../../api/client";
import { useSession } from "../../auth";
import { Pager } from "../../components/Pager";
import { EmptyState, ErrorState, Loading } from "../../components/states";
import { customerLink } from "./links";
import { apiQuery, isFiltered, type LostView, paramsFromView, viewFromParams, withFilters } from "./lostParams";
import { dateTime as when } from "../../lib/format";

type Lost = Schemas["Lost"];


function StaffPicker({ value, onChange }: { value: string; onChange: (userid: string) => void }) {
  const { t } = useTranslation("churn");
  const [search, setSearch] = useState("");
  const staff = useQuery({
    queryKey: ["staff", "picker", search],
    queryFn: () => data(client.GET("/api/v1/staff/", { params: { query: { search: search || undefined, page_size: 50 } } })),
    placeholderData: keepPreviousData,
  });
  const options = (staff.data?.results ?? []).map((s) => ({ value: s.userid, label: s.name ? `${s.name} (${s.userid})` : s.userid }));
  // A staff member named in the URL but not on the fetched page still shows as its userid.
  if (value && !options.some((o) => o.value === value)) options.unshift({ value, label: value });
  return (
    <Select
      aria-label={t("filter.staff")}
      style={{ minWidth: 220 }}
      allowClear
      placeholder={t("filter.staffPlaceholder")}
      value={value || undefined}
      options={options}
      loading={staff.isFetching}
      showSearch={{ filterOption: false, onSearch: setSearch }}
      onChange={(userid?: string) => {
        setSearch("");
        onChange(userid ?? "");
      }}
    />
  );
}

export default function LostPage() {
  const { t } = useTranslation("churn");
  const { role } = useSession();
  const [params, setParams] = useSearchParams();
  const view = viewFromParams(params);
  const go = (next: LostView) => setParams(paramsFromView(next));

  const losses = useQuery({
    queryKey: ["contacts", "lost", apiQuery(view)],
    queryFn: () => data(client.GET("/api/v1/contacts/lost/", { params: { query: apiQuery(view) } })),
    placeholderData: keepPreviousData,
  });

  const columns: ColumnsType<Lost> = [
    {
      key: "customer",
      title: t("column.customer"),
      render: (_, row) => {
        const contact = row.contact;
        const name = contact.name || contact.external_userid;
        return (
          <Space>
            <Avatar size="small" src={contact.avatar || undefined}>
              {name.slice(0, 1)}
            </Avatar>
            <Link to={customerLink(contact.id)} aria-label={t("openCustomer", { name })}>
              {name}
            </Link>
          </Space>
        );
      },
    },
    {
      key: "staff",
      title: t("column.staff"),
      render: (_, row) => (row.staff.name ? `${row.staff.name} (${row.staff.userid})` : row.staff.userid),
    },
    { key: "lostAt", title: t("column.lostAt"), render: (_, row) => when(row.ended_at) },
    { key: "channel", title: t("column.channel"), render: (_, row) => row.state || t("noChannel") },
    { key: "addedAt", title: t("column.addedAt"), render: (_, row) => when(row.added_at) },
    {
      key: "days",
      title: t("column.daysStayed"),
      align: "right",
      render: (_, row) => (row.days_stayed === null ? "—" : t("days", { count: row.days_stayed })),
    },
  ];

  let body;
  if (losses.isPending) body = <Loading />;
  else if (losses.isError) body = <ErrorState error={losses.error} onRetry={() => void losses.refetch()} />;
  else if (losses.data.results.length === 0 && view.page === 1) {
    body = <EmptyState description={isFiltered(view) ? t("emptyFiltered") : t("empty")} />;
  } else {
    body = (
      <>
        <Table<Lost>
          rowKey="id"
          columns={columns}
          dataSource={losses.data.results}
          pagination={false}
          loading={losses.isFetching && losses.isPlaceholderData}
          scroll={{ x: "max-content" }}
        />
        <Pager
          page={view.page}
          hasNext={Boolean(losses.data.next)}
          onPage={(page) => go({ ...view, page })}
          pageSize={view.pageSize}
          onPageSize={(pageSize) => go({ ...view, pageSize, page: 1 })}
          loading={losses.isFetching}
        />
      </>
    );
  }

  return (
    <>
      <Typography.Title level={3}>{t("title")}</Typography.Title>
      <Typography.Paragraph type="secondary">{role === "sales" ? t("introSales") : t("intro")}</Typography.Paragraph>
      <Card>
        <Form layout="inline" style={{ marginBottom: 16, rowGap: 8 }}>
          <Form.Item label={t("filter.staff")}>
            <StaffPicker value={view.staff} onChange={(staff) => go(withFilters(view, { staff }))} />
          </Form.Item>
          <Form.Item label={t("filter.dates")}>
            <DatePicker.RangePicker
              aria-label={t("filter.dates")}
              placeholder={[t("filter.from"), t("filter.to")]}
              allowEmpty={[true, true]}
              value={[view.from ? dayjs(view.from) : null, view.to ? dayjs(view.to) : null]}
              onChange={(range) =>
                go(
                  withFilters(view, {
                    from: range?.[0]?.format("YYYY-MM-DD") ?? "",
                    to: range?.[1]?.format("YYYY-MM-DD") ?? "",
                  }),
                )
              }
            />
          </Form.Item>
        </Form>
        {body}
      </Card>
    </>
  );
}
