// A campaign's results: where it stands, the totals (members who confirmed, sent, not a friend, over
// the limit, failed, pending) with a progress bar, each member's task with a Remind button, and every
// recipient with their outcome (filtered by status and member, paged, exported as CSV). Managers
// cancel what is not sent and remind everyone who has not confirmed; sales see their own tasks only
// (the API scopes what they get).
import "./strings";

import { ArrowLeftOutlined, BellOutlined, DownloadOutlined, EditOutlined, ReloadOutlined, StopOutlined } from "@ant-design/icons";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Alert, App, Button, Card, Col, Collapse, Descriptions, Progress, Row, Select, Space, Statistic, Table, Tag, Tooltip, Typography } from "antd";
import type { ColumnsType } from "antd/es/table";
import { Suspense, lazy, useEffect, useRef } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useParams, useSearchParams } from "react-router";

import { canManage, useSession } from "../../auth";
import { Pager } from "../../components/Pager";
import { ErrorState, Loading, errorMessage } from "../../components/states";
import { actorName } from "../../lib/actor";
import { MAX_REMINDERS, campaignProgress, formatCount, previewSentence, remindState, zonedDateTime } from "../../lib/campaigns";
import { dateTime } from "../../lib/format";
import { LIVE_STATUSES, api, keys, useCampaign, useRecipients, useTasks, useTenantZone } from "./api";
import { Member, RecipientStatusTag, StatusTag, useCampaignLabels } from "./bits";
import { toFigures } from "./preview";
import { RECIPIENT_STATUSES, type RecipientView, exportUrl, readRecipients, writeRecipients } from "./params";
import type { CampaignDetail as Campaign, CampaignRecipient, CampaignTask, RemindResult, TaskError } from "./types";

/** A sales member's share of a campaign: the totals of their own tasks. */
function ownTotals(campaign: Campaign, tasks: CampaignTask[]): Campaign {
  const sum = (key: "recipients" | "sent" | "not_friend" | "over_limit" | "failed") => tasks.reduce((total, task) => total + task[key], 0);
  return {
    ...campaign,
    members: tasks.length,
    confirmed_members: tasks.filter((task) => task.confirmed_at).length,
    recipients: sum("recipients"),
    sent: sum("sent"),
    not_friend: sum("not_friend"),
    over_limit: sum("over_limit"),
    failed: sum("failed"),
  };
}

// The plan as sent opens on demand: its tables load then.
const PlanStep = lazy(() => import("./PlanStep"));

/** After "Refresh results": when to read the campaign again (WeCom's answers come in the background). */
const REFRESH_FOLLOW_UPS_MS = [1500, 4000, 10000];

function Totals({ campaign }: { campaign: Campaign }) {
  const { t, i18n } = useTranslation("campaigns");
  const n = (v: number) => formatCount(v, i18n.language);
  const progress = campaignProgress(campaign);
  const unit = campaign.chat_type === "group" ? "group" : "customer";
  const figures: { key: string; value: string; color?: string }[] = [
    { key: "confirmed", value: `${n(campaign.confirmed_members)} / ${n(campaign.members)}` },
    { key: "sent", value: n(campaign.sent), color: "#389e0d" },
    { key: "not_friend", value: n(campaign.not_friend), color: campaign.not_friend ? "#d46b08" : undefined },
    { key: "over_limit", value: n(campaign.over_limit), color: campaign.over_limit ? "#d48806" : undefined },
    { key: "failed", value: n(campaign.failed), color: campaign.failed ? "#cf1322" : undefined },
    { key: "pending", value: n(progress.pending) },
  ];
  return (
    <Card size="small" data-testid="totals">
      <Row gutter={[16, 16]}>
        {figures.map((figure) => (
          <Col key={figure.key} xs={12} md={8} xl={4}>
            <Statistic title={t(`results.total.${figure.key}`)} value={figure.value} styles={{ content: { color: figure.color } }} data-testid={`total-${figure.key}`} />
          </Col>
        ))}
      </Row>
      <div style={{ marginTop: 16 }}>
        <Typography.Text type="secondary" style={{ fontSize: 12 }}>
          {t(`results.progress.${unit}`, { done: n(progress.done), recipients: n(campaign.recipients), sent: n(campaign.sent) })}
        </Typography.Text>
        <Progress percent={progress.percent} success={{ percent: progress.sentPercent }} aria-label={t("results.progressLabel")} />
      </div>
    </Card>
  );
}

function RemindButton({ campaign, task, now }: { campaign: Campaign; task: CampaignTask; now: Date }) {
  const { t } = useTranslation("campaigns");
  const { message } = App.useApp();
  const queryClient = useQueryClient();
  const state = remindState(task.reminded_at, now);
  const remind = useMutation({
    mutationFn: () => api.remindTask(campaign.id, task.id),
    onSuccess: () => void message.success(t("results.reminded", { name: task.staff.name })),
    onError: (error) => void message.error(errorMessage(error)),
    onSettled: () => queryClient.invalidateQueries({ queryKey: keys.tasks(campaign.id) }),
  });
  if (task.confirmed_at || task.status !== "created") return null;
  // The API says whether a reminder is possible now; the reminders' times say until when it is not.
  const allowed = task.can_remind && state.allowed;
  const button = (
    <Button
      size="small"
      icon={<BellOutlined />}
      disabled={!allowed}
      loading={remind.isPending}
      aria-label={t("results.remindLabel", { name: task.staff.name })}
      onClick={() => remind.mutate()}
    >
      {t("results.remind")}
    </Button>
  );
  if (allowed) return button;
  return (
    <Tooltip title={state.nextAt ? t("results.remindLimit", { max: MAX_REMINDERS, at: dateTime(state.nextAt) }) : t("results.remindUnavailable")}>
      {/* A disabled button fires no events: the wrapper shows the tooltip. */}
      <span tabIndex={0} data-testid="remind-limited">
        {button}
      </span>
    </Tooltip>
  );
}

function TaskState({ task }: { task: CampaignTask }) {
  const { t } = useTranslation("campaigns");
  const labels = useCampaignLabels();
  if (task.confirmed_at) {
    return (
      <Tooltip title={dateTime(task.confirmed_at)}>
        <Tag color="green" tabIndex={0}>
          {t("results.confirmed")}
        </Tag>
      </Tooltip>
    );
  }
  if (task.status === "created") return <Tag color="processing">{t("results.waiting")}</Tag>;
  if (task.status === "failed") {
    const refusal = (task.error ?? {}) as TaskError;
    const error = refusal.errcode ? t("results.errcode", { code: refusal.errcode, message: refusal.hint || refusal.errmsg || "" }) : undefined;
    return (
      <Tooltip title={error}>
        <Tag color="red" tabIndex={0}>
          {labels.taskStatus(task.status)}
        </Tag>
      </Tooltip>
    );
  }
  return <Tag>{labels.taskStatus(task.status)}</Tag>;
}

function Tasks({ campaign, manager }: { campaign: Campaign; manager: boolean }) {
  const { t, i18n } = useTranslation("campaigns");
  const n = (v: number) => formatCount(v, i18n.language);
  const tasks = useTasks(campaign.id, LIVE_STATUSES.has(campaign.status));
  const now = new Date();
  const unit = campaign.chat_type === "group" ? "group" : "customer";
  const columns: ColumnsType<CampaignTask> = [
    { key: "member", title: t("plan.member"), render: (_, task) => <Member staff={task.staff} /> },
    { key: "recipients", title: t(`plan.recipients.${unit}`), align: "right", render: (_, task) => n(task.recipients) },
    { key: "state", title: t("results.taskState"), render: (_, task) => <TaskState task={task} /> },
    { key: "sent", title: t("results.total.sent"), align: "right", render: (_, task) => n(task.sent) },
    { key: "not_friend", title: t("results.total.not_friend"), align: "right", render: (_, task) => n(task.not_friend) },
    { key: "over_limit", title: t("results.total.over_limit"), align: "right", render: (_, task) => n(task.over_limit) },
    { key: "failed", title: t("results.total.failed"), align: "right", render: (_, task) => n(task.failed) },
  ];
  if (manager) {
    columns.push({
      key: "remind",
      title: t("results.reminders"),
      render: (_, task) => (
        <Space>
          <Typography.Text type="secondary" style={{ fontSize: 12 }}>
            {t("results.remindedCount", { count: remindState(task.reminded_at, now).recent })}
          </Typography.Text>
          <RemindButton campaign={campaign} task={task} now={now} />
        </Space>
      ),
    });
  }
  return (
    <Card size="small" title={manager ? t("results.members") : t("results.myTasks")} data-testid="tasks">
      {tasks.isPending ? (
        <Loading rows={3} />
      ) : tasks.isError ? (
        <ErrorState error={tasks.error} onRetry={() => void tasks.refetch()} />
      ) : (
        <Table<CampaignTask>
          rowKey="id"
          size="small"
          aria-label={t("results.members")}
          columns={columns}
          dataSource={tasks.data.results}
          pagination={tasks.data.results.length > 20 ? { pageSize: 20, showSizeChanger: false } : false}
          scroll={{ x: 900 }}
          locale={{ emptyText: campaign.status === "draft" || campaign.status === "scheduled" ? t("results.noTasksYet") : t("common:state.empty") }}
        />
      )}
    </Card>
  );
}

function Recipients({ campaign }: { campaign: Campaign }) {
  const { t } = useTranslation("campaigns");
  const labels = useCampaignLabels();
  const [params, setParams] = useSearchParams();
  const view = readRecipients(params);
  const setView = (next: RecipientView) => setParams(writeRecipients(next), { replace: true });
  const recipients = useRecipients(campaign.id, view);
  const tasks = useTasks(campaign.id, false);
  const members = new Map<number, string>();
  for (const task of tasks.data?.results ?? []) members.set(task.staff.id, task.staff.name || task.staff.userid);
  const group = campaign.chat_type === "group";

  const columns: ColumnsType<CampaignRecipient> = [
    {
      key: "recipient",
      title: group ? t("results.group") : t("results.customer"),
      render: (_, row) =>
        row.contact ? (
          <Link to={`/customers?contact=${row.contact.id}`}>{row.contact.name}</Link>
        ) : row.group ? (
          <Link to={`/groups/${row.group.id}`}>{row.group.name}</Link>
        ) : (
          <Typography.Text type="secondary">{row.target}</Typography.Text>
        ),
    },
    { key: "member", title: t("plan.member"), render: (_, row) => <Member staff={row.staff} /> },
    { key: "status", title: t("results.status"), render: (_, row) => <RecipientStatusTag status={row.status} /> },
    { key: "sent_at", title: t("results.sentAt"), render: (_, row) => dateTime(row.sent_at) },
  ];

  return (
    <Card
      size="small"
      title={group ? t("results.groups") : t("results.customers")}
      extra={
        <Button icon={<DownloadOutlined />} href={exportUrl(campaign.id, view)}>
          {t("results.export")}
        </Button>
      }
      data-testid="recipients"
    >
      <Space wrap style={{ marginBottom: 12 }}>
        <Select
          allowClear
          aria-label={t("results.status")}
          placeholder={t("results.anyStatus")}
          style={{ width: 200 }}
          value={view.status ?? undefined}
          options={RECIPIENT_STATUSES.map((status) => ({ value: status, label: labels.recipientStatus(status) }))}
          onChange={(status) => setView({ ...view, status: status ?? null, page: 1 })}
        />
        {members.size > 1 && (
          <Select
            allowClear
            showSearch={{ optionFilterProp: "label" }}
            aria-label={t("plan.member")}
            placeholder={t("results.anyMember")}
            style={{ width: 200 }}
            value={view.staff ?? undefined}
            options={[...members].map(([id, name]) => ({ value: id, label: name }))}
            onChange={(staff) => setView({ ...view, staff: staff ?? null, page: 1 })}
          />
        )}
      </Space>
      {recipients.isPending ? (
        <Loading rows={4} />
      ) : recipients.isError ? (
        <ErrorState error={recipients.error} onRetry={() => void recipients.refetch()} />
      ) : (
        <>
          <Table<CampaignRecipient>
            rowKey="id"
            size="small"
            aria-label={group ? t("results.groups") : t("results.customers")}
            columns={columns}
            dataSource={recipients.data.results}
            loading={recipients.isFetching}
            pagination={false}
            locale={{ emptyText: campaign.status === "draft" || campaign.status === "scheduled" ? t("results.noRecipientsYet") : t("common:state.empty") }}
          />
          {(view.page > 1 || recipients.data.next) && (
            <Pager
              page={view.page}
              hasNext={!!recipients.data.next}
              onPage={(page) => setView({ ...view, page })}
              pageSize={view.pageSize}
              onPageSize={(pageSize) => setView({ ...view, pageSize, page: 1 })}
              loading={recipients.isFetching}
            />
          )}
        </>
      )}
    </Card>
  );
}

function Results({ campaign }: { campaign: Campaign }) {
  const { t, i18n } = useTranslation("campaigns");
  const { role } = useSession();
  const manager = canManage(role);
  const labels = useCampaignLabels();
  const { message, modal } = App.useApp();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const zone = useTenantZone();
  const progress = campaignProgress(campaign);
  const unconfirmed = campaign.members - campaign.confirmed_members;
  // A sales member's figures are their own tasks' (the campaign's totals count everyone's).
  const ownTasks = useTasks(campaign.id, false, !manager);
  const own = !manager && ownTasks.data ? ownTotals(campaign, ownTasks.data.results) : null;

  const after = async (updated: Campaign) => {
    queryClient.setQueryData(keys.detail(campaign.id), updated);
    // Its tasks and recipients changed with it; the list is fetched again when next shown.
    await queryClient.invalidateQueries({ queryKey: keys.detail(campaign.id), predicate: (q) => q.queryKey.length > 3 });
    await queryClient.invalidateQueries({ queryKey: keys.campaigns, refetchType: "none" });
  };
  // WeCom's results are read in the background (202): the page reads them again as they arrive.
  const followUps = useRef<number[]>([]);
  useEffect(() => () => followUps.current.forEach((timer) => clearTimeout(timer)), []);
  const reload = () => queryClient.invalidateQueries({ queryKey: keys.detail(campaign.id) });
  const refresh = useMutation({
    mutationFn: () => api.refresh(campaign.id),
    onSuccess: async (updated) => {
      await after(updated);
      followUps.current = REFRESH_FOLLOW_UPS_MS.map((ms) => window.setTimeout(() => void reload(), ms));
      void message.success(t("results.refreshed"));
    },
    onError: (error) => void message.error(errorMessage(error)),
  });
  const cancel = useMutation({
    mutationFn: () => api.cancel(campaign.id),
    onSuccess: async (result) => {
      await after(result.campaign);
      if (result.errors.length) void message.warning(t("results.cancelPartly", { count: result.errors.length }));
      else void message.success(t("results.cancelled", { name: campaign.name }));
    },
    onError: (error) => void message.error(errorMessage(error)),
  });
  const remindAll = useMutation({
    mutationFn: () => api.remind(campaign.id),
    onSuccess: async (result: RemindResult) => {
      await queryClient.invalidateQueries({ queryKey: keys.tasks(campaign.id) });
      const atLimit = result.members_at_limit.length;
      if (result.members_reminded) void message.success(t("results.remindedAll", { count: result.members_reminded }));
      if (atLimit) void message.warning(t("results.remindAtLimit", { count: atLimit }));
      if (!result.members_reminded && !atLimit) void message.info(t("results.nobodyToRemind"));
    },
    onError: (error) => void message.error(errorMessage(error)),
  });

  // The API says what this user may do with it now (sales: nothing but look).
  const canCancel = campaign.can_cancel && campaign.status !== "draft" && (campaign.status !== "sent" || progress.pending > 0);
  const editable = campaign.can_edit;
  const dispatched = !["draft", "scheduled"].includes(campaign.status);

  return (
    <Space orientation="vertical" size="middle" style={{ width: "100%" }}>
      <Space style={{ width: "100%", justifyContent: "space-between" }} align="start" wrap>
        <Space align="center" wrap>
          <Typography.Title level={3} style={{ margin: 0 }}>
            {campaign.name}
          </Typography.Title>
          <StatusTag status={campaign.status} />
          <Tag>{labels.chatType(campaign.chat_type)}</Tag>
        </Space>
        <Space wrap>
          {dispatched && manager && (
            <Button icon={<ReloadOutlined />} loading={refresh.isPending} onClick={() => refresh.mutate()}>
              {t("results.refresh")}
            </Button>
          )}
          {!manager && (
            <Button icon={<ReloadOutlined />} onClick={() => void reload()}>
              {t("common:action.refresh")}
            </Button>
          )}
          {manager && campaign.status === "sent" && unconfirmed > 0 && (
            <Button icon={<BellOutlined />} loading={remindAll.isPending} onClick={() => remindAll.mutate()}>
              {t("results.remindAll", { count: unconfirmed })}
            </Button>
          )}
          {editable && (
            <Button icon={<EditOutlined />} onClick={() => navigate(`/campaigns/${campaign.id}/edit`)}>
              {campaign.status === "draft" ? t("results.continue") : t("common:action.edit")}
            </Button>
          )}
          {canCancel && (
            <Button
              danger
              icon={<StopOutlined />}
              loading={cancel.isPending}
              onClick={() =>
                modal.confirm({
                  title: t("results.cancelTitle", { name: campaign.name }),
                  content: campaign.status === "scheduled" ? t("results.cancelScheduled") : t("results.cancelBody"),
                  okText: t("results.cancelOk"),
                  okButtonProps: { danger: true },
                  cancelText: t("results.keep"),
                  onOk: () => cancel.mutateAsync().catch(() => undefined),
                })
              }
            >
              {t("results.cancel")}
            </Button>
          )}
        </Space>
      </Space>
      {campaign.status === "draft" && <Alert type="info" showIcon title={t("results.draft")} />}
      {campaign.status === "scheduled" && <Alert type="info" showIcon title={t("results.scheduledFor", { at: zonedDateTime(campaign.scheduled_at, zone) })} />}
      {campaign.status === "dispatching" && (
        <Alert
          type="info"
          showIcon
          title={t("results.dispatching")}
          description={campaign.dispatch && campaign.dispatch.total ? t("results.dispatchProgress", { done: campaign.dispatch.done, total: campaign.dispatch.total }) : undefined}
        />
      )}
      {campaign.status === "failed" && <Alert type="error" showIcon title={t("results.failed")} />}
      {campaign.status === "sent" && manager && unconfirmed > 0 && (
        <Alert type="warning" showIcon title={t("results.waitingMembers", { count: unconfirmed, n: formatCount(unconfirmed, i18n.language) })} description={t("results.waitingHint")} />
      )}
      {campaign.status === "sent" && own && own.members > own.confirmed_members && (
        <Alert type="warning" showIcon title={t("results.yourTurn")} description={t("results.yourTurnHint")} data-testid="your-turn" />
      )}
      <Card size="small">
        <Descriptions
          size="small"
          column={{ xs: 1, md: 2, xl: 4 }}
          items={[
            { key: "scheduled", label: t("results.scheduled"), children: campaign.scheduled_at ? zonedDateTime(campaign.scheduled_at, zone) : t("results.immediately") },
            { key: "dispatched", label: t("results.dispatched"), children: dateTime(campaign.dispatched_at) },
            { key: "polled", label: t("results.polled"), children: dateTime(campaign.last_polled_at) },
            { key: "created", label: t("results.createdBy"), children: `${actorName(campaign.created_by, t) ?? "—"} · ${dateTime(campaign.created_at)}` },
          ]}
        />
      </Card>
      {campaign.plan && (
        <Collapse
          size="small"
          items={[
            {
              key: "plan",
              label: (
                <span data-testid="frozen-plan">
                  {t("results.planWhenSent")} {previewSentence(toFigures(campaign.plan), t, i18n.language)}
                </span>
              ),
              children: (
                <Suspense fallback={<Loading rows={3} />}>
                  <PlanStep preview={{ data: campaign.plan, isPending: false, isFetching: false, isError: false, error: null, idle: false }} />
                </Suspense>
              ),
            },
          ]}
        />
      )}
      <Totals campaign={own ?? campaign} />
      <Tasks campaign={campaign} manager={manager} />
      <Recipients campaign={campaign} />
    </Space>
  );
}

export default function CampaignPage() {
  const { t } = useTranslation("campaigns");
  const params = useParams();
  const id = Number(params.id);
  const campaign = useCampaign(id);
  return (
    <div>
      <Space style={{ marginBottom: 8 }}>
        <Link to="/campaigns">
          <ArrowLeftOutlined /> {t("list.title")}
        </Link>
      </Space>
      {campaign.isPending ? (
        <Loading rows={10} />
      ) : campaign.isError ? (
        <ErrorState error={campaign.error} onRetry={() => void campaign.refetch()} />
      ) : (
        <Results campaign={campaign.data} />
      )}
    </div>
  );
}
