// A spec's parameters (Make's parameter definitions) as the spec form shows and sends them. Which value fits a
// parameter is the engine's rule (`spec_parameter_check`); here is only how each type is typed in and sent.

/** One parameter as the spec defines it. */
export type SpecParameter = {
  name: string;
  type: string;
  label: string;
  help: string | null;
  required: boolean;
  default: unknown;
  advanced: boolean;
  options: { label: string; value: unknown }[];
};

/** What a field holds while the user edits it. */
export type FieldValue = string | boolean | string[] | { key: string; value: string }[];

const KNOWN = ["text", "password", "email", "url", "number", "integer", "uinteger", "boolean", "select", "array", "collection"];

/** The definitions with a name, each with its type as the form knows it (anything else is text). */
export function specParameters(definitions: Array<Record<string, unknown>>): SpecParameter[] {
  return definitions.flatMap((d) => {
    if (typeof d.name !== "string" || d.name === "") return [];
    const type = typeof d.type === "string" && KNOWN.includes(d.type) ? d.type : d.type === "pkey" || d.type === "cert" ? "password" : "text";
    const options = Array.isArray(d.options)
      ? d.options.map((o) =>
          typeof o === "object" && o !== null && "value" in o
            ? { label: String((o as { label?: unknown }).label ?? (o as { value: unknown }).value), value: (o as { value: unknown }).value }
            : { label: String(o), value: o },
        )
      : [];
    return [
      {
        name: d.name,
        type,
        label: typeof d.label === "string" && d.label.trim() ? d.label : d.name,
        help: typeof d.help === "string" && d.help.trim() ? d.help : null,
        required: d.required === true,
        default: d.default ?? null,
        advanced: d.advanced === true,
        options,
      },
    ];
  });
}

/** The field's starting value: the spec's default, in the field's form. */
export function startValue(p: SpecParameter): FieldValue {
  const d = p.default;
  switch (p.type) {
    case "boolean":
      return d === true || d === "true";
    case "array":
      return Array.isArray(d) ? d.map(String) : [];
    case "collection":
      return d && typeof d === "object" && !Array.isArray(d)
        ? Object.entries(d as Record<string, unknown>).map(([key, value]) => ({ key, value: String(value) }))
        : [];
    case "select": {
      const index = p.options.findIndex((o) => o.value === d);
      return index >= 0 ? String(index) : "";
    }
    default:
      return d === null || d === undefined ? "" : String(d);
  }
}

/** The value as it goes to the engine; undefined when the field is empty (nothing to set). */
export function valueToSend(p: SpecParameter, field: FieldValue): unknown {
  switch (p.type) {
    case "boolean":
      return field === true;
    case "array": {
      const items = (field as string[]).map((s) => s.trim()).filter((s) => s !== "");
      return items.length > 0 ? items : undefined;
    }
    case "collection": {
      const rows = (field as { key: string; value: string }[]).filter((r) => r.key.trim() !== "");
      return rows.length > 0 ? Object.fromEntries(rows.map((r) => [r.key.trim(), r.value])) : undefined;
    }
    case "select": {
      const option = p.options[Number.parseInt(field as string, 10)];
      return option === undefined || field === "" ? undefined : option.value;
    }
    case "number":
    case "integer":
    case "uinteger": {
      const text = (field as string).trim();
      if (text === "") return undefined;
      // A number as a number; anything else as typed, for the engine to explain.
      const number = Number(text);
      return Number.isFinite(number) ? number : text;
    }
    default: {
      const text = field as string;
      return text.trim() === "" ? undefined : p.type === "password" ? text : text.trim();
    }
  }
}

/** The scopes of a spec, in its order, with what each lets the app do. */
export function scopeChoices(scopeList: Record<string, string>, defaultScope: string[]): { scope: string; label: string }[] {
  const listed = Object.entries(scopeList).map(([scope, label]) => ({ scope, label: typeof label === "string" && label ? label : scope }));
  const extra = defaultScope.filter((s) => !(s in scopeList)).map((scope) => ({ scope, label: scope }));
  return [...listed, ...extra];
}

/** A parameter's value as the detail shows it. */
export function shownValue(p: SpecParameter | undefined, value: unknown): string {
  if (p?.type === "select") {
    const option = p.options.find((o) => o.value === value);
    if (option) return option.label;
  }
  if (typeof value === "boolean") return value ? "Yes" : "No";
  if (Array.isArray(value)) return value.map(String).join(", ");
  if (value && typeof value === "object") return Object.entries(value).map(([k, v]) => `${k}: ${String(v)}`).join(", ");
  return String(value ?? "");
}
