// The channel stats' range picker (presets, at most a year), loaded lazily by RangeControl.
import "./strings";
import { DatePicker } from "antd";
import dayjs, { type Dayjs } from "dayjs";
import { useTranslation } from "react-i18next";
import { type DateRange, MAX_RANGE_DAYS, day, lastDays } from "./params";

export default function RangePicker({ value, onChange }: { value: DateRange; onChange: (range: DateRange) => void }) {
  const { t } = useTranslation("channels");
  const today = dayjs();
  const presets = [7, 30, 90].map((days) => {
    const range = lastDays(days, today);
    return { label: t("range.last", { count: days }), value: [dayjs(range.from), dayjs(range.to)] as [Dayjs, Dayjs] };
  });
  return (
    <DatePicker.RangePicker
      aria-label={t("range.label")}
      allowClear={false}
      presets={presets}
      value={[dayjs(value.from), dayjs(value.to)]}
      disabledDate={(date, info) => {
        if (date.isAfter(today, "day")) return true;
        // The API takes at most a year at a time.
        const from = info.from;
        return !!from && Math.abs(date.diff(from, "day")) >= MAX_RANGE_DAYS;
      }}
      onChange={(dates) => {
        if (dates?.[0] && dates[1]) onChange({ from: day(dates[0]), to: day(dates[1]) });
      }}
    />
  );
}
