// An uploaded image's id as a form field: its thumbnail and an upload (or replace) button. The image
// is uploaded as soon as it is picked (POST /api/v1/media/); the form keeps only its id.
import "./strings";

import { UploadOutlined } from "@ant-design/icons";
import { useMutation } from "@tanstack/react-query";
import { App, Button, Space, Typography, Upload } from "antd";
import { useTranslation } from "react-i18next";

import { ApiError } from "../../api/client";
import { errorMessage } from "../../components/states";
import { api } from "./api";
import { mediaUrl } from "./welcome";

const IMAGE_TYPES = ["image/jpeg", "image/png"];
const IMAGE_MAX_BYTES = 10 * 1024 * 1024;

export function MediaField({ id, value, onChange, label }: { id?: string; value?: number; onChange?: (id: number) => void; label: string }) {
  const { t } = useTranslation("channels");
  const { message } = App.useApp();
  const upload = useMutation({
    mutationFn: (file: File) => api.upload(file),
    onSuccess: (asset) => onChange?.(asset.id),
    onError: (error) => {
      const field = error instanceof ApiError ? error.fieldErrors().file : undefined;
      void message.error(field ?? errorMessage(error));
    },
  });
  return (
    <Space align="center">
      {value ? (
        <img src={mediaUrl(value)} alt={label} style={{ width: 64, height: 64, objectFit: "cover", borderRadius: 4, border: "1px solid #f0f0f0" }} />
      ) : null}
      <Upload
        accept={IMAGE_TYPES.join(",")}
        showUploadList={false}
        beforeUpload={(file) => {
          // The API says the same; saying it here spares a 10 MB upload that would be refused.
          if (!IMAGE_TYPES.includes(file.type)) {
            void message.error(t("welcome.imageType"));
            return Upload.LIST_IGNORE;
          }
          if (file.size > IMAGE_MAX_BYTES) {
            void message.error(t("welcome.imageSize"));
            return Upload.LIST_IGNORE;
          }
          upload.mutate(file);
          return false;
        }}
      >
        <Button id={id} icon={<UploadOutlined />} loading={upload.isPending} aria-label={`${label}: ${value ? t("welcome.replaceImage") : t("welcome.uploadImage")}`}>
          {value ? t("welcome.replaceImage") : t("welcome.uploadImage")}
        </Button>
      </Upload>
      <Typography.Text type="secondary" style={{ fontSize: 12 }}>
        {t("welcome.imageHint")}
      </Typography.Text>
    </Space>
  );
}
