// Campaign settings (admins): WeCom's receive limit as the corp has it set (the plan counts it so
// the preview tells the truth), who sends to a customer several members follow, the tenant's own
// weekly cap on marketing touches, and the time zone schedules and the caps' days are in.
import "./strings";

import { ArrowLeftOutlined } from "@ant-design/icons";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Alert, App, Button, Card, Form, InputNumber, Radio, Select, Space, Typography } from "antd";
import { useMemo } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";

import { ErrorState, Loading } from "../../components/states";
import { zoneLabel } from "../../lib/campaigns";
import { dateTime } from "../../lib/format";
import { useApiErrors } from "../channels/useApiErrors";
import { DEFAULT_ZONE, api, keys, useCampaignSettings } from "./api";
import type { CampaignSettings, ReceiveLimit, SenderRule } from "./types";

const LIMITS: ReceiveLimit[] = ["month", "week", "day"];
const RULES: SenderRule[] = ["first", "latest"];

interface Values {
  receive_limit: ReceiveLimit;
  sender_rule: SenderRule;
  marketing_cap_per_week: number | null;
  time_zone: string;
}

function zones(): string[] {
  try {
    return Intl.supportedValuesOf("timeZone");
  } catch {
    return ["Asia/Shanghai", "UTC"];
  }
}

function SettingsForm({ settings }: { settings: CampaignSettings }) {
  const { t } = useTranslation("campaigns");
  const { message } = App.useApp();
  const queryClient = useQueryClient();
  const [form] = Form.useForm<Values>();
  const errors = useApiErrors(form);
  const zone = settings.time_zone ?? DEFAULT_ZONE;
  const options = useMemo(() => {
    const now = Date.now();
    const list = zones();
    if (!list.includes(zone)) list.unshift(zone);
    return list.map((name) => ({ value: name, label: zoneLabel(name, now) }));
  }, [zone]);

  const save = useMutation({
    mutationFn: (values: Values) => api.saveSettings({ ...values, marketing_cap_per_week: values.marketing_cap_per_week ?? null }),
    onSuccess: (saved) => {
      queryClient.setQueryData(keys.settings, saved);
      void queryClient.invalidateQueries({ queryKey: ["campaigns", "preview"] });
      void message.success(t("settings.saved"));
    },
    onError: (error) => void errors.show(error),
  });

  return (
    <Form<Values>
      form={form}
      layout="vertical"
      name="campaign-settings"
      initialValues={{
        receive_limit: settings.receive_limit,
        sender_rule: settings.sender_rule,
        marketing_cap_per_week: settings.marketing_cap_per_week,
        time_zone: zone,
      }}
      onValuesChange={errors.onValuesChange}
      onFinish={(values) => {
        errors.reset();
        save.mutate(values);
      }}
      style={{ maxWidth: 720 }}
    >
      {errors.general.length > 0 && <Alert type="error" showIcon style={{ marginBottom: 16 }} title={errors.general.join(" ")} />}
      <Card title={t("settings.limitTitle")} style={{ marginBottom: 16 }}>
        <Typography.Paragraph type="secondary">{t("settings.limitHint")}</Typography.Paragraph>
        <Form.Item name="receive_limit" label={t("settings.receiveLimit")}>
          <Radio.Group>
            <Space orientation="vertical">
              {LIMITS.map((limit) => (
                <Radio key={limit} value={limit}>
                  {t(`settings.limit.${limit}`)}
                </Radio>
              ))}
            </Space>
          </Radio.Group>
        </Form.Item>
        <Form.Item name="marketing_cap_per_week" label={t("settings.cap")} extra={t("settings.capHint")}>
          <InputNumber min={1} max={100} precision={0} placeholder={t("settings.noCap")} style={{ width: 200 }} />
        </Form.Item>
      </Card>
      <Card title={t("settings.senderTitle")} style={{ marginBottom: 16 }}>
        <Form.Item name="sender_rule" label={t("settings.senderRule")} extra={t("settings.senderHint")}>
          <Radio.Group>
            <Space orientation="vertical">
              {RULES.map((rule) => (
                <Radio key={rule} value={rule}>
                  {t(`settings.rule.${rule}`)}
                </Radio>
              ))}
            </Space>
          </Radio.Group>
        </Form.Item>
      </Card>
      <Card title={t("settings.zoneTitle")} style={{ marginBottom: 16 }}>
        <Form.Item name="time_zone" label={t("settings.timeZone")} extra={t("settings.zoneHint")}>
          <Select showSearch={{ optionFilterProp: "label" }} options={options} style={{ maxWidth: 360 }} />
        </Form.Item>
      </Card>
      <Space>
        <Button type="primary" htmlType="submit" loading={save.isPending}>
          {t("common:action.save")}
        </Button>
        {settings.updated_at && (
          <Typography.Text type="secondary" style={{ fontSize: 12 }}>
            {t("settings.updated", { at: dateTime(settings.updated_at) })}
          </Typography.Text>
        )}
      </Space>
    </Form>
  );
}

export default function CampaignSettingsPage() {
  const { t } = useTranslation("campaigns");
  const settings = useCampaignSettings();
  return (
    <div>
      <Space style={{ marginBottom: 8 }}>
        <Link to="/campaigns">
          <ArrowLeftOutlined /> {t("list.title")}
        </Link>
      </Space>
      <Typography.Title level={3}>{t("settings.title")}</Typography.Title>
      {settings.isPending ? (
        <Loading rows={8} />
      ) : settings.isError ? (
        <ErrorState error={settings.error} onRetry={() => void settings.refetch()} />
      ) : (
        <SettingsForm key={settings.data.updated_at ?? "settings"} settings={settings.data} />
      )}
    </div>
  );
}
