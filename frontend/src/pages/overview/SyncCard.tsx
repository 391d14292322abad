// The last sync: status, counts, a progress bar while it runs, its errors, and "Sync now" for admins.
import { SyncOutlined } from "@ant-design/icons";
import { Alert, Button, Card, Descriptions, Progress, Space, Tag, Typography } from "antd";
import { useTranslation } from "react-i18next";

import { actorName } from "../../lib/actor";
import { dateTimeSeconds } from "../../lib/format";
import { isActive, SYNC_STATUS_COLOR, type SyncRun, syncErrors, syncPercent } from "../../lib/sync";

export function SyncNowButton({
  onSync,
  pending,
  disabled,
  primary,
}: {
  onSync: () => void;
  pending: boolean;
  disabled?: boolean;
  primary?: boolean;
}) {
  const { t } = useTranslation("overview");
  return (
    <Button
      type={primary ? "primary" : "default"}
      icon={<SyncOutlined />}
      loading={pending}
      disabled={disabled}
      onClick={onSync}
    >
      {t("sync.now")}
    </Button>
  );
}

export function SyncStatus({ run }: { run: SyncRun }) {
  const { t } = useTranslation("overview");
  return (
    <Tag color={SYNC_STATUS_COLOR[run.status]} icon={isActive(run) ? <SyncOutlined spin /> : undefined} data-testid="sync-status">
      {t(`sync.status.${run.status}`)}
    </Tag>
  );
}

export function SyncCard({
  run,
  canSync,
  onSync,
  syncing,
}: {
  run: SyncRun | null;
  canSync: boolean;
  onSync: () => void;
  syncing: boolean;
}) {
  const { t } = useTranslation("overview");
  const active = isActive(run);
  const extra = canSync ? <SyncNowButton onSync={onSync} pending={syncing} disabled={active} /> : undefined;

  if (!run) {
    return (
      <Card title={t("sync.title")} extra={extra} data-testid="sync-card">
        <Typography.Text type="secondary">{t("sync.never")}</Typography.Text>
      </Card>
    );
  }

  const percent = syncPercent(run);
  const errors = syncErrors(run);
  const trigger = ["manual", "schedule", "command"].includes(run.trigger) ? t(`sync.trigger.${run.trigger}`) : run.trigger;
  return (
    <Card title={t("sync.title")} extra={extra} data-testid="sync-card">
      <Space orientation="vertical" style={{ width: "100%" }}>
        <Space wrap>
          <SyncStatus run={run} />
          {active && run.phase && (
            <Typography.Text type="secondary">
              {t(`sync.phase.${run.phase}`, { defaultValue: run.phase })}
            </Typography.Text>
          )}
        </Space>
        {active && (
          <div>
            <Progress
              percent={percent ?? 0}
              status="active"
              aria-label={t("sync.progress")}
              showInfo={percent !== null}
            />
            {run.progress_total > 0 && (
              <Typography.Text type="secondary">
                {t("sync.progressCount", { done: run.progress_done, total: run.progress_total })}
              </Typography.Text>
            )}
          </div>
        )}
        <Descriptions
          size="small"
          column={1}
          items={[
            { key: "trigger", label: t("sync.triggerLabel"), children: trigger },
            ...(run.created_by ? [{ key: "by", label: t("sync.by"), children: actorName(run.created_by, t) }] : []),
            { key: "started", label: t("sync.startedAt"), children: dateTimeSeconds(run.started_at ?? run.created_at) },
            { key: "finished", label: t("sync.finishedAt"), children: dateTimeSeconds(run.finished_at) },
            { key: "created", label: t("sync.created"), children: <span data-testid="sync-created">{run.created}</span> },
            { key: "updated", label: t("sync.updated"), children: run.updated },
            { key: "unchanged", label: t("sync.unchanged"), children: run.unchanged },
            { key: "closed", label: t("sync.closed"), children: run.closed },
            { key: "calls", label: t("sync.apiCalls"), children: run.api_calls },
          ]}
        />
        {errors.length > 0 && (
          <Alert
            type={run.status === "failed" ? "error" : "warning"}
            showIcon
            title={t("sync.errors")}
            description={
              <ul style={{ margin: 0, paddingInlineStart: 20 }}>
                {errors.map((error, i) => (
                  <li key={i}>
                    {error.errcode != null && <Typography.Text code>{t("sync.errcode", { code: error.errcode })}</Typography.Text>}{" "}
                    {error.hint || error.errmsg}
                  </li>
                ))}
              </ul>
            }
          />
        )}
      </Space>
    </Card>
  );
}
