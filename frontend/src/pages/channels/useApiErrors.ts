// The API's validation errors on an Ant Design form: each on its field (errors.ts), above the form
// when no field shows it, and gone from a field as soon as its value changes (these fields have no
// rules of their own that would clear them) or the form is sent again.
import type { FormInstance } from "antd";
import { useRef, useState } from "react";

import { ApiError } from "../../api/client";
import { errorMessage } from "../../components/states";
import { type NamePath, type PlacedErrors, pathKey, placeErrors } from "./errors";

type Fields = Parameters<FormInstance["setFields"]>[0];

export function useApiErrors(form: FormInstance) {
  const [general, setGeneral] = useState<string[]>([]);
  // The fields showing an API error, with the value they had then.
  const shown = useRef(new Map<string, { name: NamePath; value: unknown }>());

  const clearFields = (keys: string[]) => {
    const fields = keys.map((key) => ({ name: shown.current.get(key)?.name ?? [], errors: [] as string[] }));
    keys.forEach((key) => shown.current.delete(key));
    if (fields.length) form.setFields(fields as Fields);
  };

  return {
    general,
    /** Before sending again: nothing stale stays on screen. */
    reset: () => {
      clearFields([...shown.current.keys()]);
      setGeneral([]);
    },
    /** Puts an error where it belongs; answers what was placed (null: no field error at all). */
    show: (error: unknown): PlacedErrors | null => {
      if (!(error instanceof ApiError) || !error.problem.errors.some((e) => e.path)) {
        setGeneral([errorMessage(error)]);
        return null;
      }
      // Every field the form has (lists included), so each message finds its place.
      const known = new Set(form.getFieldsError().map((field) => pathKey(field.name)));
      const placed = placeErrors(error.problem.errors, known);
      for (const field of placed.fields) {
        shown.current.set(pathKey(field.name), { name: field.name, value: form.getFieldValue(field.name) });
      }
      // The paths come from the API, not from the form's types.
      form.setFields(placed.fields as Fields);
      setGeneral(placed.general);
      return placed;
    },
    /** For the form's onValuesChange: a field that changed loses its API error. */
    onValuesChange: () => {
      const changed = [...shown.current.entries()]
        .filter(([, { name, value }]) => form.getFieldValue(name) !== value)
        .map(([key]) => key);
      clearFields(changed);
    },
  };
}
