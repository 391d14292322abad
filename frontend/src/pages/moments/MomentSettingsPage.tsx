// Moments settings: when members who have not published a corp post get a reminder (WeCom app
// message), the daily digest to department leaders (admins change these), and the daily read of
// members' own posts, with a button to run it now (admins and operators).
import "./strings";

import { ArrowLeftOutlined, SyncOutlined } from "@ant-design/icons";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Alert, App, Button, Card, Descriptions, Form, InputNumber, Space, Switch, Typography } from "antd";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";

import { useSession } from "../../auth";
import { ErrorState, Loading, errorMessage } from "../../components/states";
import { formatCount } from "../../lib/campaigns";
import { dateTime } from "../../lib/format";
import { useApiErrors } from "../channels/useApiErrors";
import { api, keys, useMomentSettings, useSyncState } from "./api";
import type { MomentSettings, WeComError } from "./types";

function SettingsForm({ settings, admin }: { settings: MomentSettings; admin: boolean }) {
  const { t } = useTranslation("moments");
  const { message } = App.useApp();
  const queryClient = useQueryClient();
  const [form] = Form.useForm<MomentSettings>();
  const errors = useApiErrors(form);
  const save = useMutation({
    mutationFn: (values: MomentSettings) => api.saveSettings({ remind_after_hours: values.remind_after_hours, manager_digest: values.manager_digest }),
    onSuccess: (saved) => {
      queryClient.setQueryData(keys.settings, saved);
      void message.success(t("settings.saved"));
    },
    onError: (error) => errors.show(error),
  });
  return (
    <Card title={t("settings.reminders")}>
      {errors.general.length > 0 && <Alert type="error" showIcon style={{ marginBottom: 16 }} title={errors.general.join(" ")} />}
      <Form<MomentSettings>
        form={form}
        layout="vertical"
        initialValues={settings}
        disabled={!admin}
        onValuesChange={() => errors.onValuesChange()}
        onFinish={(values) => {
          errors.reset();
          save.mutate(values);
        }}
      >
        <Form.Item name="remind_after_hours" label={t("settings.remindAfter")} extra={t("settings.remindAfterHint")}>
          <InputNumber min={0} max={168} precision={0} addonAfter={t("settings.hours")} style={{ width: 200 }} />
        </Form.Item>
        <Form.Item name="manager_digest" label={t("settings.digest")} extra={t("settings.digestHint")} valuePropName="checked">
          <Switch />
        </Form.Item>
        {admin && (
          <Button type="primary" htmlType="submit" loading={save.isPending}>
            {t("common:action.save")}
          </Button>
        )}
      </Form>
      {!admin && <Typography.Paragraph type="secondary">{t("settings.adminOnly")}</Typography.Paragraph>}
    </Card>
  );
}

function SyncCard() {
  const { t, i18n } = useTranslation("moments");
  const { message } = App.useApp();
  const queryClient = useQueryClient();
  const state = useSyncState();
  const syncError = (state.data?.error ?? {}) as WeComError;
  const run = useMutation({
    mutationFn: () => api.sync(),
    onSuccess: () => {
      void message.success(t("settings.syncStarted"));
      // The read runs in a worker: its state is asked again once it had time to finish.
      window.setTimeout(() => void queryClient.invalidateQueries({ queryKey: keys.sync }), 3000);
    },
    onError: (error) => void message.error(errorMessage(error)),
  });
  return (
    <Card
      title={t("settings.sync")}
      extra={
        <Button icon={<SyncOutlined />} loading={run.isPending} onClick={() => run.mutate()}>
          {t("settings.syncNow")}
        </Button>
      }
    >
      <Typography.Paragraph type="secondary">{t("settings.syncHint")}</Typography.Paragraph>
      {state.isPending ? (
        <Loading rows={2} />
      ) : state.isError ? (
        <ErrorState error={state.error} onRetry={() => void state.refetch()} />
      ) : (
        <>
          <Descriptions
            size="small"
            column={{ xs: 1, md: 2 }}
            items={[
              { key: "last", label: t("settings.lastRun"), children: dateTime(state.data.last_run_at) },
              { key: "until", label: t("settings.syncedUntil"), children: dateTime(state.data.synced_until) },
              { key: "read", label: t("settings.momentsRead"), children: formatCount(state.data.moments_read, i18n.language) },
              { key: "calls", label: t("settings.apiCalls"), children: formatCount(state.data.api_calls, i18n.language) },
            ]}
          />
          {syncError.errcode !== undefined && <Alert type="error" showIcon title={t("detail.errcode", { code: syncError.errcode, message: syncError.errmsg ?? "" })} />}
        </>
      )}
    </Card>
  );
}

export default function MomentSettingsPage() {
  const { t } = useTranslation("moments");
  const { role } = useSession();
  const settings = useMomentSettings();
  return (
    <div>
      <Space style={{ marginBottom: 8 }}>
        <Link to="/moments">
          <ArrowLeftOutlined /> {t("list.title")}
        </Link>
      </Space>
      <Typography.Title level={3}>{t("settings.title")}</Typography.Title>
      <Space orientation="vertical" size="middle" style={{ width: "100%", maxWidth: 820 }}>
        {settings.isPending ? (
          <Loading rows={4} />
        ) : settings.isError ? (
          <ErrorState error={settings.error} onRetry={() => void settings.refetch()} />
        ) : (
          <SettingsForm settings={settings.data} admin={role === "admin"} />
        )}
        <SyncCard />
      </Space>
    </div>
  );
}
