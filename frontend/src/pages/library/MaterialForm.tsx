// Create or edit a material that is written rather than uploaded — a text, a link card, a mini program
// card — and edit any material's title, folder and tags. A card's cover is an image of the library,
// picked with the material picker. The API's refusals land on their fields (`url`, `cover`...).
import "./strings";

import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Alert, App, Button, Form, Input, Modal, Select, Space, Typography } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";

import MaterialCard from "../../components/MaterialCard";
import MaterialPicker from "../../components/MaterialPicker";
import { useApiErrors } from "../channels/useApiErrors";
import { type CreateBody, type Material, type MaterialKind, api, keys, useFolders, useMaterialsByIds } from "./api";

export interface FormValues {
  title?: string;
  folder?: number | null;
  tags?: string[];
  text?: string;
  url?: string;
  description?: string;
  picture_url?: string;
  appid?: string;
  page?: string;
  cover?: number | null;
}

const KIND_FIELDS: Record<MaterialKind, (keyof FormValues)[]> = {
  text: ["text"],
  link: ["url", "description", "picture_url", "cover"],
  miniprogram: ["appid", "page", "cover"],
  image: [],
  video: [],
  file: [],
};

/** The fields sent for a kind (values as typed: the API trims and checks them). */
export function bodyFor(kind: MaterialKind, values: FormValues): Record<string, unknown> {
  const out: Record<string, unknown> = { title: values.title ?? "", folder: values.folder ?? null, tags: values.tags ?? [] };
  for (const field of KIND_FIELDS[kind]) {
    const value = values[field];
    if (field === "cover") {
      out.cover = value ?? null; // null: none (a link), or the API's "pick a cover" (a mini program)
    } else if (value !== undefined) {
      out[field] = value;
    }
  }
  return out;
}

const encoder = new TextEncoder();

/** The cover: an image of the library, by id, shown with a button to pick (or change) it. */
function CoverField({ value, onChange }: { value?: number | null; onChange?: (id: number | null) => void }) {
  const { t } = useTranslation("library");
  const [open, setOpen] = useState(false);
  const cover = useMaterialsByIds(value ? [value] : []);
  const material = value ? cover.data?.[value] : undefined;
  return (
    <Space orientation="vertical" style={{ width: "100%" }}>
      {material && <MaterialCard material={material} />}
      <Space>
        <Button onClick={() => setOpen(true)}>
          {value ? t("form.changeCover") : t("form.pickCover")}
        </Button>
        {value ? <Button onClick={() => onChange?.(null)}>{t("form.clearCover")}</Button> : null}
      </Space>
      <MaterialPicker
        open={open}
        onClose={() => setOpen(false)}
        kinds={["image"]}
        max={1}
        title={t("form.cover")}
        onPick={([picked]) => onChange?.(picked.id)}
      />
    </Space>
  );
}

export default function MaterialForm({
  kind,
  material,
  defaultFolder,
  onClose,
}: {
  kind: MaterialKind;
  /** Editing this one; creating a new one of `kind` otherwise. */
  material?: Material;
  defaultFolder?: number | null;
  onClose: () => void;
}) {
  const { t } = useTranslation("library");
  const { message } = App.useApp();
  const queryClient = useQueryClient();
  const [form] = Form.useForm<FormValues>();
  const errors = useApiErrors(form);
  const folders = useFolders();
  const text: string = Form.useWatch("text", form) ?? "";

  const save = useMutation({
    mutationFn: (values: FormValues) => {
      const body = bodyFor(kind, values);
      return material ? api.update(material.id, body) : api.create({ ...body, kind } as CreateBody);
    },
    onSuccess: async (saved) => {
      void message.success(material ? t("form.saved", { title: saved.title }) : t("form.created", { title: saved.title }));
      await queryClient.invalidateQueries({ queryKey: keys.materials });
      await queryClient.invalidateQueries({ queryKey: keys.folders });
      onClose();
    },
    onError: (error) => void errors.show(error),
  });

  const required = [{ required: true, whitespace: true, message: t("form.required") }];
  const initial: FormValues = material
    ? { ...material, folder: material.folder, tags: material.tags, cover: material.cover }
    : { folder: defaultFolder ?? null, tags: [], cover: null };
  const kindLabel = t(`kind.${kind}`);

  return (
    <Modal
      open
      onCancel={onClose}
      title={material ? t("form.editTitle") : t("form.newTitle", { kind: kindLabel })}
      okText={material ? t("form.save") : t("form.create")}
      cancelText={t("common:action.cancel")}
      confirmLoading={save.isPending}
      onOk={() => form.submit()}
      destroyOnHidden
      width={560}
    >
      <Form<FormValues>
        form={form}
        layout="vertical"
        name="material"
        initialValues={initial}
        onValuesChange={errors.onValuesChange}
        onFinish={(values) => {
          errors.reset();
          save.mutate(values);
        }}
      >
        {errors.general.length > 0 && <Alert type="error" showIcon style={{ marginBottom: 16 }} title={errors.general.join(" ")} />}
        <Form.Item
          name="title"
          label={t("form.title")}
          rules={kind === "link" || kind === "miniprogram" ? required : []}
          extra={kind === "link" || kind === "miniprogram" ? t("form.titleHint") : t("form.titleOptional")}
        >
          <Input maxLength={kind === "miniprogram" ? 64 : 128} />
        </Form.Item>
        {kind === "text" && (
          <Form.Item
            name="text"
            label={t("form.text")}
            rules={required}
            extra={t("form.bytes", { bytes: encoder.encode(text.trim()).length.toLocaleString(), max: (4000).toLocaleString() })}
          >
            <Input.TextArea rows={6} placeholder={t("form.textPlaceholder")} />
          </Form.Item>
        )}
        {kind === "link" && (
          <>
            <Form.Item name="url" label={t("form.url")} rules={required}>
              <Input inputMode="url" placeholder="https://" />
            </Form.Item>
            <Form.Item name="description" label={t("form.description")}>
              <Input.TextArea rows={2} maxLength={512} />
            </Form.Item>
            <Form.Item name="picture_url" label={t("form.pictureUrl")} extra={t("form.pictureUrlHint")}>
              <Input inputMode="url" placeholder="https://" />
            </Form.Item>
          </>
        )}
        {kind === "miniprogram" && (
          <>
            <Form.Item name="appid" label={t("form.appid")} rules={required} extra={t("form.appidHint")}>
              <Input placeholder="wx0123456789abcdef" />
            </Form.Item>
            <Form.Item name="page" label={t("form.page")} rules={required} extra={t("form.pageHint")}>
              <Input placeholder="pages/index.html" />
            </Form.Item>
          </>
        )}
        {(kind === "link" || kind === "miniprogram") && (
          <Form.Item
            name="cover"
            label={t("form.cover")}
            extra={t("form.coverHint")}
            rules={kind === "miniprogram" ? [{ required: true, message: t("form.required") }] : []}
          >
            <CoverField />
          </Form.Item>
        )}
        <Form.Item name="folder" label={t("form.folder")}>
          <Select
            allowClear
            placeholder={t("form.noFolder")}
            options={(folders.data ?? []).map((f) => ({ value: f.id, label: f.name }))}
          />
        </Form.Item>
        <Form.Item name="tags" label={t("form.tags")}>
          <Select mode="tags" placeholder={t("form.tagsPlaceholder")} tokenSeparators={[",", "，"]} maxCount={10} />
        </Form.Item>
        {material?.filename && (
          <Typography.Text type="secondary">
            {t("form.file")}: {material.filename}
          </Typography.Text>
        )}
      </Form>
    </Modal>
  );
}
