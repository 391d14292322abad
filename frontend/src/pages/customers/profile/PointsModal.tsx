// Grant or redeem a customer's points (admins and operators). Loaded when opened (React.lazy).
// One Idempotency-Key per attempt: a retry after a lost answer changes the balance once; an answer
// that refused it (a 4xx) starts a new attempt.
import "./strings";

import { useMutation, useQueryClient } from "@tanstack/react-query";
import { App, Form, Input, InputNumber, Modal, Typography } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";

import { ApiError } from "../../../api/client";
import { errorMessage } from "../../../components/states";
import { type ContactValue, idempotencyKey, keys, valueApi } from "../api";
import { NS } from "./strings";

export const POINTS_MAX = 1_000_000;

export type PointsAction = "grant" | "redeem";

export default function PointsModal({
  action,
  contactId,
  balance,
  onClose,
}: {
  action: PointsAction;
  contactId: number;
  balance: number;
  onClose: () => void;
}) {
  const { t } = useTranslation(NS);
  const { message } = App.useApp();
  const queryClient = useQueryClient();
  const [form] = Form.useForm<{ points: number; note?: string }>();
  const [key, setKey] = useState(idempotencyKey);
  const change = useMutation({
    mutationFn: (body: { points: number; note: string }) => valueApi.changePoints(action, { contact: contactId, ...body }, key),
    onSuccess: (result, body) => {
      const done = action === "grant" ? "points.modal.granted" : "points.modal.redeemed";
      void message.success(t(done, { points: body.points, balance: result.balance }));
      onClose();
    },
    onError: async (error, body) => {
      if (error instanceof ApiError && error.status < 500) setKey(idempotencyKey());
      const fields = error instanceof ApiError ? error.fieldErrors() : {};
      // A 409's code is the problem's type (scrm/api/errors.py Conflict).
      if (error instanceof ApiError && error.problem.type === "insufficient_points") {
        // Say the balance as it is now (someone may have redeemed since this page loaded).
        await queryClient.refetchQueries({ queryKey: keys.value(contactId) });
        const now = queryClient.getQueryData<ContactValue>(keys.value(contactId))?.points.balance ?? balance;
        form.setFields([{ name: "points", errors: [t("points.modal.insufficient", { balance: now, points: body.points })] }]);
      } else if (fields.points || fields.note) {
        form.setFields(
          (["points", "note"] as const).filter((name) => fields[name]).map((name) => ({ name, errors: [fields[name]] })),
        );
      } else {
        void message.error(errorMessage(error));
      }
    },
    // The balance, level, ledger and timeline all change (or, refused: show the balance as it is now).
    onSettled: () => queryClient.invalidateQueries({ queryKey: keys.detail(contactId) }),
  });
  return (
    <Modal
      open
      title={t(action === "grant" ? "points.modal.grantTitle" : "points.modal.redeemTitle")}
      okText={t(action === "grant" ? "points.grant" : "points.redeem")}
      cancelText={t("common:action.cancel")}
      onOk={() => form.submit()}
      confirmLoading={change.isPending}
      onCancel={onClose}
      destroyOnHidden
    >
      <Typography.Paragraph type="secondary" data-testid="points-modal-balance">
        {t("points.modal.balance", { balance })}
      </Typography.Paragraph>
      <Form
        form={form}
        layout="vertical"
        onFinish={(values) => change.mutate({ points: values.points, note: (values.note ?? "").trim() })}
      >
        <Form.Item
          name="points"
          label={t("points.modal.points")}
          rules={[{ required: true, type: "integer", min: 1, max: POINTS_MAX, message: t("points.modal.pointsRequired") }]}
        >
          <InputNumber<number> min={1} max={POINTS_MAX} precision={0} style={{ width: "100%" }} autoFocus />
        </Form.Item>
        <Form.Item name="note" label={t("points.modal.note")}>
          <Input maxLength={200} placeholder={t("points.modal.notePlaceholder")} />
        </Form.Item>
      </Form>
    </Modal>
  );
}
