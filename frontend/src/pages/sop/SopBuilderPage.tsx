// The SOP builder (/sop/:id): the trigger, then the steps as a vertical flow of cards; a branch's
// two lists and a split's branches are drawn as side-by-side columns under their card. A step is added
// after any step or at the end of any list, dragged (HTML5 drag and drop) to another place in its
// list, and edited in a side panel. Saving sends the draft (saved even when invalid); the API's
// `draft_errors` mark the step cards and fields their paths name. Each card shows its live counts.
import "./strings";

import {
  ArrowLeftOutlined,
  BarChartOutlined,
  DeleteOutlined,
  HolderOutlined,
  PauseCircleOutlined,
  PlayCircleOutlined,
  PlusOutlined,
  SaveOutlined,
  SendOutlined,
  SettingOutlined,
  StopOutlined,
  ThunderboltOutlined,
  UserAddOutlined,
} from "@ant-design/icons";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Alert, App, Badge, Button, Card, Dropdown, Input, Modal, Popconfirm, Space, Tag, Tooltip, Typography } from "antd";
import { type DragEvent, Suspense, lazy, useEffect, useMemo, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useBlocker, useNavigate, useParams } from "react-router";

import { ApiError } from "../../api/client";
import { ErrorState, Loading, errorMessage } from "../../components/states";
import { idempotencyKey, useStages } from "../customers/api";
import { api, keys, useReport, useSop } from "./api";
import { Errors, KindTag, StatusTag, useStepName, useStepSummary } from "./bits";
import {
  type NewStepKind,
  type PlacedErrors,
  countsById,
  findStep,
  insertStep,
  listAt,
  moveStep,
  newStep,
  newStepKinds,
  normalizeErrors,
  pathOf,
  placeErrors,
  removeStep,
  settingsTab,
  updateStep,
} from "./definition";
import { type Definition, type DraftErrors, KIND_ACTIONS, type Kind, type SopDetail, type Step, type StepCounts } from "./types";

// The step panel and the settings drawer load when first opened: the flow shows without them.
const SettingsPanel = lazy(() => import("./SettingsPanel"));
const StepPanel = lazy(() => import("./StepPanel"));

interface Drag {
  list: string;
  index: number;
}

interface FlowContext {
  kind: Kind;
  definition: Definition;
  placed: PlacedErrors;
  counts: Map<string, StepCounts> | null;
  selected: string | null;
  drag: Drag | null;
  setDrag: (drag: Drag | null) => void;
  select: (id: string) => void;
  add: (list: string, index: number, what: NewStepKind) => void;
  move: (list: string, from: number, to: number) => void;
  stageName: (id: number) => string;
}

function AddGap({ ctx, list, index, end }: { ctx: FlowContext; list: string; index: number; end?: boolean }) {
  const { t } = useTranslation("sop");
  const [over, setOver] = useState(false);
  const droppable = ctx.drag !== null && ctx.drag.list === list && ctx.drag.index !== index && ctx.drag.index + 1 !== index;
  const kinds = newStepKinds(ctx.kind, KIND_ACTIONS[ctx.kind]);
  const flowKinds = kinds.filter((k) => ["wait", "wait_until", "wait_business_hours", "branch", "split"].includes(k));
  const actionKinds = kinds.filter((k) => !flowKinds.includes(k));
  const label = (k: NewStepKind) => (flowKinds.includes(k) ? t(`step.type.${k}`) : t(`step.action.${k}`));
  return (
    <div
      data-testid="add-gap"
      data-list={list}
      data-index={index}
      onDragOver={(e: DragEvent) => {
        if (!droppable) return;
        e.preventDefault();
        e.dataTransfer.dropEffect = "move";
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={(e: DragEvent) => {
        e.preventDefault();
        setOver(false);
        if (ctx.drag && droppable) ctx.move(list, ctx.drag.index, index);
        ctx.setDrag(null);
      }}
      style={{
        display: "flex",
        justifyContent: "center",
        alignItems: "center",
        // The same height either way: a drag must not move the places it can drop on.
        minHeight: 32,
        position: "relative",
        margin: "2px 0",
        borderRadius: 6,
        border: droppable ? `2px dashed ${over ? "#1677ff" : "#d9d9d9"}` : "2px solid transparent",
        background: over ? "#e6f4ff" : undefined,
      }}
    >
      {droppable ? (
        <Typography.Text type="secondary">{t("builder.moveHere")}</Typography.Text>
      ) : (
        <>
          <div style={{ position: "absolute", top: 0, bottom: 0, left: "calc(50% - 1px)", width: 2, background: "#d9d9d9" }} />
          <Dropdown
            trigger={["click"]}
            menu={{
              items: [
                { type: "group", key: "flow", label: t("builder.flowSteps"), children: flowKinds.map((k) => ({ key: k, label: label(k) })) },
                { type: "divider" },
                { type: "group", key: "actions", label: t("step.type.action"), children: actionKinds.map((k) => ({ key: k, label: label(k) })) },
              ],
              onClick: ({ key }) => ctx.add(list, index, key as NewStepKind),
            }}
          >
            <Button
              size="small"
              shape={end ? "round" : "circle"}
              icon={<PlusOutlined />}
              aria-label={end ? `${t("builder.addEnd")} (${list})` : `${t("builder.addHere")} (${list}.${index})`}
              style={{ zIndex: 1 }}
            >
              {end ? t("builder.addStep") : null}
            </Button>
          </Dropdown>
        </>
      )}
    </div>
  );
}

function Counts({ counts }: { counts: StepCounts | undefined }) {
  const { t } = useTranslation("sop");
  if (!counts) return null;
  const waiting = counts.waiting ?? 0;
  const done = counts.done ?? 0;
  const skipped = counts.skipped ?? 0;
  return (
    <Tooltip title={t("builder.live")}>
      <Space size={4} data-testid="step-counts">
        <Tag color="blue" data-testid="count-waiting">
          {t("builder.waiting")} {waiting}
        </Tag>
        <Tag color="green" data-testid="count-done">
          {t("builder.done")} {done}
        </Tag>
        <Tag color={skipped ? "orange" : "default"} data-testid="count-skipped">
          {t("builder.skipped")} {skipped}
        </Tag>
      </Space>
    </Tooltip>
  );
}

function StepCard({ ctx, step, list, index }: { ctx: FlowContext; step: Step; list: string; index: number }) {
  const { t } = useTranslation("sop");
  const stepName = useStepName();
  const summary = useStepSummary();
  const fields = ctx.placed.steps.get(step.id);
  const messages = fields ? [...fields.entries()].map(([field, m]) => (field ? `${field}: ${m.join(" ")}` : m.join(" "))) : [];
  const invalid = messages.length > 0;
  const selected = ctx.selected === step.id;
  return (
    <Card
      size="small"
      data-testid="step-card"
      data-step-id={step.id}
      data-invalid={invalid ? "true" : undefined}
      role="button"
      tabIndex={0}
      aria-label={`${stepName(step)}${step.title ? `: ${step.title}` : ""}`}
      aria-pressed={selected}
      draggable
      onDragStart={(e) => {
        e.stopPropagation();
        e.dataTransfer.effectAllowed = "move";
        e.dataTransfer.setData("text/plain", step.id);
        ctx.setDrag({ list, index });
      }}
      onDragEnd={() => ctx.setDrag(null)}
      onClick={(e) => {
        e.stopPropagation();
        ctx.select(step.id);
      }}
      onKeyDown={(e) => {
        if (e.target === e.currentTarget && (e.key === "Enter" || e.key === " ")) {
          e.preventDefault();
          ctx.select(step.id);
        }
      }}
      style={{
        width: 300,
        margin: "0 auto",
        cursor: "pointer",
        borderColor: invalid ? "#ff4d4f" : selected ? "#1677ff" : undefined,
        borderWidth: invalid || selected ? 2 : 1,
        background: invalid ? "#fff2f0" : undefined,
        position: "relative",
        zIndex: 1,
      }}
      styles={{ body: { padding: 10 } }}
    >
      <Space align="start" style={{ width: "100%", justifyContent: "space-between" }}>
        <Space size={6} align="start">
          <Tooltip title={t("builder.dragHint")}>
            <HolderOutlined style={{ cursor: "grab", color: "#999", marginTop: 4 }} aria-hidden />
          </Tooltip>
          <div>
            <Typography.Text type="secondary" style={{ fontSize: 12 }}>
              {stepName(step)}
            </Typography.Text>
            <div style={{ fontWeight: 500 }}>{step.title || summary(step, ctx.stageName)}</div>
            {step.title && (
              <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                {summary(step, ctx.stageName)}
              </Typography.Text>
            )}
          </div>
        </Space>
        {invalid && <Badge status="error" />}
      </Space>
      {ctx.counts && (
        <div style={{ marginTop: 6 }}>
          <Counts counts={ctx.counts.get(step.id)} />
        </div>
      )}
      <Errors messages={messages} />
    </Card>
  );
}

function Columns({ ctx, columns }: { ctx: FlowContext; columns: { key: string; title: React.ReactNode; list: string; steps: Step[] }[] }) {
  return (
    <div style={{ display: "flex", gap: 12, justifyContent: "center", margin: "4px 0", alignItems: "flex-start" }}>
      {columns.map((column) => (
        <div
          key={column.key}
          data-testid="flow-column"
          data-list={column.list}
          style={{ flex: "1 1 0", minWidth: 320, border: "1px dashed #d9d9d9", borderRadius: 8, padding: 8, background: "#fafafa" }}
        >
          <div style={{ textAlign: "center", marginBottom: 4 }}>{column.title}</div>
          <StepList ctx={ctx} list={column.list} steps={column.steps} />
        </div>
      ))}
    </div>
  );
}

function StepList({ ctx, list, steps }: { ctx: FlowContext; list: string; steps: Step[] }) {
  const { t } = useTranslation("sop");
  return (
    <div data-testid="step-list" data-list={list}>
      {steps.length === 0 && (
        <Typography.Text type="secondary" style={{ display: "block", textAlign: "center", fontSize: 12 }}>
          {t("builder.emptyList")}
        </Typography.Text>
      )}
      {steps.map((step, index) => {
        const path = `${list}.${index}`;
        return (
          <div key={`${step.id}-${index}`}>
            <AddGap ctx={ctx} list={list} index={index} />
            <StepCard ctx={ctx} step={step} list={list} index={index} />
            {step.type === "branch" && (
              <Columns
                ctx={ctx}
                columns={[
                  { key: "then", title: <Tag color="green">{t("builder.then")}</Tag>, list: `${path}.then`, steps: step.then ?? [] },
                  { key: "else", title: <Tag color="default">{t("builder.else")}</Tag>, list: `${path}.else`, steps: step.else ?? [] },
                ]}
              />
            )}
            {step.type === "split" && (
              <Columns
                ctx={ctx}
                columns={(step.branches ?? []).map((branch, b) => ({
                  key: `${b}`,
                  title: (
                    <Tag color="purple">
                      {branch.name || branch.id} · {branch.percent ?? 0}%
                    </Tag>
                  ),
                  list: `${path}.branches.${b}.steps`,
                  steps: branch.steps ?? [],
                }))}
              />
            )}
          </div>
        );
      })}
      <AddGap ctx={ctx} list={list} index={steps.length} end />
    </div>
  );
}

function EnrolModal({ sop, open, onClose }: { sop: SopDetail; open: boolean; onClose: () => void }) {
  const { t } = useTranslation("sop");
  const { message } = App.useApp();
  const queryClient = useQueryClient();
  const [text, setText] = useState("");
  const [key] = useState(idempotencyKey);
  const ids = text
    .split(/[\s,，]+/)
    .map((s) => Number(s))
    .filter((n) => Number.isInteger(n) && n > 0);
  const enrol = useMutation({
    mutationFn: () => api.enrol(sop.id, ids, key),
    onSuccess: (result) => {
      const skipped = Object.entries(result.skipped ?? {})
        .filter(([, n]) => n > 0)
        .map(([why, n]) => `${t(`reason.${why}`, { defaultValue: why })} ${n}`)
        .join(", ");
      void message.success(`${t("enrol.done", { count: result.enrolled })}${skipped ? ` · ${t("enrol.skipped", { text: skipped })}` : ""}`);
      void queryClient.invalidateQueries({ queryKey: keys.all });
      setText("");
      onClose();
    },
    onError: (error) => void message.error(errorMessage(error)),
  });
  return (
    <Modal
      open={open}
      title={t("enrol.title")}
      onCancel={onClose}
      okText={t("enrol.submit")}
      okButtonProps={{ disabled: ids.length === 0, loading: enrol.isPending }}
      onOk={() => enrol.mutate()}
      destroyOnHidden
    >
      <Typography.Paragraph type="secondary">{t("enrol.hint")}</Typography.Paragraph>
      <label htmlFor="enrol-ids">{t("enrol.ids")}</label>
      <Input.TextArea id="enrol-ids" rows={4} value={text} onChange={(e) => setText(e.target.value)} />
    </Modal>
  );
}

function Builder({ sop }: { sop: SopDetail }) {
  const { t } = useTranslation("sop");
  const { message, modal } = App.useApp();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const stages = useStages();
  const [definition, setDefinition] = useState<Definition>(() => sop.draft ?? {});
  const [name, setName] = useState(sop.name);
  const [dirty, setDirty] = useState(false);
  const [errors, setErrors] = useState<DraftErrors>(() => normalizeErrors(sop.draft_errors));
  const [selected, setSelected] = useState<string | null>(null);
  const [drag, setDrag] = useState<Drag | null>(null);
  const [settingsOpen, setSettingsOpen] = useState(false);
  const [settingsTabKey, setSettingsTabKey] = useState("trigger");
  const [enrolOpen, setEnrolOpen] = useState(false);
  const published = sop.status !== "draft";
  const report = useReport(sop.id, null, published);
  const counts = useMemo(() => (published && report.data ? countsById<StepCounts>(report.data.steps) : null), [published, report.data]);
  const placed = useMemo(() => placeErrors(definition, errors), [definition, errors]);
  const errorCount = Object.keys(errors).length;

  // Leaving with unsaved changes asks first: a reload or closing the tab, and the dashboard's own links.
  // A ref, so a navigation right after a save (same tick) sees it saved.
  const dirtyRef = useRef(false);
  dirtyRef.current = dirty;
  useEffect(() => {
    if (!dirty) return;
    const warn = (e: BeforeUnloadEvent) => e.preventDefault();
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [dirty]);
  const blocker = useBlocker(({ currentLocation, nextLocation }) => dirtyRef.current && currentLocation.pathname !== nextLocation.pathname);
  const blockerRef = useRef(blocker);
  blockerRef.current = blocker;
  useEffect(() => {
    if (blocker.state !== "blocked") return;
    modal.confirm({
      title: t("builder.leaveConfirm"),
      okText: t("common:action.confirm"),
      cancelText: t("common:action.cancel"),
      onOk: () => blockerRef.current.proceed?.(),
      onCancel: () => blockerRef.current.reset?.(),
    });
  }, [blocker.state, modal, t]);

  const change = (next: Definition) => {
    setDefinition(next);
    setDirty(true);
  };

  const refresh = () => void queryClient.invalidateQueries({ queryKey: keys.all });

  const save = useMutation({
    mutationFn: () => api.update(sop.id, { name, draft: definition }),
    onSuccess: (saved) => {
      const found = normalizeErrors(saved.draft_errors);
      setErrors(found);
      setDirty(false);
      queryClient.setQueryData(keys.detail(sop.id), saved);
      void queryClient.invalidateQueries({ queryKey: ["sop", "list"] });
      const count = Object.keys(found).length;
      if (count) void message.warning(t("builder.savedWithErrors", { count }));
      else void message.success(t("builder.saved"));
    },
    onError: (error) => {
      if (error instanceof ApiError && error.status === 400) setErrors(normalizeErrors(error.problem.errors, "draft."));
      void message.error(errorMessage(error));
    },
  });

  const publish = useMutation({
    mutationFn: async () => {
      if (dirty) {
        const saved = await api.update(sop.id, { name, draft: definition });
        setDirty(false);
        const found = normalizeErrors(saved.draft_errors);
        setErrors(found);
      }
      return api.publish(sop.id);
    },
    onSuccess: () => {
      setErrors({});
      void message.success(t("builder.published"));
      refresh();
    },
    onError: (error) => {
      if (error instanceof ApiError && error.status === 400 && error.problem.errors.some((e) => e.path)) {
        const found = normalizeErrors(
          error.problem.errors.filter((e) => e.path),
          "draft.",
        );
        setErrors(found);
        void message.error(t("builder.publishFailed"));
      } else void message.error(errorMessage(error));
    },
  });

  const lifecycle = useMutation({
    mutationFn: (action: "pause" | "resume" | "stop") => api[action](sop.id).then(() => action),
    onSuccess: (action) => {
      void message.success(t(action === "pause" ? "builder.paused" : action === "resume" ? "builder.resumed" : "builder.stopped"));
      refresh();
    },
    onError: (error) => void message.error(errorMessage(error)),
  });

  const remove = useMutation({
    mutationFn: () => api.remove(sop.id),
    onSuccess: () => {
      dirtyRef.current = false;
      void message.success(t("builder.deleted"));
      refresh();
      void navigate("/sop");
    },
    onError: (error) => void message.error(errorMessage(error)),
  });

  const stageName = (id: number) => stages.data?.find((s) => s.id === id)?.name ?? `#${id}`;

  const ctx: FlowContext = {
    kind: sop.kind,
    definition,
    placed,
    counts,
    selected,
    drag,
    setDrag,
    select: setSelected,
    add: (list, index, what) => {
      const step = newStep(definition, what);
      change(insertStep(definition, list, index, step));
      setSelected(step.id);
    },
    move: (list, from, to) => change(moveStep(definition, list, from, to)),
    stageName,
  };

  const selectedStep = selected ? findStep(definition, selected) : null;
  const selectedPath = selected ? pathOf(definition, selected) : null;
  const selectedPlace = selectedPath
    ? { list: selectedPath.slice(0, selectedPath.lastIndexOf(".")), index: Number(selectedPath.slice(selectedPath.lastIndexOf(".") + 1)) }
    : null;
  const settingsErrors = placed.settings;
  const triggerErrors = Object.keys(settingsErrors).length;

  const openSettings = (tab?: string) => {
    if (tab) setSettingsTabKey(tab);
    setSettingsOpen(true);
  };

  return (
    <div data-testid="sop-builder">
      <Space style={{ width: "100%", justifyContent: "space-between", marginBottom: 12 }} wrap>
        <Space wrap>
          <Link to="/sop">
            <ArrowLeftOutlined /> {t("builder.back")}
          </Link>
          <Input
            aria-label={t("builder.name")}
            value={name}
            maxLength={100}
            style={{ width: 260, fontWeight: 600 }}
            onChange={(e) => {
              setName(e.target.value);
              setDirty(true);
            }}
          />
          <KindTag kind={sop.kind} />
          <StatusTag status={sop.status} />
          <Typography.Text type="secondary" data-testid="live-version">
            {sop.live_version ? t("builder.version", { n: sop.live_version.number }) : t("builder.noVersion")}
          </Typography.Text>
          {published && <Typography.Text type="secondary">{t("list.active", { count: sop.active_enrolments ?? 0 })}</Typography.Text>}
          {dirty && <Tag color="gold">{t("builder.unsaved")}</Tag>}
        </Space>
        <Space wrap>
          <Button icon={<SettingOutlined />} onClick={() => openSettings()} danger={triggerErrors > 0}>
            {t("builder.settings")}
          </Button>
          {published && (
            <Button icon={<BarChartOutlined />} onClick={() => navigate(`/sop/${sop.id}/report`)}>
              {t("builder.report")}
            </Button>
          )}
          {sop.kind === "customer" && sop.status === "live" && (
            <Button icon={<UserAddOutlined />} onClick={() => setEnrolOpen(true)}>
              {t("builder.enrol")}
            </Button>
          )}
          <Button icon={<SaveOutlined />} loading={save.isPending} onClick={() => save.mutate()}>
            {t("builder.save")}
          </Button>
          <Popconfirm title={t("builder.publishConfirm")} onConfirm={() => publish.mutate()} okText={t("builder.publish")} cancelText={t("common:action.cancel")}>
            <Button type="primary" icon={<SendOutlined />} loading={publish.isPending}>
              {t("builder.publish")}
            </Button>
          </Popconfirm>
          {sop.status === "live" && (
            <Button icon={<PauseCircleOutlined />} loading={lifecycle.isPending} onClick={() => lifecycle.mutate("pause")}>
              {t("builder.pause")}
            </Button>
          )}
          {sop.status === "paused" && (
            <Button icon={<PlayCircleOutlined />} loading={lifecycle.isPending} onClick={() => lifecycle.mutate("resume")}>
              {t("builder.resume")}
            </Button>
          )}
          {(sop.status === "live" || sop.status === "paused") && (
            <Button
              danger
              icon={<StopOutlined />}
              onClick={() =>
                modal.confirm({
                  title: t("builder.stop"),
                  content: t("builder.stopConfirm"),
                  okText: t("builder.stop"),
                  okButtonProps: { danger: true },
                  cancelText: t("common:action.cancel"),
                  onOk: () => lifecycle.mutateAsync("stop"),
                })
              }
            >
              {t("builder.stop")}
            </Button>
          )}
          {sop.status === "draft" && !sop.version_count && (
            <Popconfirm title={t("builder.deleteConfirm")} onConfirm={() => remove.mutate()} okText={t("common:action.delete")} cancelText={t("common:action.cancel")}>
              <Button danger icon={<DeleteOutlined />}>
                {t("builder.delete")}
              </Button>
            </Popconfirm>
          )}
        </Space>
      </Space>

      {errorCount > 0 && (
        <Alert
          type="error"
          showIcon
          data-testid="draft-errors"
          title={`${t("builder.errorsTitle")} · ${t("builder.errors", { count: errorCount })}`}
          description={
            triggerErrors > 0 ? (
              <Space orientation="vertical" size={2}>
                {Object.entries(settingsErrors).map(([path, messages]) => (
                  <Typography.Link key={path} onClick={() => openSettings(settingsTab(path))}>
                    {path}: {messages.join(" ")}
                  </Typography.Link>
                ))}
              </Space>
            ) : undefined
          }
          style={{ marginBottom: 12 }}
        />
      )}

      <div style={{ display: "flex", gap: 16, alignItems: "flex-start" }}>
        <div style={{ flex: 1, minWidth: 0, overflowX: "auto", padding: "8px 0" }}>
          <div style={{ minWidth: "fit-content", margin: "0 auto" }}>
            <Card
              size="small"
              role="button"
              tabIndex={0}
              data-testid="trigger-card"
              aria-label={t("builder.trigger")}
              onClick={() => openSettings("trigger")}
              onKeyDown={(e) => {
                if (e.key === "Enter") openSettings("trigger");
              }}
              style={{ width: 300, margin: "0 auto", cursor: "pointer", borderColor: triggerErrors ? "#ff4d4f" : "#91caff", background: "#f0f7ff" }}
            >
              <Space>
                <ThunderboltOutlined />
                <div>
                  <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                    {t("builder.trigger")}
                  </Typography.Text>
                  <div style={{ fontWeight: 500 }}>
                    {definition.trigger?.type ? t(`settings.triggerTypes.${definition.trigger.type}`) : "—"}
                    {definition.trigger?.type === "event" && definition.trigger.event ? ` · ${t(`event.${definition.trigger.event}`)}` : ""}
                  </div>
                </div>
              </Space>
            </Card>
            <StepList ctx={ctx} list="steps" steps={definition.steps ?? []} />
            <div style={{ textAlign: "center" }}>
              <Tag>{t("builder.end")}</Tag>
            </div>
          </div>
        </div>
        {selectedStep && (
          <div style={{ width: 460, flex: "none", position: "sticky", top: 16, maxHeight: "calc(100vh - 32px)", overflowY: "auto" }}>
            <Suspense fallback={null}>
              <StepPanel
                step={selectedStep}
                errors={placed.steps.get(selectedStep.id)}
                onClose={() => setSelected(null)}
                onChange={(step) => {
                  if (!selected) return;
                  change(updateStep(definition, selected, step));
                  setSelected(step.id);
                }}
                onRemove={() => {
                  if (selected) change(removeStep(definition, selected));
                  setSelected(null);
                }}
                onMove={
                  selectedPlace
                    ? (delta) => change(moveStep(definition, selectedPlace.list, selectedPlace.index, selectedPlace.index + (delta > 0 ? 2 : -1)))
                    : null
                }
                canMove={{
                  up: selectedPlace !== null && selectedPlace.index > 0,
                  down: selectedPlace !== null && selectedPlace.index + 1 < listAt(definition, selectedPlace.list).length,
                }}
              />
            </Suspense>
          </div>
        )}
      </div>
      {settingsOpen && (
        <Suspense fallback={null}>
          <SettingsPanel
            open={settingsOpen}
            onClose={() => setSettingsOpen(false)}
            kind={sop.kind}
            definition={definition}
            onChange={change}
            errors={settingsErrors}
            tab={settingsTabKey}
            onTab={setSettingsTabKey}
          />
        </Suspense>
      )}
      {sop.kind === "customer" && <EnrolModal sop={sop} open={enrolOpen} onClose={() => setEnrolOpen(false)} />}
    </div>
  );
}

export default function SopBuilderPage() {
  const { id } = useParams();
  const sopId = Number(id);
  const sop = useSop(sopId);
  if (sop.isPending) return <Loading rows={8} />;
  if (sop.isError) return <ErrorState error={sop.error} onRetry={() => void sop.refetch()} />;
  // A new editor per SOP and per status change (publishing saves first), so its state starts from the server's.
  return <Builder key={`${sop.data.id}-${sop.data.status}`} sop={sop.data} />;
}
