// Background jobs this page started (bulk tag/untag, exports): progress polled until they finish,
// the items that failed, and the export's download.
import { CloseOutlined, DownloadOutlined, ReloadOutlined } from "@ant-design/icons";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Alert, Button, Card, List, Progress, Space, Tag, Typography } from "antd";
import { useEffect, useRef } from "react";
import { useTranslation } from "react-i18next";

import { client, data } from "../../api/client";
import { errorMessage } from "../../components/states";
import { type Job, keys } from "./api";
import { useLabels } from "./controls";

const RUNNING = new Set(["queued", "running"]);
const STATUS_COLOR: Record<string, string> = {
  queued: "default",
  running: "processing",
  succeeded: "success",
  partial: "warning",
  failed: "error",
};

interface JobError {
  item?: number | null;
  code?: string;
  message?: string;
  staff?: string;
}

function jobErrors(job: Job): JobError[] {
  return Array.isArray(job.errors) ? (job.errors as JobError[]) : [];
}

function isRunning(job: Job | undefined): boolean {
  return !job || RUNNING.has(job.status);
}

function JobCard({
  id,
  onDismiss,
  onOpenContact,
}: {
  id: number;
  onDismiss: () => void;
  onOpenContact: (id: number) => void;
}) {
  const { t } = useTranslation("customers");
  const labels = useLabels();
  const queryClient = useQueryClient();
  const job = useQuery({
    queryKey: keys.job(id),
    queryFn: () => data(client.GET("/api/v1/jobs/{id}/", { params: { path: { id } } })),
    // Poll while it runs; stop once it is done, or when asking fails (a 404 or 403 will not get
    // better; the card offers to retry).
    refetchInterval: (query) => (query.state.status !== "error" && isRunning(query.state.data) ? 1000 : false),
  });
  const status = job.data?.status;
  // Whether this card saw the job running: only a job that finishes while shown changes the list
  // (one already done when the card mounts has been accounted for).
  const wasRunning = useRef(false);
  useEffect(() => {
    if (!status) return;
    if (wasRunning.current && !RUNNING.has(status) && job.data?.kind !== "export") {
      // Tags changed: the list and any open customer show them.
      void queryClient.invalidateQueries({ queryKey: keys.contacts });
    }
    wasRunning.current = RUNNING.has(status);
  }, [status, job.data?.kind, queryClient]);

  const retry = (
    <Button
      size="small"
      icon={<ReloadOutlined />}
      aria-label={t("job.retry")}
      loading={job.isFetching}
      onClick={() => void job.refetch()}
    />
  );
  if (job.isError && !job.data) {
    return (
      <Alert
        type="error"
        showIcon
        title={t("job.loadFailed", { id })}
        description={errorMessage(job.error)}
        action={
          <Space>
            {retry}
            <Button size="small" onClick={onDismiss} icon={<CloseOutlined />} aria-label={t("job.dismiss")} />
          </Space>
        }
      />
    );
  }
  const current = job.data;
  const total = current?.total ?? 0;
  const processed = (current?.done ?? 0) + (current?.failed ?? 0);
  const percent = current && !isRunning(current) ? 100 : total > 0 ? Math.floor((processed / total) * 100) : 0;
  const errors = current ? jobErrors(current) : [];
  const kind = current ? labels.jobKind(current.kind) : t("job.title");

  return (
    <Card
      size="small"
      role="region"
      data-testid={`job-${id}`}
      aria-label={`${kind} #${id}`}
      title={
        <Space>
          <span>
            {kind} #{id}
          </span>
          {current && <Tag color={STATUS_COLOR[current.status]}>{labels.jobStatus(current.status)}</Tag>}
        </Space>
      }
      extra={
        <Space>
          {current?.kind === "export" && current.status !== "failed" && !isRunning(current) && current.download_url && (
            <Button type="primary" size="small" icon={<DownloadOutlined />} href={`/api/v1/jobs/${id}/download/`} download>
              {t("common:action.download")}
            </Button>
          )}
          <Button
            size="small"
            type="text"
            icon={<CloseOutlined />}
            aria-label={t("job.dismiss")}
            disabled={isRunning(current) && !job.isError}
            onClick={onDismiss}
          />
        </Space>
      }
    >
      {job.isError && (
        <Alert
          type="error"
          showIcon
          style={{ marginBottom: 8 }}
          title={t("job.loadFailed", { id })}
          description={errorMessage(job.error)}
          action={retry}
        />
      )}
      <Progress
        percent={percent}
        status={current?.status === "failed" ? "exception" : isRunning(current) ? "active" : undefined}
        aria-label={t("job.progress")}
      />
      <Typography.Text type="secondary">
        {t("job.counts", { done: current?.done ?? 0, failed: current?.failed ?? 0, total })}
      </Typography.Text>
      {errors.length > 0 && (
        <List
          size="small"
          header={t("job.errors", { count: current?.failed ?? errors.length })}
          dataSource={errors.slice(0, 20)}
          style={{ marginTop: 8, maxHeight: 200, overflow: "auto" }}
          renderItem={(error) => (
            <List.Item>
              <Typography.Text type="danger">
                {error.item ? (
                  <Button type="link" size="small" style={{ padding: 0 }} onClick={() => onOpenContact(error.item!)}>
                    {t("job.customer", { id: error.item })}
                  </Button>
                ) : null}{" "}
                {error.staff ? `(${error.staff}) ` : ""}
                {error.message ?? error.code}
              </Typography.Text>
            </List.Item>
          )}
        />
      )}
    </Card>
  );
}

export default function JobsPanel({
  jobs,
  onDismiss,
  onOpenContact,
}: {
  jobs: number[];
  onDismiss: (id: number) => void;
  onOpenContact: (id: number) => void;
}) {
  const { t } = useTranslation("customers");
  if (!jobs.length) return null;
  return (
    <section aria-label={t("job.section")} style={{ display: "grid", gap: 8, marginBottom: 16 }}>
      {jobs.map((id) => (
        <JobCard key={id} id={id} onDismiss={() => onDismiss(id)} onOpenContact={onOpenContact} />
      ))}
    </section>
  );
}
