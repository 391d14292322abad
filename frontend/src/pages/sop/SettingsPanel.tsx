// The builder's settings panel: the trigger (customer SOP: an event with its conditions, a date
// field, a segment or manual; group SOP: a schedule and the groups), the exit and goal conditions,
// re-enrolment, quiet and business hours and the frequency caps. Errors show where their path points.
import "./strings";

import { Alert, DatePicker, Drawer, Input, InputNumber, Radio, Select, Space, Switch, Tabs, Typography } from "antd";
import dayjs from "dayjs";
import { useTranslation } from "react-i18next";

import { useProfileFields, useSegments, useStages, useTagGroups } from "../customers/api";
import { TagPicker } from "../customers/controls";
import { useGroupTags } from "../groups/api";
import { StaffPicker, tagOptions as groupTagOptions } from "../groups/bits";
import { Errors, Labeled, TimeInput, WeekdaySelect } from "./bits";
import CriteriaEditor, { FiltersEditor } from "./CriteriaEditor";
import { settingsMessages, settingsTab } from "./definition";
import {
  type Definition,
  type DraftErrors,
  type EventTrigger,
  type DateTrigger,
  type Kind,
  REENROL,
  type ScheduleTrigger,
  TIERS,
  TRIGGER_EVENTS,
  type Trigger,
  type TriggerType,
} from "./types";

const CUSTOMER_TRIGGERS: TriggerType[] = ["event", "date", "segment", "manual"];
const DEFAULT_BUSINESS = { weekdays: [1, 2, 3, 4, 5], start: "09:00", end: "18:00" };

function newTrigger(type: TriggerType): Trigger {
  switch (type) {
    case "event":
      return { type, event: "added", filters: {} };
    case "date":
      return { type, field: "birthday", offset_days: 0, time: "09:00", filters: {} };
    case "segment":
      return { type, segment_id: null };
    case "schedule":
      return { type, every: "daily", time: "09:00", groups: {} };
    default:
      return { type: "manual" };
  }
}

function EventConditions({ trigger, onChange, errors }: { trigger: EventTrigger; onChange: (t: EventTrigger) => void; errors: (f: string) => string[] }) {
  const { t } = useTranslation("sop");
  const tagGroups = useTagGroups();
  const stages = useStages();
  const base: EventTrigger = { type: "event", event: trigger.event, filters: trigger.filters ?? {} };
  return (
    <>
      <Labeled id="trigger-event" label={t("settings.event")} errors={errors("trigger.event")}>
        <Select<string>
          id="trigger-event"
          style={{ width: 240 }}
          value={trigger.event}
          options={TRIGGER_EVENTS.map((e) => ({ value: e, label: t(`event.${e}`) }))}
          // The conditions are per event: a new event starts without the old one's.
          onChange={(event) => onChange({ ...base, event: event as EventTrigger["event"] })}
        />
      </Labeled>
      {trigger.event === "added" && (
        <Labeled id="trigger-channel" label={t("settings.channel")} errors={errors("trigger.channel")}>
          <Input
            id="trigger-channel"
            allowClear
            style={{ width: 240 }}
            placeholder={t("settings.channelPlaceholder")}
            value={trigger.channel ?? ""}
            onChange={(e) => onChange({ ...trigger, channel: e.target.value || undefined })}
          />
        </Labeled>
      )}
      {trigger.event === "tagged" && (
        <Labeled id="trigger-tags" label={t("settings.tags")} errors={errors("trigger.tag_ids")}>
          <TagPicker id="trigger-tags" groups={tagGroups.data} loading={tagGroups.isPending} value={trigger.tag_ids ?? []} onChange={(tag_ids) => onChange({ ...trigger, tag_ids })} />
        </Labeled>
      )}
      {trigger.event === "stage_changed" && (
        <Labeled id="trigger-stage" label={t("settings.stage")} errors={errors("trigger.stage_id")}>
          <Select<number | 0>
            id="trigger-stage"
            style={{ width: 240 }}
            value={trigger.stage_id ?? 0}
            options={[{ value: 0, label: t("settings.anyValue") }, ...(stages.data ?? []).map((s) => ({ value: s.id, label: s.name }))]}
            onChange={(v) => onChange({ ...trigger, stage_id: v || undefined })}
          />
        </Labeled>
      )}
      {trigger.event === "tier_changed" && (
        <Labeled id="trigger-tier" label={t("settings.tier")} errors={errors("trigger.tier")}>
          <Select<string>
            id="trigger-tier"
            style={{ width: 240 }}
            value={trigger.tier ?? ""}
            options={[{ value: "", label: t("settings.anyValue") }, ...TIERS.map((tier) => ({ value: tier, label: t(`tier.${tier}`) }))]}
            onChange={(v) => onChange({ ...trigger, tier: v || undefined })}
          />
        </Labeled>
      )}
      {trigger.event === "purchased" && (
        <Labeled id="trigger-amount" label={t("settings.minAmount")} errors={errors("trigger.min_amount")}>
          <InputNumber<string>
            id="trigger-amount"
            stringMode
            min="0"
            precision={2}
            style={{ width: 180 }}
            value={trigger.min_amount ?? null}
            onChange={(v) => onChange({ ...trigger, min_amount: v || undefined })}
          />
        </Labeled>
      )}
      {trigger.event === "group_joined" && (
        <Labeled id="trigger-group" label={t("settings.group")} errors={errors("trigger.group_id")}>
          <InputNumber<number>
            id="trigger-group"
            min={1}
            precision={0}
            style={{ width: 180 }}
            placeholder={t("settings.anyValue")}
            value={trigger.group_id ?? null}
            onChange={(v) => onChange({ ...trigger, group_id: v ?? undefined })}
          />
        </Labeled>
      )}
      {trigger.event === "custom" && (
        <Labeled id="trigger-name" label={t("settings.customName")} errors={errors("trigger.name")}>
          <Input id="trigger-name" style={{ width: 240 }} value={trigger.name ?? ""} maxLength={64} onChange={(e) => onChange({ ...trigger, name: e.target.value })} />
        </Labeled>
      )}
    </>
  );
}

function DateConditions({ trigger, onChange, errors }: { trigger: DateTrigger; onChange: (t: DateTrigger) => void; errors: (f: string) => string[] }) {
  const { t } = useTranslation("sop");
  const fields = useProfileFields();
  const dateFields = (fields.data ?? []).filter((f) => f.kind === "date" && !f.archived);
  const options = [{ value: "first_added_at", label: t("settings.firstAdded") }, ...dateFields.map((f) => ({ value: f.key, label: `${f.label} (${f.key})` }))];
  if (trigger.field && !options.some((o) => o.value === trigger.field)) options.push({ value: trigger.field, label: trigger.field });
  return (
    <>
      <Labeled id="trigger-field" label={t("settings.dateField")} hint={t("settings.dateFieldHint")} errors={errors("trigger.field")}>
        <Select<string> id="trigger-field" style={{ width: 280 }} loading={fields.isPending} value={trigger.field} options={options} onChange={(field) => onChange({ ...trigger, field })} />
      </Labeled>
      <Space align="start" wrap>
        <Labeled id="trigger-offset" label={t("settings.offsetDays")} hint={t("settings.offsetHint")} errors={errors("trigger.offset_days")}>
          <InputNumber<number> id="trigger-offset" min={-30} max={30} precision={0} value={trigger.offset_days ?? 0} onChange={(v) => onChange({ ...trigger, offset_days: v ?? 0 })} />
        </Labeled>
        <Labeled id="trigger-time" label={t("settings.time")} errors={errors("trigger.time")}>
          <TimeInput id="trigger-time" value={trigger.time} onChange={(time) => onChange({ ...trigger, time })} />
        </Labeled>
      </Space>
    </>
  );
}

function ScheduleFields({ trigger, onChange, errors }: { trigger: ScheduleTrigger; onChange: (t: ScheduleTrigger) => void; errors: (f: string) => string[] }) {
  const { t } = useTranslation("sop");
  const groupTags = useGroupTags();
  const groups = trigger.groups ?? {};
  return (
    <>
      <Space align="start" wrap>
        <Labeled id="trigger-every" label={t("settings.every")} errors={errors("trigger.every")}>
          <Radio.Group
            id="trigger-every"
            value={trigger.every ?? "daily"}
            onChange={(e) => onChange({ ...trigger, every: e.target.value })}
            options={(["daily", "weekly", "dates"] as const).map((v) => ({ value: v, label: t(`settings.everyOptions.${v}`) }))}
          />
        </Labeled>
        <Labeled id="trigger-time" label={t("settings.time")} errors={errors("trigger.time")}>
          <TimeInput id="trigger-time" value={trigger.time} onChange={(time) => onChange({ ...trigger, time })} />
        </Labeled>
      </Space>
      {trigger.every === "weekly" && (
        <Labeled id="trigger-weekdays" label={t("settings.weekdays")} errors={errors("trigger.weekdays")}>
          <WeekdaySelect id="trigger-weekdays" multiple value={trigger.weekdays ?? []} onChange={(v) => onChange({ ...trigger, weekdays: v as number[] })} />
        </Labeled>
      )}
      {trigger.every === "dates" && (
        <Labeled id="trigger-dates" label={t("settings.dates")} errors={errors("trigger.dates")}>
          <DatePicker
            id="trigger-dates"
            multiple
            format="YYYY-MM-DD"
            style={{ width: "100%" }}
            value={(trigger.dates ?? []).map((d) => dayjs(d))}
            onChange={(values) => onChange({ ...trigger, dates: (values ?? []).map((d) => d.format("YYYY-MM-DD")).sort() })}
          />
        </Labeled>
      )}
      <Labeled id="trigger-owners" label={t("settings.owners")} errors={errors("trigger.groups.owner_ids")}>
        <StaffPicker
          id="trigger-owners"
          multiple
          placeholder={t("settings.anyOwner")}
          value={groups.owner_ids ?? []}
          onChange={(owner_ids) => onChange({ ...trigger, groups: { ...groups, owner_ids } })}
        />
      </Labeled>
      <Labeled id="trigger-group-tags" label={t("settings.groupTags")} errors={errors("trigger.groups.tag_ids")}>
        <Select<number[]>
          id="trigger-group-tags"
          mode="multiple"
          allowClear
          showSearch={{ optionFilterProp: "label" }}
          placeholder={t("settings.anyGroupTag")}
          loading={groupTags.isPending}
          options={groupTagOptions(groupTags.data)}
          value={groups.tag_ids ?? []}
          onChange={(tag_ids) => onChange({ ...trigger, groups: { ...groups, tag_ids } })}
          style={{ width: "100%" }}
        />
      </Labeled>
      <Labeled id="trigger-group-name" label={t("settings.groupName")} errors={errors("trigger.groups.name")}>
        <Input
          id="trigger-group-name"
          allowClear
          maxLength={100}
          value={groups.name ?? ""}
          onChange={(e) => onChange({ ...trigger, groups: { ...groups, name: e.target.value || undefined } })}
        />
      </Labeled>
    </>
  );
}

function TriggerTab({ kind, definition, onChange, errors }: { kind: Kind; definition: Definition; onChange: (d: Definition) => void; errors: DraftErrors }) {
  const { t } = useTranslation("sop");
  const segments = useSegments();
  const at = (prefix: string) => settingsMessages(errors, prefix);
  const trigger = definition.trigger ?? newTrigger(kind === "group" ? "schedule" : "event");
  const setTrigger = (next: Trigger) => onChange({ ...definition, trigger: next });
  const types: TriggerType[] = kind === "group" ? ["schedule"] : CUSTOMER_TRIGGERS;
  const filtersOf = "filters" in trigger ? (trigger.filters ?? {}) : null;
  return (
    <>
      <Labeled id="trigger-type" label={t("settings.triggerType")} hint={t(`settings.triggerHint.${trigger.type}`)} errors={errors["trigger.type"] ?? errors.trigger ?? []}>
        <Select<TriggerType>
          id="trigger-type"
          style={{ width: 240 }}
          value={trigger.type}
          options={types.map((type) => ({ value: type, label: t(`settings.triggerTypes.${type}`) }))}
          onChange={(type) => setTrigger(newTrigger(type))}
        />
      </Labeled>
      {trigger.type === "event" && <EventConditions trigger={trigger} onChange={setTrigger} errors={at} />}
      {trigger.type === "date" && <DateConditions trigger={trigger} onChange={setTrigger} errors={at} />}
      {trigger.type === "segment" && (
        <Labeled id="trigger-segment" label={t("settings.segment")} errors={at("trigger.segment_id")}>
          <Select<number>
            id="trigger-segment"
            style={{ width: 280 }}
            loading={segments.isPending}
            value={trigger.segment_id ?? undefined}
            options={(segments.data?.results ?? []).map((s) => ({ value: s.id, label: s.name }))}
            onChange={(segment_id) => setTrigger({ ...trigger, segment_id })}
          />
        </Labeled>
      )}
      {trigger.type === "schedule" && <ScheduleFields trigger={trigger} onChange={setTrigger} errors={at} />}
      {filtersOf !== null && (trigger.type === "event" || trigger.type === "date") && (
        <>
          <Typography.Title level={5}>{t("settings.filters")}</Typography.Title>
          <Typography.Paragraph type="secondary">{t("settings.filtersHint")}</Typography.Paragraph>
          <FiltersEditor
            idPrefix="trigger-filters"
            value={filtersOf}
            onChange={(filters) => setTrigger({ ...trigger, filters })}
            errors={(field) => at(`trigger.filters.${field}`)}
          />
        </>
      )}
    </>
  );
}

function ExitTab({ kind, definition, onChange, errors }: { kind: Kind; definition: Definition; onChange: (d: Definition) => void; errors: DraftErrors }) {
  const { t } = useTranslation("sop");
  if (kind === "group") return <Typography.Paragraph type="secondary">{t("settings.groupNoCriteria")}</Typography.Paragraph>;
  const list = (name: "exit" | "goal") => (path: string, exact?: boolean) =>
    exact ? (errors[`${name}.${path}`] ?? []) : settingsMessages(errors, `${name}.${path}`);
  return (
    <>
      <Typography.Title level={5}>{t("settings.goal")}</Typography.Title>
      <Typography.Paragraph type="secondary">{t("settings.goalHint")}</Typography.Paragraph>
      <Errors messages={errors.goal ?? []} />
      <CriteriaEditor idPrefix="goal" value={definition.goal ?? []} onChange={(goal) => onChange({ ...definition, goal })} errors={list("goal")} />
      <Typography.Title level={5} style={{ marginTop: 24 }}>
        {t("settings.exit")}
      </Typography.Title>
      <Typography.Paragraph type="secondary">{t("settings.exitHint")}</Typography.Paragraph>
      <Errors messages={errors.exit ?? []} />
      <CriteriaEditor idPrefix="exit" value={definition.exit ?? []} onChange={(exit) => onChange({ ...definition, exit })} errors={list("exit")} />
    </>
  );
}

function TimingTab({ kind, definition, onChange, errors }: { kind: Kind; definition: Definition; onChange: (d: Definition) => void; errors: DraftErrors }) {
  const { t } = useTranslation("sop");
  const at = (prefix: string) => settingsMessages(errors, prefix);
  const quiet = definition.quiet_hours ?? null;
  const business = { ...DEFAULT_BUSINESS, ...(definition.business_hours ?? {}) };
  return (
    <>
      {kind === "customer" && (
        <Labeled id="reenrol" label={t("settings.reenrol")} hint={t("settings.reenrolHint")} errors={at("reenrol")}>
          <Radio.Group
            id="reenrol"
            value={definition.reenrol ?? "never"}
            onChange={(e) => onChange({ ...definition, reenrol: e.target.value })}
            options={REENROL.map((r) => ({ value: r, label: t(`settings.reenrolOptions.${r}`) }))}
          />
        </Labeled>
      )}
      <Labeled id="quiet" label={t("settings.quiet")} hint={t("settings.quietHint")} errors={at("quiet_hours")}>
        <Space wrap>
          <Switch
            id="quiet"
            checked={quiet !== null}
            onChange={(on) => onChange({ ...definition, quiet_hours: on ? { start: "21:00", end: "08:00" } : null })}
          />
          {quiet && (
            <>
              <TimeInput ariaLabel={t("builder.start")} value={quiet.start} onChange={(start) => onChange({ ...definition, quiet_hours: { ...quiet, start } })} />
              –
              <TimeInput ariaLabel={t("builder.end")} value={quiet.end} onChange={(end) => onChange({ ...definition, quiet_hours: { ...quiet, end } })} />
            </>
          )}
        </Space>
      </Labeled>
      <Labeled id="business" label={t("settings.business")} hint={t("settings.businessHint")} errors={at("business_hours")}>
        <Space orientation="vertical" style={{ width: "100%" }}>
          <WeekdaySelect id="business" multiple value={business.weekdays} onChange={(v) => onChange({ ...definition, business_hours: { ...business, weekdays: v as number[] } })} />
          <Space>
            <TimeInput ariaLabel={t("builder.start")} value={business.start} onChange={(start) => onChange({ ...definition, business_hours: { ...business, start } })} />
            –
            <TimeInput ariaLabel={t("builder.end")} value={business.end} onChange={(end) => onChange({ ...definition, business_hours: { ...business, end } })} />
          </Space>
        </Space>
      </Labeled>
      <Labeled id="caps" label={t("settings.caps")} hint={t("settings.capsHint")} errors={at("respect_caps")}>
        <Switch id="caps" checked={definition.respect_caps ?? true} onChange={(respect_caps) => onChange({ ...definition, respect_caps })} />
      </Labeled>
    </>
  );
}

/** Which settings tab an error path belongs to. */
export default function SettingsPanel({
  open,
  onClose,
  kind,
  definition,
  onChange,
  errors,
  tab,
  onTab,
}: {
  open: boolean;
  onClose: () => void;
  kind: Kind;
  definition: Definition;
  onChange: (d: Definition) => void;
  errors: DraftErrors;
  tab: string;
  onTab: (tab: string) => void;
}) {
  const { t } = useTranslation("sop");
  const count = (name: string) => Object.keys(errors).filter((p) => settingsTab(p) === name).length;
  const label = (name: "trigger" | "exit" | "timing") => (
    <span>
      {t(`settings.tabs.${name}`)}
      {count(name) > 0 && <Typography.Text type="danger"> ({count(name)})</Typography.Text>}
    </span>
  );
  const other = Object.entries(errors).filter(([p]) => p === "" || p === "non_field_errors");
  return (
    <Drawer open={open} onClose={onClose} size={620} title={t("settings.title")} destroyOnHidden>
      {other.length > 0 && <Alert type="error" showIcon title={other.flatMap(([, m]) => m).join(" ")} style={{ marginBottom: 12 }} />}
      <Tabs
        activeKey={tab}
        onChange={onTab}
        items={[
          { key: "trigger", label: label("trigger"), children: <TriggerTab kind={kind} definition={definition} onChange={onChange} errors={errors} /> },
          { key: "exit", label: label("exit"), children: <ExitTab kind={kind} definition={definition} onChange={onChange} errors={errors} /> },
          { key: "timing", label: label("timing"), children: <TimingTab kind={kind} definition={definition} onChange={onChange} errors={errors} /> },
        ]}
      />
    </Drawer>
  );
}
