// A "between two days" filter, loaded as its own chunk (import it with React.lazy): antd's date
// picker is ~31 KB gzipped, and a list page's first screen must stay within the 500 KB budget
// (tests/test_dashboard_build.py). Days travel as YYYY-MM-DD strings, "" for an open end.
import { DatePicker } from "antd";
import dayjs from "dayjs";

export default function DateRange({
  id,
  from,
  to,
  onChange,
}: {
  id: string;
  from: string;
  to: string;
  onChange: (from: string, to: string) => void;
}) {
  return (
    <DatePicker.RangePicker
      id={{ start: id, end: `${id}-end` }}
      allowEmpty={[true, true]}
      value={[from ? dayjs(from) : null, to ? dayjs(to) : null]}
      onChange={(range) =>
        onChange(range?.[0] ? range[0].format("YYYY-MM-DD") : "", range?.[1] ? range[1].format("YYYY-MM-DD") : "")
      }
    />
  );
}
