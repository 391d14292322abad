// Page-number paging without a total: the API fetches one row more than the page to know whether
// there is a next page (never a COUNT(*) over a million contacts), so the pager is previous/next.
import { LeftOutlined, RightOutlined } from "@ant-design/icons";
import { Button, Select, Space, Typography } from "antd";
import { useTranslation } from "react-i18next";

export const PAGE_SIZES = [20, 50, 100, 200];

export function Pager({
  page,
  hasNext,
  onPage,
  pageSize,
  onPageSize,
  loading,
}: {
  page: number;
  hasNext: boolean;
  onPage: (page: number) => void;
  pageSize?: number;
  onPageSize?: (size: number) => void;
  loading?: boolean;
}) {
  const { t } = useTranslation();
  return (
    <Space style={{ display: "flex", justifyContent: "flex-end", marginTop: 16 }} aria-label={t("pager.label")}>
      {pageSize !== undefined && onPageSize && (
        <Select
          size="small"
          value={pageSize}
          aria-label={t("pager.pageSize")}
          options={PAGE_SIZES.map((n) => ({ value: n, label: t("pager.perPage", { count: n }) }))}
          onChange={onPageSize}
        />
      )}
      <Button icon={<LeftOutlined />} disabled={page <= 1 || loading} onClick={() => onPage(page - 1)}>
        {t("pager.previous")}
      </Button>
      <Typography.Text>{t("pager.page", { page })}</Typography.Text>
      <Button disabled={!hasNext || loading} onClick={() => onPage(page + 1)}>
        {t("pager.next")} <RightOutlined />
      </Button>
    </Space>
  );
}
