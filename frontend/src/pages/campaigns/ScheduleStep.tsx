// Step 4: when. Now (the WeCom tasks are made at once and each member confirms in WeCom), or at a date
// and time in the tenant's time zone, shown, whatever the browser's zone is.
import "./strings";

import { Alert, Card, DatePicker, Form, Radio, Space, Typography } from "antd";
import dayjs, { type Dayjs } from "dayjs";
import { useTranslation } from "react-i18next";

import { isoToWall, zoneLabel } from "../../lib/campaigns";

export default function ScheduleStep({ timeZone, summary }: { timeZone: string; summary: string | null }) {
  const { t } = useTranslation("campaigns");
  const form = Form.useFormInstance();
  const when = Form.useWatch("when", form) ?? "now";
  // "Now" in the tenant's zone, as the picker's wall clock.
  const nowThere = dayjs(isoToWall(new Date().toISOString(), timeZone));
  return (
    <Card title={t("schedule.title")}>
      <Form.Item name="when" label={t("schedule.when")}>
        <Radio.Group
          options={[
            { value: "now", label: t("schedule.now") },
            { value: "at", label: t("schedule.at") },
          ]}
        />
      </Form.Item>
      <div hidden={when !== "at"}>
        <Form.Item
          name="scheduled_at"
          label={t("schedule.dateTime")}
          extra={t("schedule.zone", { zone: zoneLabel(timeZone, Date.now()) })}
          rules={[
            {
              validator: (_, value: Dayjs | null) =>
                form.getFieldValue("when") !== "at" || value ? Promise.resolve() : Promise.reject(new Error(t("schedule.required"))),
            },
          ]}
        >
          <DatePicker
            showTime={{ format: "HH:mm", minuteStep: 5 }}
            format="YYYY-MM-DD HH:mm"
            disabledDate={(day) => day.isBefore(nowThere, "day")}
            style={{ width: 240 }}
          />
        </Form.Item>
      </div>
      <Space orientation="vertical" style={{ width: "100%" }}>
        {summary && <Alert type="info" showIcon title={summary} data-testid="schedule-summary" />}
        <Typography.Paragraph type="secondary" style={{ marginBottom: 0 }}>
          {t("schedule.confirmHint")}
        </Typography.Paragraph>
      </Space>
    </Card>
  );
}
