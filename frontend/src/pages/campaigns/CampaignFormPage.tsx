// The mass message wizard (new, or a draft or scheduled one edited): audience with a live count →
// content with the library and a phone-style preview → the plan (who will and will not receive it and
// why) → when, then send. A draft can be saved at any step. Whatever the API refuses is shown on its
// field, on the step that has it.
import "./strings";

import { ArrowLeftOutlined, DeleteOutlined, SaveOutlined, SendOutlined } from "@ant-design/icons";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Alert, App, Button, Card, Form, Input, Result, Space, Steps, Typography } from "antd";
import { Suspense, lazy, useEffect, useMemo, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useParams, useSearchParams } from "react-router";

import { ErrorState, Loading, errorMessage } from "../../components/states";
import { formatCount, previewSentence, zoneLabel, zonedDateTime } from "../../lib/campaigns";
import { idempotencyKey } from "../customers/api";
import { pathKey } from "../channels/errors";
import { useApiErrors } from "../channels/useApiErrors";
import { DEFAULT_ZONE, api, keys, useCampaign, useCampaignSettings, usePreview, type PreviewBody } from "./api";
import AudienceStep, { type PreviewState } from "./AudienceStep";
import ContentStep from "./ContentStep";
import { STEPS, type Step, type Values, audienceFor, audienceReady, initialValues, scheduledIso, stepOf, toInput, toUpdate } from "./form";
import { useMaterials } from "./materials";
import { toFigures } from "./preview";
import type { CampaignDetail, Material } from "./types";

// Loaded after the first screen (the plan's tables, the date picker).
const PlanStep = lazy(() => import("./PlanStep"));
const ScheduleStep = lazy(() => import("./ScheduleStep"));

const PREVIEW_DEBOUNCE_MS = 400;
const EDITABLE = new Set(["draft", "scheduled"]);

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

function readStep(raw: string | null): number {
  const index = STEPS.indexOf(raw as Step);
  return index < 0 ? 0 : index;
}

function Wizard({ campaign, timeZone }: { campaign?: CampaignDetail; timeZone: string }) {
  const { t, i18n } = useTranslation("campaigns");
  const { message, modal } = App.useApp();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [params, setParams] = useSearchParams();
  const [form] = Form.useForm<Values>();
  const errors = useApiErrors(form);
  const [step, setStepState] = useState(() => readStep(params.get("step")));
  const [errorSteps, setErrorSteps] = useState<Set<Step>>(new Set());
  const [known, setKnown] = useState<Map<number, Material>>(() => new Map());
  // A draft made here by a send that then failed: the next attempt updates it instead of making another.
  const made = useRef<CampaignDetail | null>(null);
  const createKey = useRef(idempotencyKey());
  const initial = useMemo(() => initialValues(campaign, timeZone), [campaign, timeZone]);

  const setStep = (next: number) => {
    setStepState(next);
    const nextParams = new URLSearchParams(params);
    if (next === 0) nextParams.delete("step");
    else nextParams.set("step", STEPS[next]);
    setParams(nextParams, { replace: true });
  };

  // The live count and the plan: one query for the settled audience, shared by steps 1 and 3.
  const chatType = Form.useWatch("chat_type", form) ?? initial.chat_type;
  const mode = Form.useWatch("mode", form) ?? initial.mode;
  const audience = Form.useWatch("audience", { form, preserve: true }) ?? initial.audience;
  const shape = { chat_type: chatType, mode, audience };
  const ready = audienceReady(shape);
  // A scheduled send is planned for its time: the receive limit's period is the one it falls in.
  const whenValue = Form.useWatch("when", { form, preserve: true }) ?? initial.when;
  const scheduledValue = Form.useWatch("scheduled_at", { form, preserve: true }) ?? initial.scheduled_at;
  const plannedAt = scheduledIso({ when: whenValue, scheduled_at: scheduledValue }, timeZone);
  const body = useSettled<PreviewBody | null>(
    ready ? { chat_type: chatType, audience: audienceFor(shape), ...(plannedAt ? { scheduled_at: plannedAt } : {}) } : null,
    PREVIEW_DEBOUNCE_MS,
  );
  const previewQuery = usePreview(body);
  const preview: PreviewState = {
    data: previewQuery.data,
    isPending: previewQuery.isPending,
    isFetching: previewQuery.isFetching,
    isError: previewQuery.isError,
    error: previewQuery.error,
    idle: body === null,
  };

  const attachments: { material_id: number }[] = Form.useWatch("attachments", { form, preserve: true }) ?? initial.attachments;
  const materials = useMaterials(
    attachments.map((a) => a.material_id),
    known,
  );
  const sender = preview.data?.per_member[0]?.staff.name || t("phone.sampleMember");

  const current = (): CampaignDetail | undefined => made.current ?? campaign;

  const save = useMutation({
    mutationFn: async ({ send }: { send: boolean }) => {
      const values = form.getFieldsValue(true) as Values;
      // A draft keeps its planned time too (the preview's period); sending passes it again.
      const at = scheduledIso(values, timeZone);
      const existing = current();
      let saved = existing ? await api.update(existing.id, toUpdate(values, timeZone)) : await api.create(toInput(values, timeZone), createKey.current);
      made.current = saved;
      if (send) saved = await api.send(saved.id, at);
      return { saved, send };
    },
    onSuccess: async ({ saved, send }) => {
      queryClient.setQueryData(keys.detail(saved.id), saved);
      await queryClient.invalidateQueries({ queryKey: keys.lists });
      if (send) {
        void message.success(saved.status === "scheduled" ? t("form.scheduled", { name: saved.name, at: zonedDateTime(saved.scheduled_at, timeZone) }) : t("form.sent", { name: saved.name }));
        navigate(`/campaigns/${saved.id}`);
      } else {
        void message.success(saved.status === "scheduled" ? t("form.changesSaved", { name: saved.name }) : t("form.draftSaved", { name: saved.name }));
        if (!campaign) navigate(`/campaigns/${saved.id}/edit${step ? `?step=${STEPS[step]}` : ""}`, { replace: true });
      }
    },
    onError: (error) => {
      const placed = errors.show(error);
      const steps = new Set<Step>();
      for (const field of placed?.fields ?? []) {
        const owner = stepOf(pathKey(field.name));
        if (owner) steps.add(owner);
      }
      setErrorSteps(steps);
      const first = placed?.fields[0];
      if (!first) return;
      const owner = stepOf(pathKey(first.name));
      if (owner) setStep(STEPS.indexOf(owner));
      requestAnimationFrame(() => form.scrollToField(first.name as Parameters<typeof form.scrollToField>[0], { block: "center", behavior: "smooth" }));
    },
  });

  const remove = useMutation({
    mutationFn: (id: number) => api.remove(id),
    onSuccess: async () => {
      void message.success(t("form.deleted"));
      await queryClient.invalidateQueries({ queryKey: keys.campaigns });
      navigate("/campaigns");
    },
    onError: (error) => void message.error(errorMessage(error)),
  });

  const submit = (send: boolean) => {
    errors.reset();
    setErrorSteps(new Set());
    form
      .validateFields(send ? undefined : ["name"])
      .then(() => {
        if (!send) return save.mutate({ send: false });
        const values = form.getFieldsValue(true) as Values;
        const at = scheduledIso(values, timeZone);
        const figures = preview.data ? toFigures(preview.data) : null;
        modal.confirm({
          title: at ? t("form.confirmScheduleTitle", { at: zonedDateTime(at, timeZone) }) : t("form.confirmSendTitle"),
          content: (
            <Space orientation="vertical">
              {figures && <span>{previewSentence(figures, t, i18n.language)}</span>}
              <Typography.Text type="secondary">{t("form.confirmBody")}</Typography.Text>
            </Space>
          ),
          okText: at ? t("form.schedule") : t("form.sendNow"),
          cancelText: t("common:action.cancel"),
          onOk: () => save.mutateAsync({ send: true }).catch(() => undefined),
        });
      })
      .catch(({ errorFields }: { errorFields?: { name: (string | number)[] }[] }) => {
        const first = errorFields?.[0];
        if (!first) return;
        const owner = stepOf(pathKey(first.name));
        if (owner) setStep(STEPS.indexOf(owner));
        requestAnimationFrame(() => form.scrollToField(first.name, { block: "center" }));
      });
  };

  const when = whenValue;
  const last = step === STEPS.length - 1;
  const figures = preview.data ? toFigures(preview.data) : null;
  const summary = figures ? previewSentence(figures, t, i18n.language) : null;
  const general = errors.general;

  return (
    <Form<Values>
      form={form}
      name="campaign"
      layout="vertical"
      initialValues={initial}
      onValuesChange={() => {
        errors.onValuesChange();
        // A step stays marked while one of its fields still shows an error.
        setErrorSteps((marked) => {
          if (!marked.size) return marked;
          const still = new Set<Step>();
          for (const field of form.getFieldsError()) {
            const owner = field.errors.length ? stepOf(pathKey(field.name)) : null;
            if (owner) still.add(owner);
          }
          return still.size === marked.size ? marked : still;
        });
      }}
      scrollToFirstError={false}
      onFinish={() => submit(true)}
    >
      {general.length > 0 && (
        <Alert
          type="error"
          showIcon
          style={{ marginBottom: 16 }}
          title={t("form.refused")}
          description={general.length === 1 ? general[0] : <ul style={{ margin: 0, paddingLeft: 18 }}>{general.map((g) => <li key={g}>{g}</li>)}</ul>}
          data-testid="form-error"
        />
      )}
      <Card size="small" style={{ marginBottom: 16 }}>
        <Form.Item name="name" label={t("form.name")} rules={[{ required: true, whitespace: true, message: t("form.nameRequired") }]} style={{ marginBottom: 0, maxWidth: 520 }}>
          <Input maxLength={100} showCount placeholder={t("form.namePlaceholder")} />
        </Form.Item>
      </Card>
      <Steps
        current={step}
        onChange={setStep}
        style={{ marginBottom: 24 }}
        items={STEPS.map((key) => ({
          title: t(`steps.${key}`),
          status: errorSteps.has(key) ? "error" : undefined,
        }))}
      />
      {/* Every step stays mounted (hidden when not current): its fields must exist to take the API's errors. */}
      <div hidden={step !== 0}>
        <AudienceStep locked={Boolean(campaign)} preview={preview} />
      </div>
      <div hidden={step !== 1}>
        <ContentStep
          materials={materials}
          sender={sender}
          onMaterials={(picked) =>
            setKnown((map) => {
              const next = new Map(map);
              for (const m of picked) next.set(m.id, m);
              return next;
            })
          }
        />
      </div>
      <Suspense fallback={<Loading rows={4} />}>
        <div hidden={step !== 2}>{step === 2 && <PlanStep preview={preview} />}</div>
        <div hidden={step !== 3}>
          <ScheduleStep timeZone={timeZone} summary={summary} />
        </div>
      </Suspense>
      <Space style={{ marginTop: 24, width: "100%", justifyContent: "space-between" }} wrap>
        <Space wrap>
          <Button disabled={step === 0} onClick={() => setStep(step - 1)}>
            {t("form.back")}
          </Button>
          {!last && (
            <Button type="primary" onClick={() => setStep(step + 1)}>
              {t("form.next", { step: t(`steps.${STEPS[step + 1]}`) })}
            </Button>
          )}
          {last && (
            <Button type="primary" icon={<SendOutlined />} loading={save.isPending && save.variables?.send} onClick={() => submit(true)} data-testid="send-button">
              {when === "at" ? t("form.schedule") : t("form.sendNow")}
            </Button>
          )}
          <Button icon={<SaveOutlined />} loading={save.isPending && !save.variables?.send} onClick={() => submit(false)}>
            {campaign?.status === "scheduled" ? t("form.saveChanges") : t("form.saveDraft")}
          </Button>
        </Space>
        <Space wrap>
          {campaign?.can_delete && (
            <Button
              danger
              type="text"
              icon={<DeleteOutlined />}
              loading={remove.isPending}
              onClick={() =>
                modal.confirm({
                  title: t("form.deleteTitle", { name: campaign.name }),
                  content: t("form.deleteBody"),
                  okText: t("common:action.delete"),
                  okButtonProps: { danger: true },
                  cancelText: t("common:action.cancel"),
                  onOk: () => remove.mutateAsync(campaign.id).catch(() => undefined),
                })
              }
            >
              {t("form.deleteDraft")}
            </Button>
          )}
          <Typography.Text type="secondary" style={{ fontSize: 12 }}>
            {t("form.zone", { zone: zoneLabel(timeZone, Date.now()) })}
            {figures ? ` · ${t("form.willReceive", { n: formatCount(figures.recipients, i18n.language) })}` : ""}
          </Typography.Text>
        </Space>
      </Space>
    </Form>
  );
}

export default function CampaignFormPage() {
  const { t } = useTranslation("campaigns");
  const params = useParams();
  const id = params.id === undefined ? null : Number(params.id);
  const campaign = useCampaign(id ?? 0, id !== null);
  const settings = useCampaignSettings();
  const timeZone = settings.data?.time_zone ?? DEFAULT_ZONE;
  const title = id === null ? t("form.newTitle") : t("form.editTitle", { name: campaign.data?.name ?? "" });

  let body;
  if (settings.isPending) body = <Loading rows={10} />;
  else if (id === null) body = <Wizard timeZone={timeZone} />;
  else if (campaign.isPending) body = <Loading rows={10} />;
  else if (campaign.isError) body = <ErrorState error={campaign.error} onRetry={() => void campaign.refetch()} />;
  else if (!campaign.data.can_edit) {
    body = (
      <Result
        status="info"
        title={EDITABLE.has(campaign.data.status) ? t("form.notYours") : t("form.notEditable")}
        extra={
          <Link to={`/campaigns/${campaign.data.id}`}>
            <Button type="primary">{t("form.openResults")}</Button>
          </Link>
        }
      />
    );
  } else {
    // Keyed by the version: the form starts again from what was saved, not from a stale copy.
    body = <Wizard key={`${campaign.data.id}-${campaign.data.updated_at}`} campaign={campaign.data} timeZone={timeZone} />;
  }

  return (
    <div>
      <Space style={{ marginBottom: 8 }}>
        <Link to={id === null ? "/campaigns" : `/campaigns/${id}`}>
          <ArrowLeftOutlined /> {id === null ? t("list.title") : (campaign.data?.name ?? t("results.title"))}
        </Link>
      </Space>
      <Typography.Title level={3}>{title}</Typography.Title>
      {body}
    </div>
  );
}
