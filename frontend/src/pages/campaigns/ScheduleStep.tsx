// Step 4: when. Now (the WeCom tasks are made at once and each member confirms in WeCom), or at a date
// and time in the tenant's time zone, shown, whatever the browser's zone is.
import "./strings";

import { Alert, Card, Space, Typography } from "antd";
import { useTranslation } from "react-i18next";

import WhenFields from "../../components/WhenFields";

export default function ScheduleStep({ timeZone, summary }: { timeZone: string; summary: string | null }) {
  const { t } = useTranslation("campaigns");
  return (
    <Card title={t("schedule.title")}>
      <WhenFields
        timeZone={timeZone}
        labels={{
          when: t("schedule.when"),
          now: t("schedule.now"),
          at: t("schedule.at"),
          dateTime: t("schedule.dateTime"),
          zone: (zone) => t("schedule.zone", { zone }),
          required: t("schedule.required"),
        }}
      />
      <Space orientation="vertical" style={{ width: "100%" }}>
        {summary && <Alert type="info" showIcon title={summary} data-testid="schedule-summary" />}
        <Typography.Paragraph type="secondary" style={{ marginBottom: 0 }}>
          {t("schedule.confirmHint")}
        </Typography.Paragraph>
      </Space>
    </Card>
  );
}
