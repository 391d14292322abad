// A customer's timeline (ContactEvents, newest first, paged): what happened, in a sentence each.
// Shown in the customer drawer and on the customer page.
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { Timeline, Typography } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";

import { client, data, type Schemas } from "../../api/client";
import { Pager } from "../../components/Pager";
import { EmptyState, QueryState } from "../../components/states";
import { actorName } from "../../lib/actor";
import { dateTime } from "../../lib/format";
import { latency } from "../channels/params";
import { keys } from "./api";
import { useLabels } from "./controls";
import { money } from "./value";

const TIMELINE_PAGE = 20;
/** The profile changes named in one line; more are counted. */
const CHANGES_SHOWN = 3;

type Event = Schemas["Event"];

interface TagRef {
  id?: number;
  name?: string;
}

/** What happened, in a sentence: who, which tags, which stage, the note's beginning. */
function EventText({ event }: { event: Event }) {
  const { t, i18n } = useTranslation("customers");
  const labels = useLabels();
  const payload = (event.payload ?? {}) as Record<string, unknown>;
  const staff = event.staff as { userid?: string; name?: string } | null;
  const who = staff ? staff.name || staff.userid : "";
  const parts: string[] = [];
  switch (event.type) {
    case "added":
      if (who) parts.push(t("timeline.with", { who }));
      if (event.channel) parts.push(t("timeline.channel", { channel: event.channel }));
      if (typeof payload.add_way === "number") parts.push(labels.addWay(payload.add_way));
      break;
    case "tagged":
    case "untagged": {
      const tags = Array.isArray(payload.tags) ? (payload.tags as TagRef[]).map((tag) => tag.name).filter(Boolean) : [];
      parts.push(tags.join(", "));
      if (who) parts.push(t("timeline.with", { who }));
      break;
    }
    case "stage_changed":
      parts.push(`${(payload.from_name as string) || "—"} → ${(payload.to_name as string) || "—"}`);
      break;
    case "note":
      if (typeof payload.excerpt === "string") parts.push(`“${payload.excerpt}”`);
      break;
    case "remark_changed":
      if (payload.changes && typeof payload.changes === "object") parts.push(Object.keys(payload.changes).join(", "));
      if (who) parts.push(t("timeline.with", { who }));
      break;
    case "transferred":
      if (payload.from || payload.to) parts.push(`${String(payload.from ?? "")} → ${String(payload.to ?? "")}`);
      break;
    case "transfer_failed":
      if (payload.reason) parts.push(String(payload.reason));
      break;
    case "group_joined":
    case "group_left":
      // payload: group_id, chat_id, group_name; the channel is the group code's state, if any.
      if (payload.group_name || payload.chat_id) parts.push(String(payload.group_name || payload.chat_id));
      if (event.channel) parts.push(t("timeline.channel", { channel: event.channel }));
      break;
    case "welcomed":
    case "welcome_failed": {
      // A greeting's outcome (payload: status, latency_ms, contact_way?, errcode?, error?).
      const way = payload.contact_way as { id?: number; name?: string } | undefined;
      if (event.type === "welcome_failed" && typeof payload.status === "string") {
        parts.push(t(`timeline.welcomeStatus.${payload.status}`, { defaultValue: payload.status }));
      }
      if (typeof payload.errcode === "number") {
        parts.push(t("timeline.errcode", { errcode: payload.errcode, error: (payload.error as string) || "" }).trim());
      }
      if (way?.name) parts.push(t("timeline.channel", { channel: way.name }));
      if (who) parts.push(t("timeline.with", { who }));
      if (typeof payload.latency_ms === "number") parts.push(t("timeline.latency", { latency: latency(payload.latency_ms) }));
      break;
    }
    case "purchased":
    case "refunded": {
      // payload: order_id, source, external_id, amount (a refund: the amount refunded now), currency,
      // refunded_total (a refund).
      const currency = typeof payload.currency === "string" ? payload.currency : "";
      if (payload.amount !== undefined) parts.push(money(payload.amount as string, currency, i18n.language));
      if (payload.external_id) parts.push(t("timeline.order", { id: String(payload.external_id) }));
      if (event.type === "refunded" && payload.refunded_total !== undefined) {
        parts.push(t("timeline.refundedTotal", { amount: money(payload.refunded_total as string, currency, i18n.language) }));
      }
      if (payload.source) parts.push(t("timeline.source", { source: String(payload.source) }));
      break;
    }
    case "custom":
      if (payload.name) parts.push(String(payload.name));
      if (payload.source) parts.push(t("timeline.source", { source: String(payload.source) }));
      break;
    case "profile_changed": {
      // payload: changed {key: [old, new]}
      const changed = payload.changed && typeof payload.changed === "object" ? (payload.changed as Record<string, unknown>) : {};
      const show = (v: unknown) => (v === null || v === undefined || v === "" ? "—" : Array.isArray(v) ? v.join(", ") : String(v));
      const lines = Object.entries(changed).map(([key, pair]) =>
        Array.isArray(pair) && pair.length === 2 ? `${key}: ${show(pair[0])} → ${show(pair[1])}` : key,
      );
      if (lines.length) {
        const more = lines.length > CHANGES_SHOWN ? ` +${lines.length - CHANGES_SHOWN}` : "";
        parts.push(t("timeline.changed", { fields: lines.slice(0, CHANGES_SHOWN).join("; ") + more }));
      }
      break;
    }
    case "tier_changed": {
      const tier = (v: unknown) => (typeof v === "string" && v ? t(`tier.${v}`, { defaultValue: v }) : "—");
      parts.push(`${tier(payload.from)} → ${tier(payload.to)}`);
      break;
    }
    default:
      if (who) parts.push(t("timeline.with", { who }));
  }
  if (event.actor) parts.push(t("timeline.by", { actor: actorName(event.actor, t) }));
  return <span>{parts.filter(Boolean).join(" · ")}</span>;
}

const EVENT_COLOR: Record<string, string> = {
  added: "green",
  lost: "red",
  deleted_by_staff: "red",
  tagged: "blue",
  untagged: "gray",
  stage_changed: "blue",
  note: "gray",
  welcomed: "green",
  welcome_failed: "red",
  group_joined: "green",
  group_left: "gray",
  moment_liked: "magenta",
  moment_commented: "magenta",
  purchased: "gold",
  refunded: "orange",
  custom: "cyan",
  profile_changed: "blue",
  tier_changed: "purple",
};

export default function ContactTimeline({ contactId }: { contactId: number }) {
  const { t } = useTranslation("customers");
  const labels = useLabels();
  const [page, setPage] = useState(1);
  const timeline = useQuery({
    queryKey: keys.timeline(contactId, page),
    queryFn: () =>
      data(
        client.GET("/api/v1/contacts/{id}/timeline/", {
          params: { path: { id: String(contactId) }, query: { page, page_size: TIMELINE_PAGE } },
        }),
      ),
    placeholderData: keepPreviousData,
  });
  return (
    <QueryState query={timeline} isEmpty={(d) => d.results.length === 0} empty={<EmptyState description={t("timeline.empty")} />}>
      {(d) => (
        <>
          <Timeline
            items={d.results.map((event) => ({
              key: event.id,
              color: EVENT_COLOR[event.type] ?? "blue",
              title: dateTime(event.occurred_at),
              content: (
                <div data-testid="timeline-event">
                  <Typography.Text strong>{labels.event(event.type)}</Typography.Text> <EventText event={event} />
                </div>
              ),
            }))}
          />
          {(page > 1 || d.next) && <Pager page={page} hasNext={!!d.next} onPage={setPage} loading={timeline.isFetching} />}
        </>
      )}
    </QueryState>
  );
}

