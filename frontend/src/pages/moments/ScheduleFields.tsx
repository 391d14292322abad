// When to publish: now (WeCom makes the post at once and each member publishes it from the WeCom
// app), or at a date and time in the tenant's zone, whatever the browser's zone is. Loaded after the
// compose page's first screen (antd's date picker is large; import it with React.lazy).
import "./strings";

import { DatePicker, Form, Radio } from "antd";
import dayjs, { type Dayjs } from "dayjs";
import { useTranslation } from "react-i18next";

import { isoToWall, zoneLabel } from "../../lib/campaigns";

export default function ScheduleFields({ timeZone }: { timeZone: string }) {
  const { t } = useTranslation("moments");
  const form = Form.useFormInstance();
  const when = Form.useWatch("when", form) ?? "now";
  // "Now" in the tenant's zone, as the picker's wall clock.
  const nowThere = dayjs(isoToWall(new Date().toISOString(), timeZone));
  return (
    <>
      <Form.Item name="when" label={t("compose.when")}>
        <Radio.Group
          options={[
            { value: "now", label: t("compose.now") },
            { value: "at", label: t("compose.at") },
          ]}
        />
      </Form.Item>
      <div hidden={when !== "at"}>
        <Form.Item
          name="scheduled_at"
          label={t("compose.dateTime")}
          extra={t("compose.zone", { zone: zoneLabel(timeZone, Date.now()) })}
          rules={[
            {
              validator: (_, value: Dayjs | null) =>
                form.getFieldValue("when") !== "at" || value ? Promise.resolve() : Promise.reject(new Error(t("compose.dateRequired"))),
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
    </>
  );
}
