// A group's joins, leaves and members per day, ready for the chart: every day of the range once, in
// order, with the days the API has no row for filled in (nobody joined or left; the member count
// carries over from the day before).
import dayjs from "dayjs";

export interface DayFigures {
  day: string;
  joins: number;
  leaves: number;
  members: number;
}

/** Each day from `from` to `to` (YYYY-MM-DD, both included). */
export function daysBetween(from: string, to: string): string[] {
  const out: string[] = [];
  const end = dayjs(to);
  for (let day = dayjs(from); !day.isAfter(end, "day") && out.length < 1000; day = day.add(1, "day")) {
    out.push(day.format("YYYY-MM-DD"));
  }
  return out;
}

export function fillDays(from: string, to: string, days: DayFigures[]): DayFigures[] {
  const byDay = new Map(days.map((d) => [d.day, d]));
  const sorted = [...days].sort((a, b) => a.day.localeCompare(b.day));
  // The count before the range starts: the first known day's, minus what happened on it.
  let members = sorted.length ? sorted[0].members - sorted[0].joins + sorted[0].leaves : 0;
  return daysBetween(from, to).map((day) => {
    const known = byDay.get(day);
    if (known) {
      members = known.members;
      return { ...known };
    }
    return { day, joins: 0, leaves: 0, members: Math.max(0, members) };
  });
}

export interface Totals {
  joins: number;
  leaves: number;
  net: number;
}

export function totals(days: DayFigures[]): Totals {
  const joins = days.reduce((sum, d) => sum + d.joins, 0);
  const leaves = days.reduce((sum, d) => sum + d.leaves, 0);
  return { joins, leaves, net: joins - leaves };
}
