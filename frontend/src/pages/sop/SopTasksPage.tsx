// "Today's SOP tasks" (/sop/tasks, 今日SOP任务): what the SOPs ask the signed-in member to send to
// which customer (admins and operators see everyone's), due today, overdue or all. The content is
// copied with one click; a task is marked done, postponed (to a time, with a reason) or skipped (a
// reason is required). The WeCom reminder's link opens this page.
import "./strings";

import { CheckOutlined, ClockCircleOutlined, CopyOutlined, PaperClipOutlined, StepForwardOutlined } from "@ant-design/icons";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { App, Avatar, Button, DatePicker, Form, Input, Modal, Segmented, Select, Space, Table, Tag, Tooltip, Typography } from "antd";
import dayjs, { type Dayjs } from "dayjs";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useSearchParams } from "react-router";

import { useSession } from "../../auth";
import { EmptyState, ErrorState, errorMessage } from "../../components/states";
import { dateTime } from "../../lib/format";
import { useMaterialsByIds } from "../library/api";
import { PAGE_SIZE, api, keys, pagerTotal, useSopTasks } from "./api";
import { type Attachment, DUES, type Due, type SopTaskRow, TASK_STATUSES, type TaskStatus } from "./types";

const STATUS_COLOR: Record<TaskStatus, string> = { todo: "blue", done: "green", postponed: "orange", skipped: "default" };

async function copyText(text: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
    return;
  } catch {
    // No clipboard API (plain http, or no permission): the old way, through a selected textarea.
  }
  const area = document.createElement("textarea");
  area.value = text;
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.appendChild(area);
  area.select();
  const ok = document.execCommand("copy");
  area.remove();
  if (!ok) throw new Error("copy failed");
}

/** The content's attachments: `{material_id}` references (the schema types them as free-form objects). */
const attachmentsOf = (task: SopTaskRow) => (task.content?.attachments ?? []) as unknown as Attachment[];

type Dialog = { kind: "postpone" | "skip"; task: SopTaskRow } | null;

function ReasonDialog({ dialog, onClose }: { dialog: Dialog; onClose: () => void }) {
  const { t } = useTranslation("sop");
  const { message } = App.useApp();
  const queryClient = useQueryClient();
  const [form] = Form.useForm<{ until?: Dayjs; reason?: string }>();
  const act = useMutation({
    mutationFn: (values: { until?: Dayjs; reason?: string }) =>
      dialog?.kind === "postpone"
        ? api.taskPostpone(dialog.task.id, (values.until as Dayjs).toISOString(), values.reason?.trim() ?? "")
        : api.taskSkip(dialog!.task.id, values.reason?.trim() ?? ""),
    onSuccess: () => {
      void message.success(t(dialog?.kind === "postpone" ? "tasks.postponed" : "tasks.skippedDone"));
      void queryClient.invalidateQueries({ queryKey: keys.tasks });
      onClose();
    },
    onError: (error) => void message.error(errorMessage(error)),
  });
  const postpone = dialog?.kind === "postpone";
  return (
    <Modal
      open={dialog !== null}
      title={postpone ? t("tasks.postponeTitle") : t("tasks.skipTitle")}
      onCancel={onClose}
      okText={postpone ? t("tasks.postpone") : t("tasks.skip")}
      okButtonProps={{ loading: act.isPending }}
      onOk={() => form.submit()}
      destroyOnHidden
    >
      {dialog && (
        <Typography.Paragraph type="secondary">
          {dialog.task.contact?.name ?? dialog.task.group?.name ?? ""} · {dialog.task.title}
        </Typography.Paragraph>
      )}
      <Form
        form={form}
        layout="vertical"
        preserve={false}
        initialValues={postpone ? { until: dayjs().add(1, "day").hour(10).minute(0).second(0) } : {}}
        onFinish={(values) => act.mutate(values)}
      >
        {postpone && (
          <Form.Item name="until" label={t("tasks.until")} rules={[{ required: true, message: t("tasks.untilRequired") }]}>
            <DatePicker showTime={{ format: "HH:mm" }} format="YYYY-MM-DD HH:mm" disabledDate={(d) => d.isBefore(dayjs().startOf("day"))} />
          </Form.Item>
        )}
        <Form.Item
          name="reason"
          label={t("tasks.reason")}
          rules={postpone ? [] : [{ required: true, whitespace: true, message: t("tasks.reasonRequired") }]}
        >
          <Input.TextArea rows={3} maxLength={200} showCount />
        </Form.Item>
      </Form>
    </Modal>
  );
}

export default function SopTasksPage() {
  const { t } = useTranslation("sop");
  const { message } = App.useApp();
  const { role } = useSession();
  const queryClient = useQueryClient();
  const [params, setParams] = useSearchParams();
  const due: Due = (DUES as readonly string[]).includes(params.get("due") ?? "") ? (params.get("due") as Due) : "today";
  const rawStatus = params.get("status");
  const status: TaskStatus | null = rawStatus && (TASK_STATUSES as readonly string[]).includes(rawStatus) ? (rawStatus as TaskStatus) : null;
  const page = Math.max(1, Number(params.get("page")) || 1);
  const tasks = useSopTasks(due, status, page);
  const [dialog, setDialog] = useState<Dialog>(null);
  const body = tasks.data;
  const list = body?.results ?? [];
  const total = pagerTotal(page, body);
  const materials = useMaterialsByIds(list.flatMap((task) => attachmentsOf(task).map((a) => a.material_id)));

  const setView = (patch: Record<string, string | null>) => {
    const next = new URLSearchParams(params);
    for (const [key, value] of Object.entries(patch)) {
      if (value) next.set(key, value);
      else next.delete(key);
    }
    if (!("page" in patch)) next.delete("page");
    setParams(next);
  };

  const done = useMutation({
    mutationFn: (task: SopTaskRow) => api.taskDone(task.id),
    onSuccess: () => {
      void message.success(t("tasks.markedDone"));
      void queryClient.invalidateQueries({ queryKey: keys.tasks });
    },
    onError: (error) => void message.error(errorMessage(error)),
  });

  const copy = (text: string) =>
    copyText(text).then(
      () => void message.success(t("tasks.copied")),
      () => void message.error(t("tasks.copyFailed")),
    );

  const open = (task: SopTaskRow) => task.status === "todo" || task.status === "postponed";

  return (
    <div>
      <Space style={{ width: "100%", justifyContent: "space-between", marginBottom: 8 }} wrap>
        <Typography.Title level={3} style={{ margin: 0 }}>
          {t("tasks.title")}
        </Typography.Title>
        {role !== "sales" && <Link to="/sop">{t("list.title")}</Link>}
      </Space>
      <Typography.Paragraph type="secondary">{t("tasks.intro")}</Typography.Paragraph>
      <Space wrap style={{ marginBottom: 12 }}>
        <Segmented<Due>
          aria-label={t("tasks.dueAt")}
          value={due}
          options={DUES.map((d) => ({ value: d, label: t(`tasks.due.${d}`) }))}
          onChange={(value) => setView({ due: value === "today" ? null : value })}
        />
        <Select<TaskStatus | "">
          aria-label={t("tasks.allStatuses")}
          style={{ width: 160 }}
          value={status ?? ""}
          options={[{ value: "", label: t("tasks.allStatuses") }, ...TASK_STATUSES.map((s) => ({ value: s, label: t(`tasks.status.${s}`) }))]}
          onChange={(value) => setView({ status: value || null })}
        />
      </Space>
      {tasks.isError ? (
        <ErrorState error={tasks.error} onRetry={() => void tasks.refetch()} />
      ) : !tasks.isPending && list.length === 0 && page === 1 ? (
        <EmptyState description={t(`tasks.empty.${due}`)}>
          <Typography.Paragraph type="secondary">{t("tasks.emptyHint")}</Typography.Paragraph>
        </EmptyState>
      ) : (
        <Table<SopTaskRow>
          rowKey="id"
          loading={tasks.isFetching}
          dataSource={list}
          pagination={{
            current: page,
            pageSize: PAGE_SIZE,
            total,
            showSizeChanger: false,
            onChange: (p) => setView({ page: p > 1 ? String(p) : null }),
          }}
          onRow={(task) => ({ "data-testid": "sop-task", "data-task-id": task.id }) as React.HTMLAttributes<HTMLElement>}
          columns={[
            {
              title: `${t("tasks.customer")} / ${t("tasks.group")}`,
              key: "who",
              width: 180,
              render: (_, task) => {
                const who = task.contact ?? task.group;
                if (!who) return "—";
                const name = who.name || `#${who.id}`;
                const label = (
                  <Space size={6}>
                    <Avatar size="small" src={task.contact?.avatar || undefined} alt="">
                      {Array.from(name)[0]}
                    </Avatar>
                    <span>{name}</span>
                  </Space>
                );
                return task.contact ? <Link to={`/customers/${task.contact.id}`}>{label}</Link> : <Link to={`/groups/${who.id}`}>{label}</Link>;
              },
            },
            {
              title: t("tasks.content"),
              key: "content",
              render: (_, task) => {
                const text = task.content?.text ?? "";
                const attachments = attachmentsOf(task);
                return (
                  <div style={{ maxWidth: 520 }}>
                    <Typography.Text strong>{task.title}</Typography.Text>
                    <Typography.Paragraph style={{ whiteSpace: "pre-wrap", margin: "4px 0" }} data-testid="task-text">
                      {text}
                    </Typography.Paragraph>
                    {attachments.length > 0 && (
                      <Space wrap size={4} style={{ marginBottom: 4 }}>
                        {attachments.map((a) => (
                          <Tag key={a.material_id} icon={<PaperClipOutlined />}>
                            {materials.data?.[a.material_id]?.title ?? `#${a.material_id}`}
                          </Tag>
                        ))}
                      </Space>
                    )}
                    {text && (
                      <Button size="small" icon={<CopyOutlined />} onClick={() => void copy(text)} aria-label={`${t("tasks.copy")}: ${task.title}`}>
                        {t("tasks.copy")}
                      </Button>
                    )}
                  </div>
                );
              },
            },
            { title: t("tasks.sop"), key: "sop", width: 160, render: (_, task) => task.sop?.name ?? "—" },
            // Admins and operators see every member's tasks: whose each is.
            ...(role === "sales"
              ? []
              : [{ title: t("tasks.member"), key: "member", width: 120, render: (_: unknown, task: SopTaskRow) => task.staff?.name || task.staff?.userid || "—" }]),
            {
              title: t("tasks.dueAt"),
              key: "due",
              width: 150,
              render: (_, task) => {
                const late = open(task) && dayjs(task.due_at).isBefore(dayjs());
                return (
                  <Space orientation="vertical" size={0}>
                    <span>{dateTime(task.due_at)}</span>
                    {late && <Tag color="red">{t("tasks.overdue")}</Tag>}
                  </Space>
                );
              },
            },
            {
              title: t("list.status"),
              key: "status",
              width: 140,
              render: (_, task) => (
                <Space orientation="vertical" size={0}>
                  <Tag color={STATUS_COLOR[task.status]} data-testid="task-status">
                    {t(`tasks.status.${task.status}`)}
                  </Tag>
                  {task.done_via && (
                    <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                      {t(`tasks.doneVia.${task.done_via}`, { defaultValue: task.done_via })}
                    </Typography.Text>
                  )}
                  {task.reason && (
                    <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                      {task.reason}
                    </Typography.Text>
                  )}
                </Space>
              ),
            },
            {
              title: t("tasks.actions"),
              key: "actions",
              width: 260,
              render: (_, task) =>
                open(task) ? (
                  <Space wrap size={4}>
                    <Button
                      type="primary"
                      size="small"
                      icon={<CheckOutlined />}
                      loading={done.isPending && done.variables?.id === task.id}
                      onClick={() => done.mutate(task)}
                    >
                      {t("tasks.done")}
                    </Button>
                    <Tooltip title={t("tasks.postponeTitle")}>
                      <Button size="small" icon={<ClockCircleOutlined />} onClick={() => setDialog({ kind: "postpone", task })}>
                        {t("tasks.postpone")}
                      </Button>
                    </Tooltip>
                    <Button size="small" icon={<StepForwardOutlined />} onClick={() => setDialog({ kind: "skip", task })}>
                      {t("tasks.skip")}
                    </Button>
                  </Space>
                ) : (
                  "—"
                ),
            },
          ]}
        />
      )}
      <ReasonDialog dialog={dialog} onClose={() => setDialog(null)} />
    </div>
  );
}
