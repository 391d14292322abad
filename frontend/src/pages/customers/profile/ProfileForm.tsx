// The customer's profile fields (the tenant's own: birthday, city, budget…), a form by field kind.
// Anyone who can see the customer may edit it (a sales member: their own customers; the API
// scopes it). Only what changed is sent; a cleared field is removed (null).
import "./strings";

import { useMutation, useQueryClient } from "@tanstack/react-query";
import { App, Button, Card, Descriptions, Form, Input, InputNumber, Select, Space, Tag, Typography } from "antd";
import { Suspense, lazy, useState } from "react";
import { useTranslation } from "react-i18next";

import { ApiError } from "../../../api/client";
import { useSession } from "../../../auth";
import { EmptyState, ErrorState, Loading, errorMessage } from "../../../components/states";
import { type ContactDetail, type Profile, type ProfileField, type ProfileValue, keys, useProfileFields, valueApi } from "../api";
import { NS } from "./strings";

const DateInput = lazy(() => import("../DateInput"));

type FormValue = string | number | string[] | null | undefined;

/** A form value as the API stores it; null for "no value" (removes the key). */
export function toProfileValue(field: Pick<ProfileField, "kind">, value: FormValue): ProfileValue | null {
  if (value === null || value === undefined) return null;
  switch (field.kind) {
    case "number": {
      const number = typeof value === "number" ? value : Number(value);
      return value === "" || !Number.isFinite(number) ? null : number;
    }
    case "multi_choice": {
      const list = (Array.isArray(value) ? value : [value]).map(String).filter(Boolean);
      return list.length ? Array.from(new Set(list)) : null;
    }
    default: {
      const text = String(value).trim();
      return text === "" ? null : text;
    }
  }
}

function same(a: ProfileValue | null | undefined, b: ProfileValue | null | undefined): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

/** The keys whose value changed: {key: new value or null}. */
export function profileChanges(
  fields: Pick<ProfileField, "key" | "kind">[],
  before: Profile,
  values: Record<string, FormValue>,
): Record<string, ProfileValue | null> {
  const out: Record<string, ProfileValue | null> = {};
  for (const field of fields) {
    const next = toProfileValue(field, values[field.key]);
    if (!same(before[field.key], next)) out[field.key] = next;
  }
  return out;
}

/** A stored value as text (archived fields, values of fields that are gone). */
function shown(value: ProfileValue | undefined): string {
  if (value === undefined || value === null) return "—";
  return Array.isArray(value) ? value.join(", ") : String(value);
}

/** The control for a field's kind; Form.Item gives it value and onChange, which it hands on. */
function FieldInput({
  field,
  id,
  value,
  onChange,
}: {
  field: ProfileField;
  id: string;
  value?: FormValue;
  onChange?: (value: FormValue) => void;
}) {
  switch (field.kind) {
    case "number":
      return <FieldNumber id={id} value={value as number | null | undefined} onChange={onChange} />;
    case "date":
      return <FieldDate id={id} value={value as string | undefined} onChange={onChange} />;
    case "choice":
      return <FieldChoice id={id} field={field} value={value as string | undefined} onChange={onChange} />;
    case "multi_choice":
      return <FieldChoice id={id} field={field} multiple value={value as string[] | undefined} onChange={onChange} />;
    default:
      return <FieldText id={id} value={value as string | undefined} onChange={onChange} />;
  }
}

// Each control takes value/onChange from its Form.Item.
function FieldText({ id, value, onChange }: { id: string; value?: string; onChange?: (v: string) => void }) {
  return <Input id={id} maxLength={200} allowClear value={value ?? ""} onChange={(e) => onChange?.(e.target.value)} />;
}

function FieldNumber({ id, value, onChange }: { id: string; value?: number | null; onChange?: (v: number | null) => void }) {
  return <InputNumber<number> id={id} style={{ width: "100%" }} min={-1e12} max={1e12} value={value ?? null} onChange={(v) => onChange?.(v ?? null)} />;
}

function FieldDate({ id, value, onChange }: { id: string; value?: string; onChange?: (v: string) => void }) {
  return (
    <Suspense fallback={<Input id={id} disabled value={value ?? ""} />}>
      <DateInput id={id} value={value} onChange={onChange} />
    </Suspense>
  );
}

function FieldChoice({
  id,
  field,
  multiple,
  value,
  onChange,
}: {
  id: string;
  field: ProfileField;
  multiple?: boolean;
  value?: string | string[];
  onChange?: (v: string | string[] | undefined) => void;
}) {
  // A value whose choice was removed stays, shown as it is (the API keeps it).
  const held = value === undefined ? [] : Array.isArray(value) ? value : [value];
  const options = [...field.choices, ...held.filter((v) => !field.choices.includes(v))].map((choice) => ({ value: choice, label: choice }));
  return (
    <Select
      id={id}
      mode={multiple ? "multiple" : undefined}
      allowClear
      showSearch={{ optionFilterProp: "label" }}
      options={options}
      value={value as string | string[] | undefined}
      onChange={(v) => onChange?.(v ?? undefined)}
    />
  );
}

function initialValues(fields: ProfileField[], profile: Profile): Record<string, FormValue> {
  return Object.fromEntries(fields.map((field) => [field.key, profile[field.key] ?? undefined]));
}

function ProfileEditor({ contact, fields }: { contact: ContactDetail; fields: ProfileField[] }) {
  const { t } = useTranslation(NS);
  const { message } = App.useApp();
  const queryClient = useQueryClient();
  const [form] = Form.useForm<Record<string, FormValue>>();
  const [dirty, setDirty] = useState(false);
  const profile = contact.profile ?? {};
  const active = fields.filter((field) => !field.archived);
  const save = useMutation({
    mutationFn: (changes: Record<string, ProfileValue | null>) => valueApi.saveProfile(contact.id, changes),
    onSuccess: (result) => {
      queryClient.setQueryData<ContactDetail>(keys.detail(contact.id), (old) => (old ? { ...old, profile: result.profile } : old));
      form.setFieldsValue(initialValues(active, result.profile));
      setDirty(false);
      void message.success(t("fields.saved"));
    },
    onError: (error) => {
      // "profile.<key>": that field's message; anything else as a message.
      const errors = error instanceof ApiError ? error.fieldErrors() : {};
      const onFields = Object.entries(errors)
        .filter(([path]) => path.startsWith("profile."))
        .map(([path, text]) => ({ name: path.slice("profile.".length), errors: [text] }))
        .filter((entry) => active.some((field) => field.key === entry.name));
      if (onFields.length) form.setFields(onFields);
      else void message.error(errorMessage(error));
    },
    // The timeline gains a profile_changed event; the list's filters may match differently.
    onSettled: () => queryClient.invalidateQueries({ queryKey: keys.contacts }),
  });
  const archivedHeld = Object.keys(profile).filter((key) => !active.some((field) => field.key === key));

  return (
    <Space orientation="vertical" style={{ width: "100%" }}>
      {active.length === 0 ? (
        <EmptyState description={t("fields.none")} />
      ) : (
        <Form
          form={form}
          layout="vertical"
          initialValues={initialValues(active, profile)}
          onValuesChange={() => setDirty(true)}
          onFinish={(values) => {
            const changes = profileChanges(active, profile, values);
            if (Object.keys(changes).length === 0) {
              setDirty(false);
              void message.info(t("fields.unchanged"));
              return;
            }
            save.mutate(changes);
          }}
          data-testid="profile-form"
        >
          <div style={{ display: "grid", gridTemplateColumns: "repeat(auto-fill, minmax(220px, 1fr))", columnGap: 16 }}>
            {active.map((field) => (
              <Form.Item
                key={field.key}
                name={field.key}
                htmlFor={`profile-${field.key}`}
                label={
                  <Space size={4}>
                    {field.label}
                    {field.yearly && <Tag style={{ marginInlineEnd: 0 }}>{t("fields.yearly")}</Tag>}
                  </Space>
                }
                rules={field.kind === "text" ? [{ max: 200, message: t("fields.tooLong") }] : undefined}
                style={{ marginBottom: 12 }}
              >
                <FieldInput field={field} id={`profile-${field.key}`} />
              </Form.Item>
            ))}
          </div>
          <Space>
            <Button type="primary" htmlType="submit" loading={save.isPending} disabled={!dirty}>
              {t("fields.save")}
            </Button>
            {dirty && (
              <Button
                onClick={() => {
                  form.resetFields();
                  setDirty(false);
                }}
              >
                {t("fields.reset")}
              </Button>
            )}
          </Space>
        </Form>
      )}
      {archivedHeld.length > 0 && (
        <div>
          <Typography.Text type="secondary">{t("fields.archivedHint")}</Typography.Text>
          <Descriptions
            size="small"
            column={1}
            title={t("fields.archived")}
            items={archivedHeld.map((key) => ({
              key,
              label: fields.find((field) => field.key === key)?.label ?? key,
              children: shown(profile[key]),
            }))}
          />
        </div>
      )}
    </Space>
  );
}

export default function ProfileForm({ contact }: { contact: ContactDetail }) {
  const { t } = useTranslation(NS);
  const { role } = useSession();
  const fields = useProfileFields();
  return (
    <Card size="small" title={t("fields.title")} data-testid="profile-fields">
      {fields.isPending ? (
        <Loading rows={3} />
      ) : fields.isError ? (
        <ErrorState error={fields.error} onRetry={() => void fields.refetch()} />
      ) : (
        <>
          <ProfileEditor contact={contact} fields={fields.data} />
          {role === "admin" && fields.data.filter((f) => !f.archived).length === 0 && (
            <Typography.Paragraph type="secondary" style={{ marginBottom: 0 }}>
              {t("fields.noneAdmin")}
            </Typography.Paragraph>
          )}
        </>
      )}
    </Card>
  );
}
