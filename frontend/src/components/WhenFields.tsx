// When to send or publish: now, or at a date and time in the tenant's time zone (shown), whatever the
// browser's zone is. Fields `when` ("now" | "at") and `scheduled_at` of the enclosing antd Form. It holds
// antd's date picker (large): load the component that uses it with React.lazy.
import { DatePicker, Form, Radio } from "antd";
import dayjs, { type Dayjs } from "dayjs";

import { isoToWall, zoneLabel } from "../lib/campaigns";

export type WhenLabels = {
  when: string;
  now: string;
  at: string;
  dateTime: string;
  zone: (zone: string) => string;
  required: string;
};

export default function WhenFields({ timeZone, labels }: { timeZone: string; labels: WhenLabels }) {
  const form = Form.useFormInstance();
  const when = Form.useWatch("when", form) ?? "now";
  // "Now" in the tenant's zone, as the picker's wall clock.
  const nowThere = dayjs(isoToWall(new Date().toISOString(), timeZone));
  return (
    <>
      <Form.Item name="when" label={labels.when}>
        <Radio.Group
          options={[
            { value: "now", label: labels.now },
            { value: "at", label: labels.at },
          ]}
        />
      </Form.Item>
      <div hidden={when !== "at"}>
        <Form.Item
          name="scheduled_at"
          label={labels.dateTime}
          extra={labels.zone(zoneLabel(timeZone, Date.now()))}
          rules={[
            {
              validator: (_, value: Dayjs | null) =>
                form.getFieldValue("when") !== "at" || value ? Promise.resolve() : Promise.reject(new Error(labels.required)),
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
