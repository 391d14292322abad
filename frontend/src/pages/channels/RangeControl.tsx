// The stats' date range: kept in the URL (`from`, `to`), chosen with presets or two dates.
import "./strings";

import dayjs from "dayjs";
import { Suspense, lazy, useMemo } from "react";
import { useSearchParams } from "react-router";

import { type DateRange, day, readRange, writeRange } from "./params";

export function useUrlRange(): [DateRange, (range: DateRange) => void] {
  const [params, setParams] = useSearchParams();
  const today = day(dayjs());
  const search = params.toString();
  const range = useMemo(() => readRange(new URLSearchParams(search), dayjs(today)), [search, today]);
  const set = (next: DateRange) => {
    const written = writeRange(params, next, dayjs(today));
    // Another range of the same list starts on its first page.
    written.delete("page");
    setParams(written);
  };
  return [range, set];
}

// antd's date picker (~31 KB gzipped) as its own chunk: the channel pages' first screen stays within
// the 500 KB budget (tests/test_dashboard_build.py).
const RangePicker = lazy(() => import("./RangePicker"));

export function RangeControl(props: { value: DateRange; onChange: (range: DateRange) => void }) {
  return (
    <Suspense fallback={<span style={{ display: "inline-block", width: 260 }} />}>
      <RangePicker {...props} />
    </Suspense>
  );
}
