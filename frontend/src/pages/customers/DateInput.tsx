// One day (YYYY-MM-DD, "" for none), loaded as its own chunk (import it with React.lazy): antd's
// date picker is ~31 KB gzipped, more than a page's first screen can spare.
import { DatePicker } from "antd";
import dayjs from "dayjs";

export default function DateInput({
  id,
  value,
  onChange,
  ariaLabel,
  disabled,
  placeholder,
}: {
  id?: string;
  value?: string | null;
  onChange?: (value: string) => void;
  ariaLabel?: string;
  disabled?: boolean;
  placeholder?: string;
}) {
  const day = value ? dayjs(value, "YYYY-MM-DD", true) : null;
  return (
    <DatePicker
      id={id}
      aria-label={ariaLabel}
      disabled={disabled}
      placeholder={placeholder}
      style={{ width: "100%" }}
      value={day && day.isValid() ? day : null}
      onChange={(next) => onChange?.(next ? next.format("YYYY-MM-DD") : "")}
    />
  );
}
