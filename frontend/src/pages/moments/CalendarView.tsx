// The Moments calendar: a month, Monday first, in the tenant's zone, with each day's posts — scheduled
// and being-created tasks, corp posts and members' own — each opening its page. Loaded when first
// shown (import it with React.lazy).
import "./strings";

import { LeftOutlined, RightOutlined } from "@ant-design/icons";
import { Badge, Button, Card, Popover, Space, Typography } from "antd";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";

import { ErrorState, Loading } from "../../components/states";
import { isoToWall } from "../../lib/campaigns";
import { groupByDay, monthRange, monthWeeks, shiftMonth } from "../../lib/moments";
import { useTenantZone } from "../campaigns/api";
import { useCalendar } from "./api";
import type { CalendarItem, CalendarKind } from "./types";

const KIND_COLOR: Record<CalendarKind, string> = { scheduled: "blue", submitting: "cyan", corp: "green", member: "purple" };
const SHOWN = 3;

function itemLink(item: CalendarItem): string {
  if (item.task_id) return `/moments/tasks/${item.task_id}`;
  return `/moments/${item.moment_id}`;
}

function Item({ item, zone }: { item: CalendarItem; zone: string }) {
  const { t } = useTranslation("moments");
  const time = item.at ? isoToWall(item.at, zone).slice(11) : "";
  const figures = item.members ? ` · ${item.published}/${item.members}` : "";
  return (
    <Link to={itemLink(item)} style={{ display: "block", fontSize: 12, lineHeight: "18px", overflow: "hidden", whiteSpace: "nowrap", textOverflow: "ellipsis" }} data-testid="calendar-item">
      <Badge color={KIND_COLOR[item.kind]} title={t(`calendar.kind.${item.kind}`)} /> {time} {item.text || t("list.noText")}
      <Typography.Text type="secondary" style={{ fontSize: 11 }}>
        {figures}
      </Typography.Text>
    </Link>
  );
}

export default function CalendarView({ month, onMonth }: { month: string; onMonth: (month: string) => void }) {
  const { t } = useTranslation("moments");
  const zone = useTenantZone();
  const today = isoToWall(new Date().toISOString(), zone).slice(0, 10);
  const shown = month || today.slice(0, 7);
  const weeks = monthWeeks(shown);
  const range = monthRange(shown);
  const calendar = useCalendar(range.from, range.to);
  const days = groupByDay(calendar.data?.items ?? []);

  return (
    <Card
      size="small"
      title={
        <Space>
          <Button size="small" icon={<LeftOutlined />} aria-label={t("calendar.previous")} onClick={() => onMonth(shiftMonth(shown, -1))} />
          <Typography.Text strong data-testid="calendar-month">
            {shown}
          </Typography.Text>
          <Button size="small" icon={<RightOutlined />} aria-label={t("calendar.next")} onClick={() => onMonth(shiftMonth(shown, 1))} />
          {month && month !== today.slice(0, 7) && (
            <Button size="small" type="link" onClick={() => onMonth("")}>
              {t("calendar.today")}
            </Button>
          )}
        </Space>
      }
      extra={
        <Space wrap size="small">
          {(Object.keys(KIND_COLOR) as CalendarKind[]).map((kind) => (
            <Badge key={kind} color={KIND_COLOR[kind]} text={t(`calendar.kind.${kind}`)} />
          ))}
        </Space>
      }
    >
      {calendar.isPending ? (
        <Loading rows={8} />
      ) : calendar.isError ? (
        <ErrorState error={calendar.error} onRetry={() => void calendar.refetch()} />
      ) : (
        <div role="grid" aria-label={t("calendar.label", { month: shown })} style={{ display: "grid", gridTemplateColumns: "repeat(7, minmax(0, 1fr))", gap: 4 }}>
          {[1, 2, 3, 4, 5, 6, 7].map((d) => (
            <div key={d} role="columnheader" style={{ textAlign: "center", fontSize: 12, color: "#888" }}>
              {t(`calendar.weekday.${d}`)}
            </div>
          ))}
          {weeks.flat().map((day) => {
            const items = days.get(day) ?? [];
            const outside = !day.startsWith(shown);
            return (
              <div
                key={day}
                role="gridcell"
                aria-label={day}
                data-testid={`calendar-day-${day}`}
                style={{
                  minHeight: 96,
                  border: `1px solid ${day === today ? "#1677ff" : "#f0f0f0"}`,
                  borderRadius: 4,
                  padding: 4,
                  background: outside ? "#fafafa" : "#fff",
                  opacity: outside ? 0.6 : 1,
                  minWidth: 0,
                }}
              >
                <div style={{ fontSize: 12, fontWeight: day === today ? 600 : 400 }}>{Number(day.slice(8))}</div>
                {items.slice(0, SHOWN).map((item, i) => (
                  <Item key={`${item.kind}-${item.task_id ?? ""}-${item.moment_id ?? ""}-${i}`} item={item} zone={zone} />
                ))}
                {items.length > SHOWN && (
                  <Popover
                    title={day}
                    content={
                      <div style={{ maxWidth: 320, maxHeight: 320, overflowY: "auto" }}>
                        {items.map((item, i) => (
                          <Item key={`${item.kind}-${item.task_id ?? ""}-${item.moment_id ?? ""}-${i}`} item={item} zone={zone} />
                        ))}
                      </div>
                    }
                  >
                    <Button type="link" size="small" style={{ padding: 0, fontSize: 12 }}>
                      {t("calendar.more", { count: items.length - SHOWN })}
                    </Button>
                  </Popover>
                )}
              </div>
            );
          })}
        </div>
      )}
    </Card>
  );
}
