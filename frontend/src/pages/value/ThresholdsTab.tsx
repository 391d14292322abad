// Thresholds: when a customer is new, when silent, from which lifetime value high value, how long
// points last, and the currency orders come in. Saving a change of the first three recomputes every
// customer (the API queues the pass), and the page says so.
import "./strings";

import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Alert, App, Button, Card, Form, Input, InputNumber, Typography } from "antd";
import { useTranslation } from "react-i18next";

import { ErrorState, Loading } from "../../components/states";
import { useApiErrors } from "../channels/useApiErrors";
import { api, keys, useValueSettings } from "./api";
import { settingsRecompute } from "./format";
import type { ValueSettings } from "./types";

function ThresholdsForm({ settings }: { settings: ValueSettings }) {
  const { t } = useTranslation("value");
  const { message } = App.useApp();
  const queryClient = useQueryClient();
  const [form] = Form.useForm<ValueSettings>();
  const errors = useApiErrors(form);
  const save = useMutation({
    mutationFn: (values: ValueSettings) =>
      api.saveSettings({
        new_days: values.new_days,
        silent_days: values.silent_days,
        high_value_ltv: String(values.high_value_ltv),
        points_expire_days: values.points_expire_days,
        currency: values.currency.trim().toUpperCase(),
      }),
    onSuccess: (saved, values) => {
      const recomputes = settingsRecompute(settings, values);
      queryClient.setQueryData(keys.settings, saved);
      form.setFieldsValue(saved);
      // The tiers' meanings changed with the thresholds; their counts follow once the pass has run.
      void queryClient.invalidateQueries({ queryKey: keys.tiers });
      void message.success(recomputes ? t("thresholds.savedRecompute") : t("settings.saved"));
    },
    onError: (error) => errors.show(error),
  });
  const days = t("thresholds.days");
  return (
    <Card style={{ maxWidth: 720 }}>
      <Alert type="info" showIcon style={{ marginBottom: 16 }} title={t("thresholds.recomputeNote")} data-testid="recompute-note" />
      {errors.general.length > 0 && <Alert type="error" showIcon style={{ marginBottom: 16 }} title={errors.general.join(" ")} />}
      <Form<ValueSettings>
        form={form}
        name="value-thresholds"
        layout="vertical"
        initialValues={settings}
        onValuesChange={() => errors.onValuesChange()}
        onFinish={(values) => {
          errors.reset();
          save.mutate(values);
        }}
      >
        <Form.Item name="new_days" label={t("thresholds.newDays")} extra={t("thresholds.newDaysHint")} rules={[{ required: true, message: t("fields.required") }]}>
          <InputNumber min={1} max={365} precision={0} suffix={days} style={{ width: 200 }} />
        </Form.Item>
        <Form.Item
          name="silent_days"
          label={t("thresholds.silentDays")}
          extra={t("thresholds.silentDaysHint")}
          rules={[{ required: true, message: t("fields.required") }]}
        >
          <InputNumber min={1} max={365} precision={0} suffix={days} style={{ width: 200 }} />
        </Form.Item>
        <Form.Item
          name="high_value_ltv"
          label={t("thresholds.highValueLtv")}
          extra={t("thresholds.highValueLtvHint")}
          rules={[{ required: true, message: t("fields.required") }]}
        >
          <InputNumber<string> stringMode min="0.01" max="9999999999.99" precision={2} suffix={settings.currency} style={{ width: 240 }} />
        </Form.Item>
        <Form.Item
          name="points_expire_days"
          label={t("thresholds.pointsExpireDays")}
          extra={t("thresholds.pointsExpireDaysHint")}
          rules={[{ required: true, message: t("fields.required") }]}
        >
          <InputNumber min={0} max={3650} precision={0} suffix={days} style={{ width: 200 }} />
        </Form.Item>
        <Form.Item
          name="currency"
          label={t("thresholds.currency")}
          extra={t("thresholds.currencyHint")}
          rules={[{ required: true, whitespace: true, message: t("fields.required") }]}
          normalize={(value: string) => value.toUpperCase()}
        >
          <Input maxLength={3} style={{ width: 120 }} autoComplete="off" spellCheck={false} />
        </Form.Item>
        <Button type="primary" htmlType="submit" loading={save.isPending}>
          {t("common:action.save")}
        </Button>
      </Form>
    </Card>
  );
}

export default function ThresholdsTab() {
  const { t } = useTranslation("value");
  const settings = useValueSettings();
  return (
    <div>
      <Typography.Paragraph type="secondary">{t("thresholds.intro")}</Typography.Paragraph>
      {settings.isPending ? (
        <Loading rows={5} />
      ) : settings.isError ? (
        <ErrorState error={settings.error} onRetry={() => void settings.refetch()} />
      ) : (
        <ThresholdsForm settings={settings.data} />
      )}
    </div>
  );
}
