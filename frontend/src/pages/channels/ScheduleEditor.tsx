// The code's schedule (under the form name `schedule`): rules of weekdays × hours × members. The
// first rule matching the time decides who takes customers; outside every rule the code's own
// members do. Overlapping rules are pointed out, since only the first of them ever applies there.
import "./strings";

import { DeleteOutlined, PlusOutlined } from "@ant-design/icons";
import { Alert, Button, Card, Checkbox, Col, Form, type FormInstance, Row, Select, Space, Typography } from "antd";
import { useTranslation } from "react-i18next";

import { type NameBook, StaffSelect } from "./pickers";
import { type Rule, WEEKDAYS, WEEKEND, WORKDAYS, minutes, newRule, overlaps, sameDays, timeOptions, weekdaySummary } from "./schedule";

function useDayLabels(): string[] {
  const { t } = useTranslation("channels");
  return WEEKDAYS.map((d) => t(`weekday.${d}`));
}

function RuleCard({
  form,
  index,
  position,
  multi,
  names,
  onNames,
  onRemove,
}: {
  form: FormInstance;
  index: number;
  position: number;
  multi: boolean;
  names: NameBook;
  onNames: (staff: { id: number; name: string }[]) => void;
  onRemove: () => void;
}) {
  const { t } = useTranslation("channels");
  const days = useDayLabels();
  const rule: Partial<Rule> | undefined = Form.useWatch(["schedule", index], form);
  const times = timeOptions([rule?.start, rule?.end]).map((time) => ({ value: time, label: time }));
  const summary = rule ? `${weekdaySummary(rule.weekdays ?? [], days)} ${rule.start ?? ""}–${rule.end ?? ""}` : "";
  const presets = [
    { key: "workdays", days: WORKDAYS },
    { key: "weekend", days: WEEKEND },
    { key: "everyday", days: [...WEEKDAYS] },
  ];
  const label = t("schedule.rule", { n: position + 1 });
  return (
    <Card
      size="small"
      role="group"
      aria-label={label}
      title={
        <Space>
          {label}
          <Typography.Text type="secondary">{summary}</Typography.Text>
        </Space>
      }
      extra={<Button size="small" type="text" danger icon={<DeleteOutlined />} aria-label={t("schedule.remove", { n: position + 1 })} onClick={onRemove} />}
    >
      <Form.Item
        name={[index, "weekdays"]}
        label={t("schedule.weekdays")}
        rules={[{ required: true, type: "array", min: 1, message: t("schedule.weekdaysRequired") }]}
        extra={
          <Space size={4} wrap>
            {presets.map((preset) => (
              <Button
                key={preset.key}
                size="small"
                type={sameDays(rule?.weekdays ?? [], preset.days) ? "primary" : "default"}
                onClick={() => form.setFieldValue(["schedule", index, "weekdays"], [...preset.days])}
              >
                {t(`schedule.preset.${preset.key}`)}
              </Button>
            ))}
          </Space>
        }
      >
        <Checkbox.Group options={WEEKDAYS.map((d) => ({ value: d, label: days[d - 1] }))} />
      </Form.Item>
      <Row gutter={12}>
        <Col xs={12} md={6}>
          <Form.Item name={[index, "start"]} label={t("schedule.start")} rules={[{ required: true, message: t("form.required") }]}>
            <Select showSearch options={times} />
          </Form.Item>
        </Col>
        <Col xs={12} md={6}>
          <Form.Item
            name={[index, "end"]}
            label={t("schedule.end")}
            dependencies={[["schedule", index, "start"]]}
            rules={[
              { required: true, message: t("form.required") },
              {
                validator: (_, end: string) => {
                  const start = minutes(form.getFieldValue(["schedule", index, "start"]));
                  const stop = minutes(end);
                  return start !== null && stop !== null && stop <= start
                    ? Promise.reject(new Error(t("schedule.endAfterStart")))
                    : Promise.resolve();
                },
              },
            ]}
          >
            <Select showSearch options={times} />
          </Form.Item>
        </Col>
        <Col xs={24} md={12}>
          <Form.Item
            name={[index, "user_ids"]}
            label={multi ? t("schedule.members") : t("schedule.member")}
            rules={[{ required: true, type: "array", min: 1, message: t("schedule.membersRequired") }]}
          >
            <StaffSelect names={names} onNames={onNames} single={!multi} placeholder={t("form.membersPlaceholder")} />
          </Form.Item>
        </Col>
      </Row>
    </Card>
  );
}

export default function ScheduleEditor({
  form,
  multi,
  names,
  onNames,
}: {
  form: FormInstance;
  multi: boolean;
  names: NameBook;
  onNames: (staff: { id: number; name: string }[]) => void;
}) {
  const { t } = useTranslation("channels");
  const days = useDayLabels();
  const rules: Partial<Rule>[] = Form.useWatch("schedule", form) ?? [];
  const clashes = overlaps(rules);
  return (
    <Form.List name="schedule">
      {(fields, { add, remove }, { errors }) => (
        <div data-testid="schedule-editor">
          <Typography.Paragraph type="secondary">{t("schedule.intro")}</Typography.Paragraph>
          <Space orientation="vertical" style={{ width: "100%" }}>
            {fields.map((field, position) => (
              <RuleCard
                key={field.key}
                form={form}
                index={field.name}
                position={position}
                multi={multi}
                names={names}
                onNames={onNames}
                onRemove={() => remove(field.name)}
              />
            ))}
          </Space>
          {clashes.map((clash) => (
            <Alert
              key={`${clash.rule}-${clash.earlier}`}
              type="warning"
              showIcon
              style={{ marginTop: 8 }}
              title={t("schedule.overlap", {
                rule: clash.rule + 1,
                earlier: clash.earlier + 1,
                days: weekdaySummary(clash.days, days),
                start: clash.start,
                end: clash.end,
              })}
            />
          ))}
          <Form.ErrorList errors={errors} />
          <Button
            icon={<PlusOutlined />}
            style={{ marginTop: 8 }}
            onClick={() => add(newRule(((form.getFieldValue("user_ids") as number[] | undefined) ?? []).slice(0, multi ? undefined : 1)))}
          >
            {t("schedule.add")}
          </Button>
        </div>
      )}
    </Form.List>
  );
}
