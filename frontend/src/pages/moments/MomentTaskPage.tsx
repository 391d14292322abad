// A Moments task: where it stands (draft, scheduled, being created in WeCom, with members, cancelled,
// refused), what WeCom could not use (members, departments, tags), the post as customers see it, and
// once WeCom made it, what became of it (totals, charts, members with Remind, likes and comments).
// Managers edit, publish, cancel, refresh and remind; sales see their own copy (the API scopes it).
import "./strings";

import { ArrowLeftOutlined, EditOutlined, ReloadOutlined, SendOutlined, StopOutlined } from "@ant-design/icons";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Alert, App, Button, Card, Col, Descriptions, Row, Space, Typography } from "antd";
import { useEffect, useRef } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useParams } from "react-router";

import { canManage, useSession } from "../../auth";
import { ErrorState, Loading, errorMessage } from "../../components/states";
import { actorName } from "../../lib/actor";
import { zonedDateTime } from "../../lib/campaigns";
import { dateTime } from "../../lib/format";
import { useTenantZone } from "../campaigns/api";
import { api, keys, useTask } from "./api";
import { StatusTag } from "./bits";
import MomentDetail from "./MomentDetail";
import MomentPreview from "./MomentPreview";
import type { MomentTaskDetail, WeComError } from "./types";

/** After "Refresh figures": when to read the figures again. */
const REFRESH_FOLLOW_UPS_MS = [1500, 4000, 10000];

function Invalid({ task }: { task: MomentTaskDetail }) {
  const { t } = useTranslation("moments");
  const users = task.invalid_senders?.users ?? [];
  const departments = task.invalid_senders?.departments ?? [];
  const tags = task.invalid_tags ?? [];
  if (!users.length && !departments.length && !tags.length) return null;
  return (
    <Alert
      type="warning"
      showIcon
      data-testid="invalid-range"
      title={t("detail.invalidTitle")}
      description={
        <ul style={{ margin: 0, paddingLeft: 18 }}>
          {users.length > 0 && <li>{t("detail.invalidMembers", { names: users.map((u) => u.name || u.userid).join(", ") })}</li>}
          {departments.length > 0 && <li>{t("detail.invalidDepartments", { names: departments.map((d) => d.name || `#${d.id}`).join(", ") })}</li>}
          {tags.length > 0 && <li>{t("detail.invalidTags", { names: tags.map((tag) => tag.name || tag.wecom_id).join(", ") })}</li>}
        </ul>
      }
    />
  );
}

function TaskView({ task }: { task: MomentTaskDetail }) {
  const { t } = useTranslation("moments");
  const { role } = useSession();
  const manager = canManage(role);
  const { message, modal } = App.useApp();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const zone = useTenantZone();
  const refusal = (task.error ?? {}) as WeComError;
  const after = async (updated: MomentTaskDetail) => {
    queryClient.setQueryData(keys.task(task.id), updated);
    await queryClient.invalidateQueries({ queryKey: keys.all, refetchType: "none" });
  };
  const publish = useMutation({
    mutationFn: () => api.publish(task.id, null),
    onSuccess: async (updated) => {
      await after(updated);
      void message.success(t("compose.published"));
    },
    onError: (error) => void message.error(errorMessage(error)),
  });
  const cancel = useMutation({
    mutationFn: () => api.cancel(task.id),
    onSuccess: async (updated) => {
      await after(updated);
      void message.success(t("detail.cancelled"));
    },
    onError: (error) => void message.error(errorMessage(error)),
  });
  // WeCom is read in a worker (202): the figures are asked again as its answers arrive.
  const followUps = useRef<number[]>([]);
  useEffect(() => () => followUps.current.forEach((timer) => clearTimeout(timer)), []);
  const refresh = useMutation({
    mutationFn: () => api.refresh(task.id),
    onSuccess: async (updated) => {
      void message.success(t("detail.refreshing"));
      await after(updated);
      await queryClient.invalidateQueries({ queryKey: keys.all });
      followUps.current = REFRESH_FOLLOW_UPS_MS.map((ms) => window.setTimeout(() => void queryClient.invalidateQueries({ queryKey: keys.all }), ms));
    },
    onError: (error) => void message.error(errorMessage(error)),
  });

  return (
    <Space orientation="vertical" size="middle" style={{ width: "100%" }}>
      <Space style={{ width: "100%", justifyContent: "space-between" }} align="start" wrap>
        <Space align="center" wrap>
          <Typography.Title level={3} style={{ margin: 0 }}>
            {t("detail.title")}
          </Typography.Title>
          <StatusTag status={task.status} />
        </Space>
        <Space wrap>
          {task.can_refresh ? (
            <Button icon={<ReloadOutlined />} loading={refresh.isPending} onClick={() => refresh.mutate()}>
              {t("detail.refresh")}
            </Button>
          ) : (
            task.moment !== null && (
              <Button icon={<ReloadOutlined />} onClick={() => void queryClient.invalidateQueries({ queryKey: keys.all })}>
                {t("common:action.refresh")}
              </Button>
            )
          )}
          {task.can_edit && (
            <Button icon={<EditOutlined />} onClick={() => navigate(`/moments/tasks/${task.id}/edit`)}>
              {t("common:action.edit")}
            </Button>
          )}
          {task.can_publish && task.status === "draft" && (
            <Button type="primary" icon={<SendOutlined />} loading={publish.isPending} onClick={() => publish.mutate()}>
              {t("compose.publish")}
            </Button>
          )}
          {task.can_cancel && (
            <Button
              danger
              icon={<StopOutlined />}
              loading={cancel.isPending}
              onClick={() =>
                modal.confirm({
                  title: t("detail.cancelTitle"),
                  content: task.status === "scheduled" ? t("detail.cancelScheduled") : t("detail.cancelPublishing"),
                  okText: t("detail.cancelOk"),
                  okButtonProps: { danger: true },
                  cancelText: t("detail.keep"),
                  onOk: () => cancel.mutateAsync().catch(() => undefined),
                })
              }
            >
              {t("detail.cancel")}
            </Button>
          )}
        </Space>
      </Space>
      {task.status === "draft" && <Alert type="info" showIcon title={t("detail.draft")} />}
      {task.status === "scheduled" && <Alert type="info" showIcon title={t("detail.scheduledFor", { at: zonedDateTime(task.scheduled_at, zone) })} />}
      {task.status === "submitting" && <Alert type="info" showIcon title={t("detail.submitting")} data-testid="submitting" />}
      {task.status === "publishing" && manager && <Alert type="success" showIcon title={t("detail.publishing")} />}
      {task.status === "failed" && (
        <Alert
          type="error"
          showIcon
          title={t("detail.failed")}
          description={refusal.errcode ? t("detail.errcode", { code: refusal.errcode, message: refusal.errmsg ?? "" }) : undefined}
          data-testid="task-error"
        />
      )}
      <Invalid task={task} />
      <Row gutter={[16, 16]}>
        <Col xs={24} lg={14}>
          <Card size="small">
            <Descriptions
              size="small"
              column={1}
              items={[
                { key: "scheduled", label: t("detail.scheduled"), children: task.scheduled_at ? zonedDateTime(task.scheduled_at, zone) : t("detail.immediately") },
                { key: "submitted", label: t("detail.submitted"), children: dateTime(task.submitted_at) },
                { key: "created", label: t("detail.createdBy"), children: `${actorName(task.created_by, t) ?? "—"} · ${dateTime(task.created_at)}` },
                ...(task.cancelled_at ? [{ key: "cancelled", label: t("detail.cancelledAt"), children: dateTime(task.cancelled_at) }] : []),
              ]}
            />
          </Card>
        </Col>
        <Col xs={24} lg={10}>
          <MomentPreview member={task.staff[0]?.name || t("preview.sampleMember")} text={task.text} attachments={task.attachments_preview.map((a) => (a.deleted ? null : a))} />
        </Col>
      </Row>
      {task.moment !== null ? (
        <MomentDetail momentId={task.moment.id} taskId={task.id} remindable={task.can_remind} />
      ) : (
        <Typography.Paragraph type="secondary">{t("detail.noMomentYet")}</Typography.Paragraph>
      )}
    </Space>
  );
}

export default function MomentTaskPage() {
  const { t } = useTranslation("moments");
  const params = useParams();
  const task = useTask(Number(params.id));
  return (
    <div>
      <Space style={{ marginBottom: 8 }}>
        <Link to="/moments">
          <ArrowLeftOutlined /> {t("list.title")}
        </Link>
      </Space>
      {task.isPending ? <Loading rows={10} /> : task.isError ? <ErrorState error={task.error} onRetry={() => void task.refetch()} /> : <TaskView task={task.data} />}
    </div>
  );
}
