// The groups sync on the groups list: when the groups were last synced and how it went, "Sync groups"
// for admins, and a progress bar while a run goes on (lib/sync's useSync, kind "groups": when the run
// ends every list is refreshed).
import "./strings";

import { SyncOutlined } from "@ant-design/icons";
import { Alert, App, Button, Progress, Space, Tag, Tooltip, Typography } from "antd";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";

import { errorMessage } from "../../components/states";
import { dateTime } from "../../lib/format";
import { SYNC_STATUS_COLOR, type SyncRun, isActive, syncErrors, syncPercent, useSync } from "../../lib/sync";

export function useGroupSync() {
  const { t } = useTranslation("groups");
  const { message } = App.useApp();
  return useSync({
    kind: "groups",
    onStarted: (run) => void message.success(isActive(run) ? t("sync.started") : t("sync.finished")),
    onError: (error) => void message.error(errorMessage(error)),
  });
}

export function SyncGroupsButton({
  run,
  pending,
  onSync,
  primary,
}: {
  run: SyncRun | null | undefined;
  pending: boolean;
  onSync: () => void;
  primary?: boolean;
}) {
  const { t } = useTranslation("groups");
  return (
    <Button type={primary ? "primary" : "default"} icon={<SyncOutlined />} loading={pending} disabled={isActive(run)} onClick={onSync}>
      {t("sync.button")}
    </Button>
  );
}

/** One line about the latest groups sync; a progress bar under it while it runs. */
export function SyncLine({ run, isAdmin }: { run: SyncRun | null | undefined; isAdmin: boolean }) {
  const { t } = useTranslation("groups");
  if (!run) return null;
  const active = isActive(run);
  const percent = syncPercent(run);
  const errors = syncErrors(run);
  return (
    <div data-testid="groups-sync" aria-live="polite" style={{ marginBottom: 12 }}>
      <Space wrap size={8}>
        <Typography.Text type="secondary">{t("sync.last")}</Typography.Text>
        <Tag color={SYNC_STATUS_COLOR[run.status]} icon={active ? <SyncOutlined spin /> : undefined} data-testid="groups-sync-status">
          {t(`sync.status.${run.status}`)}
        </Tag>
        <Typography.Text type="secondary">
          {active
            ? run.progress_total > 0
              ? t("sync.progressCount", { done: run.progress_done, total: run.progress_total })
              : t("sync.progressUnknown", { done: run.progress_done })
            : t("sync.summary", {
                when: dateTime(run.finished_at ?? run.created_at),
                created: run.created,
                updated: run.updated,
                closed: run.closed,
              })}
        </Typography.Text>
        {isAdmin && !active && (
          <Tooltip title={t("sync.historyHint")}>
            <Link to="/settings/sync?kind=groups">{t("sync.history")}</Link>
          </Tooltip>
        )}
      </Space>
      {active && (
        <Progress percent={percent ?? 0} status="active" showInfo={percent !== null} aria-label={t("sync.progress")} style={{ maxWidth: 480 }} />
      )}
      {!active && errors.length > 0 && (
        <Alert
          style={{ marginTop: 8 }}
          type={run.status === "failed" ? "error" : "warning"}
          showIcon
          title={t("sync.errors")}
          description={
            <ul style={{ margin: 0, paddingInlineStart: 20 }}>
              {errors.slice(0, 5).map((error, i) => (
                <li key={i}>
                  {error.errcode != null && <Typography.Text code>{error.errcode}</Typography.Text>} {error.hint || error.errmsg}
                </li>
              ))}
            </ul>
          }
        />
      )}
    </div>
  );
}
