// Compose a Moment (new, or a draft or scheduled one edited): the text with its 2,000-character
// counter, pictures / a video / a link from the content library under WeCom's rule, who publishes it
// (members, departments) and which customers see it (tags) with the live figures, then publish now,
// schedule or save a draft — beside a WeChat-style preview of the post. Whatever the API refuses is
// shown on its field.
import "./strings";

import { ArrowLeftOutlined, DeleteOutlined, LinkOutlined, PictureOutlined, SaveOutlined, SendOutlined, VideoCameraOutlined } from "@ant-design/icons";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Alert, App, Button, Card, Col, Form, Input, List, Result, Row, Space, Statistic, Typography } from "antd";
import type { Dayjs } from "dayjs";
import dayjs from "dayjs";
import { Suspense, lazy, useCallback, useEffect, useMemo, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useParams } from "react-router";

import { canManage, useSession } from "../../auth";
import MaterialCard from "../../components/MaterialCard";
import MaterialPicker from "../../components/MaterialPicker";
import { ErrorState, Loading, errorMessage } from "../../components/states";
import { formatCount, isoToWall, wallToIso, zonedDateTime } from "../../lib/campaigns";
import { type MomentKind, addable, attachmentProblem, charCount } from "../../lib/moments";
import { DEFAULT_ZONE, useCampaignSettings } from "../campaigns/api";
import { useMaterials } from "../campaigns/materials";
import { useApiErrors } from "../channels/useApiErrors";
import { idempotencyKey, useTagGroups } from "../customers/api";
import { TagPicker } from "../customers/controls";
import { type PreviewBody, api, keys, usePreview, useTask } from "./api";
import MomentPreview from "./MomentPreview";
import { DepartmentSelect, StaffSelect } from "./pickers";
import type { Material, MomentTaskDetail, TaskInput } from "./types";

const ScheduleFields = lazy(() => import("./ScheduleFields"));

const PREVIEW_DEBOUNCE_MS = 400;
const EDITABLE = new Set(["draft", "scheduled"]);
const KIND_ICON: Record<MomentKind, React.ReactNode> = { image: <PictureOutlined />, video: <VideoCameraOutlined />, link: <LinkOutlined /> };

interface Values {
  text: string;
  attachments: { material_id: number }[];
  staff_ids: number[];
  department_ids: number[];
  tag_ids: number[];
  /** Not sent: publish now, or at `scheduled_at`. */
  when: "now" | "at";
  /** A wall-clock time in the tenant's zone. */
  scheduled_at: Dayjs | null;
}

function initialValues(task: MomentTaskDetail | undefined, timeZone: string): Values {
  const scheduled = task?.scheduled_at ? dayjs(isoToWall(task.scheduled_at, timeZone)) : null;
  return {
    text: task?.text ?? "",
    attachments: (task?.attachments ?? []).map((a) => ({ material_id: a.material_id })),
    staff_ids: task?.staff_ids ?? [],
    department_ids: task?.department_ids ?? [],
    tag_ids: task?.tag_ids ?? [],
    when: scheduled ? "at" : "now",
    scheduled_at: scheduled,
  };
}

function toInput(values: Values): TaskInput {
  return {
    text: values.text ?? "",
    attachments: (values.attachments ?? []).map((a) => ({ material_id: a.material_id })),
    staff_ids: values.staff_ids ?? [],
    department_ids: values.department_ids ?? [],
    tag_ids: values.tag_ids ?? [],
  };
}

function scheduledIso(values: Pick<Values, "when" | "scheduled_at">, timeZone: string): string | null {
  if (values.when !== "at" || !values.scheduled_at) return null;
  return wallToIso(values.scheduled_at.format("YYYY-MM-DDTHH:mm"), timeZone);
}

/** A value that settles: the latest one once it has not changed for `ms` (compared as JSON). */
function useSettled<T>(value: T, ms: number): T {
  const json = JSON.stringify(value);
  const [settled, setSettled] = useState(json);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(json), ms);
    return () => clearTimeout(timer);
  }, [json, ms]);
  return useMemo(() => JSON.parse(settled) as T, [settled]);
}

function CharCounter({ text }: { text: string }) {
  const { t, i18n } = useTranslation("moments");
  const count = charCount(text);
  const n = (v: number) => formatCount(v, i18n.language);
  return (
    <Typography.Text type={count.over ? "danger" : count.near ? "warning" : "secondary"} style={{ fontSize: 12 }} data-testid="char-counter">
      {count.over ? t("compose.charsOver", { chars: n(count.chars), max: n(count.max), over: n(-count.left) }) : t("compose.chars", { chars: n(count.chars), max: n(count.max) })}
    </Typography.Text>
  );
}

function Attachments({ materials, onMaterials }: { materials: (Material | null | undefined)[]; onMaterials: (picked: Material[]) => void }) {
  const { t } = useTranslation("moments");
  const { message } = App.useApp();
  const form = Form.useFormInstance<Values>();
  const attachments: { material_id: number }[] = Form.useWatch("attachments", form) ?? [];
  const [picking, setPicking] = useState<{ kind: MomentKind; max: number } | null>(null);
  const kinds = materials.map((m) => m?.kind ?? "");
  const loaded = materials.every((m) => m !== undefined);
  const offers = loaded ? addable(kinds.filter(Boolean)) : [];
  const problem = loaded ? attachmentProblem(kinds.filter(Boolean)) : null;
  return (
    <Form.List name="attachments">
      {(fields, { remove }, { errors }) => (
        <div>
          <Space style={{ width: "100%", justifyContent: "space-between", marginBottom: 8 }} wrap>
            <Typography.Text strong>{t("compose.attachments")}</Typography.Text>
            <Space wrap>
              {offers.map((offer) => (
                <Button key={offer.kind} icon={KIND_ICON[offer.kind]} onClick={() => setPicking(offer)} data-testid={`add-${offer.kind}`}>
                  {t(`compose.add.${offer.kind}`, { max: offer.max })}
                </Button>
              ))}
            </Space>
          </Space>
          <Typography.Paragraph type="secondary" style={{ fontSize: 12 }}>
            {t("compose.rule")}
          </Typography.Paragraph>
          {problem && <Alert type="error" showIcon style={{ marginBottom: 8 }} title={t(`compose.problem.${problem}`)} />}
          {fields.length > 0 && (
            <List
              size="small"
              bordered
              dataSource={fields}
              renderItem={(field, index) => (
                <List.Item
                  key={field.key}
                  actions={[
                    <Button key="remove" size="small" type="text" danger icon={<DeleteOutlined />} aria-label={t("compose.remove")} onClick={() => remove(index)} />,
                  ]}
                >
                  <Form.Item name={[field.name, "material_id"]} style={{ marginBottom: 0 }}>
                    {materials[index] === undefined ? (
                      <Typography.Text type="secondary">{t("common:state.loading")}</Typography.Text>
                    ) : materials[index] === null ? (
                      <Typography.Text type="danger">{t("compose.missing")}</Typography.Text>
                    ) : (
                      <MaterialCard material={materials[index]} />
                    )}
                  </Form.Item>
                </List.Item>
              )}
            />
          )}
          <Form.ErrorList errors={errors} />
          <MaterialPicker
            open={picking !== null}
            max={picking?.max ?? 0}
            kinds={picking ? [picking.kind] : []}
            exclude={attachments.map((a) => a.material_id)}
            title={picking ? t(`compose.pick.${picking.kind}`) : undefined}
            onClose={() => setPicking(null)}
            onPick={(picked) => {
              // The picker offers one kind up to what is left; this keeps WeCom's rule whatever it returns.
              const next = [...kinds.filter(Boolean), ...picked.map((m) => m.kind)];
              const refused = attachmentProblem(next);
              if (refused) {
                void message.error(t(`compose.problem.${refused}`));
              } else {
                onMaterials(picked);
                form.setFieldValue("attachments", [...attachments, ...picked.map((m) => ({ material_id: m.id }))]);
              }
              setPicking(null);
            }}
          />
        </div>
      )}
    </Form.List>
  );
}

function Compose({ task, timeZone }: { task?: MomentTaskDetail; timeZone: string }) {
  const { t, i18n } = useTranslation("moments");
  const { message, modal } = App.useApp();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [form] = Form.useForm<Values>();
  const errors = useApiErrors(form);
  const initial = useMemo(() => initialValues(task, timeZone), [task, timeZone]);
  const [known, setKnown] = useState<Map<number, Material>>(() => new Map());
  const [names, setNames] = useState<Map<number, string>>(() => new Map((task?.staff ?? []).map((s) => [s.id, s.name || s.userid])));
  const rememberNames = useCallback((staff: { id: number; name: string }[]) => {
    setNames((current) => {
      if (staff.every((s) => current.get(s.id) === s.name)) return current;
      const next = new Map(current);
      for (const s of staff) next.set(s.id, s.name);
      return next;
    });
  }, []);
  // A draft made here by a publish that then failed: the next attempt updates it instead of making another.
  const made = useRef<MomentTaskDetail | null>(null);
  const createKey = useRef(idempotencyKey());
  const n = (v: number) => formatCount(v, i18n.language);

  const text: string = Form.useWatch("text", form) ?? initial.text;
  const attachments: { material_id: number }[] = Form.useWatch("attachments", { form, preserve: true }) ?? initial.attachments;
  const staffIds: number[] = Form.useWatch("staff_ids", form) ?? initial.staff_ids;
  const departmentIds: number[] = Form.useWatch("department_ids", form) ?? initial.department_ids;
  const tagIds: number[] = Form.useWatch("tag_ids", form) ?? initial.tag_ids;
  const when = Form.useWatch("when", { form, preserve: true }) ?? initial.when;
  const materials = useMaterials(
    attachments.map((a) => a.material_id),
    known,
  );
  const body = useSettled<PreviewBody>({ staff_ids: staffIds, department_ids: departmentIds, tag_ids: tagIds }, PREVIEW_DEBOUNCE_MS);
  const preview = usePreview(body);
  const tagGroups = useTagGroups();
  const member = (staffIds.length ? names.get(staffIds[0]) : undefined) ?? t("preview.sampleMember");
  const onMaterials = useCallback((picked: Material[]) => {
    setKnown((map) => {
      const next = new Map(map);
      for (const m of picked) next.set(m.id, m);
      return next;
    });
  }, []);

  const save = useMutation({
    mutationFn: async ({ publish }: { publish: boolean }) => {
      const values = form.getFieldsValue(true) as Values;
      const existing = made.current ?? task;
      const at = scheduledIso(values, timeZone);
      // A scheduled task keeps its time until it is published now (the API refuses to clear it).
      const input = { ...toInput(values), ...(existing?.status === "scheduled" && at === null ? {} : { scheduled_at: at }) };
      let saved = existing ? await api.update(existing.id, input) : await api.create(input, createKey.current);
      made.current = saved;
      if (publish) saved = await api.publish(saved.id, at);
      return { saved, publish };
    },
    onSuccess: async ({ saved, publish }) => {
      queryClient.setQueryData(keys.task(saved.id), saved);
      await queryClient.invalidateQueries({ queryKey: keys.all, refetchType: "none" });
      if (publish) {
        void message.success(saved.status === "scheduled" ? t("compose.scheduled", { at: zonedDateTime(saved.scheduled_at, timeZone) }) : t("compose.published"));
        navigate(`/moments/tasks/${saved.id}`);
      } else {
        void message.success(t("compose.draftSaved"));
        if (!task) navigate(`/moments/tasks/${saved.id}/edit`, { replace: true });
      }
    },
    onError: (error) => {
      const placed = errors.show(error);
      const first = placed?.fields[0];
      if (first) requestAnimationFrame(() => form.scrollToField(first.name as Parameters<typeof form.scrollToField>[0], { block: "center" }));
    },
  });

  const remove = useMutation({
    mutationFn: (id: number) => api.remove(id),
    onSuccess: async () => {
      void message.success(t("compose.deleted"));
      await queryClient.invalidateQueries({ queryKey: keys.all });
      navigate("/moments");
    },
    onError: (error) => void message.error(errorMessage(error)),
  });

  const submit = (publish: boolean) => {
    errors.reset();
    form
      .validateFields()
      .then(() => {
        if (!publish) return save.mutate({ publish: false });
        const values = form.getFieldsValue(true) as Values;
        const at = scheduledIso(values, timeZone);
        modal.confirm({
          title: at ? t("compose.confirmSchedule", { at: zonedDateTime(at, timeZone) }) : t("compose.confirmPublish"),
          content: preview.data ? t("compose.confirmBody", { members: n(preview.data.members), customers: n(preview.data.customers) }) : undefined,
          okText: at ? t("compose.schedule") : t("compose.publish"),
          cancelText: t("common:action.cancel"),
          onOk: () => save.mutateAsync({ publish: true }).catch(() => undefined),
        });
      })
      .catch(({ errorFields }: { errorFields?: { name: (string | number)[] }[] }) => {
        const first = errorFields?.[0];
        if (first) requestAnimationFrame(() => form.scrollToField(first.name, { block: "center" }));
      });
  };

  return (
    <Form<Values> form={form} name="moment" layout="vertical" initialValues={initial} onValuesChange={() => errors.onValuesChange()} scrollToFirstError={false}>
      {errors.general.length > 0 && (
        <Alert type="error" showIcon style={{ marginBottom: 16 }} title={t("compose.refused")} description={errors.general.join(" ")} data-testid="form-error" />
      )}
      {task?.status === "scheduled" && (
        <Alert type="info" showIcon style={{ marginBottom: 16 }} title={t("compose.editingScheduled", { at: zonedDateTime(task.scheduled_at, timeZone) })} />
      )}
      <Row gutter={[24, 16]}>
        <Col xs={24} lg={14}>
          <Space orientation="vertical" size="middle" style={{ width: "100%" }}>
            <Card title={t("compose.content")}>
              <Form.Item
                name="text"
                label={t("compose.text")}
                extra={<CharCounter text={text} />}
                // "A text or attachments" is checked again when the attachments change.
                dependencies={["attachments"]}
                rules={[
                  {
                    validator: (_, value: string) =>
                      charCount(value).over ? Promise.reject(new Error(t("compose.tooLong", { max: charCount(value).max }))) : Promise.resolve(),
                  },
                  {
                    validator: (_, value: string) =>
                      (value ?? "").trim() || (form.getFieldValue("attachments") ?? []).length ? Promise.resolve() : Promise.reject(new Error(t("compose.emptyPost"))),
                  },
                ]}
              >
                <Input.TextArea rows={7} placeholder={t("compose.textPlaceholder")} />
              </Form.Item>
              <Attachments materials={materials} onMaterials={onMaterials} />
            </Card>
            <Card title={t("compose.audience")}>
              <Form.Item name="staff_ids" label={t("compose.members")} extra={t("compose.membersHint")}>
                <StaffSelect names={names} onNames={rememberNames} placeholder={t("compose.everyMember")} ariaLabel={t("compose.members")} />
              </Form.Item>
              <Form.Item name="department_ids" label={t("compose.departments")}>
                <DepartmentSelect placeholder={t("compose.noDepartment")} />
              </Form.Item>
              <Form.Item name="tag_ids" label={t("compose.tags")} extra={t("compose.tagsHint")}>
                <TagPicker groups={tagGroups.data} loading={tagGroups.isPending} placeholder={t("compose.allCustomers")} ariaLabel={t("compose.tags")} />
              </Form.Item>
              <Row gutter={16} data-testid="preview-figures">
                <Col span={12}>
                  <Statistic title={t("compose.previewMembers")} value={preview.data ? n(preview.data.members) : "—"} loading={preview.isPending} data-testid="preview-members" />
                </Col>
                <Col span={12}>
                  <Statistic title={t("compose.previewCustomers")} value={preview.data ? n(preview.data.customers) : "—"} loading={preview.isPending} data-testid="preview-customers" />
                </Col>
              </Row>
              {preview.isError && <Alert type="warning" showIcon style={{ marginTop: 8 }} title={errorMessage(preview.error)} />}
            </Card>
            <Card title={t("compose.schedulePart")}>
              <Suspense fallback={<Loading rows={2} />}>
                <ScheduleFields timeZone={timeZone} />
              </Suspense>
            </Card>
            <Space style={{ width: "100%", justifyContent: "space-between" }} wrap>
              <Space wrap>
                <Button type="primary" icon={<SendOutlined />} loading={save.isPending && save.variables?.publish} onClick={() => submit(true)} data-testid="publish-button">
                  {when === "at" ? t("compose.schedule") : t("compose.publish")}
                </Button>
                <Button icon={<SaveOutlined />} loading={save.isPending && !save.variables?.publish} onClick={() => submit(false)}>
                  {task?.status === "scheduled" ? t("compose.saveChanges") : t("compose.saveDraft")}
                </Button>
              </Space>
              {task?.status === "draft" && (
                <Button
                  danger
                  type="text"
                  icon={<DeleteOutlined />}
                  loading={remove.isPending}
                  onClick={() =>
                    modal.confirm({
                      title: t("compose.deleteTitle"),
                      okText: t("common:action.delete"),
                      okButtonProps: { danger: true },
                      cancelText: t("common:action.cancel"),
                      onOk: () => remove.mutateAsync(task.id).catch(() => undefined),
                    })
                  }
                >
                  {t("compose.deleteDraft")}
                </Button>
              )}
            </Space>
          </Space>
        </Col>
        <Col xs={24} lg={10}>
          <div style={{ position: "sticky", top: 24 }}>
            <Card title={t("preview.title")} size="small">
              <MomentPreview member={member} text={text} attachments={materials.filter((m): m is Material | null => m !== undefined)} />
              <Typography.Paragraph type="secondary" style={{ textAlign: "center", marginTop: 8, fontSize: 12 }}>
                {t("preview.note")}
              </Typography.Paragraph>
            </Card>
          </div>
        </Col>
      </Row>
    </Form>
  );
}

export default function MomentFormPage() {
  const { t } = useTranslation("moments");
  const { role } = useSession();
  const params = useParams();
  const id = params.id === undefined ? null : Number(params.id);
  const task = useTask(id ?? 0, id !== null);
  const settings = useCampaignSettings();
  const timeZone = settings.data?.time_zone ?? DEFAULT_ZONE;

  let body;
  if (settings.isPending) body = <Loading rows={10} />;
  else if (id === null) body = <Compose timeZone={timeZone} />;
  else if (task.isPending) body = <Loading rows={10} />;
  else if (task.isError) body = <ErrorState error={task.error} onRetry={() => void task.refetch()} />;
  else if (!EDITABLE.has(task.data.status) || !canManage(role)) {
    body = (
      <Result
        status="info"
        title={t("compose.notEditable")}
        extra={
          <Link to={`/moments/tasks/${task.data.id}`}>
            <Button type="primary">{t("compose.openTask")}</Button>
          </Link>
        }
      />
    );
  } else {
    // Keyed by the version: the form starts again from what was saved, not from a stale copy.
    body = <Compose key={`${task.data.id}-${task.data.updated_at}`} task={task.data} timeZone={timeZone} />;
  }

  return (
    <div>
      <Space style={{ marginBottom: 8 }}>
        <Link to={id === null ? "/moments" : `/moments/tasks/${id}`}>
          <ArrowLeftOutlined /> {id === null ? t("list.title") : t("detail.title")}
        </Link>
      </Space>
      <Typography.Title level={3}>{id === null ? t("compose.newTitle") : t("compose.editTitle")}</Typography.Title>
      {body}
    </div>
  );
}
