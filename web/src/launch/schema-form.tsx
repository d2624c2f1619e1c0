import { useId, useMemo, useState, type FormEvent } from 'react';
import { GuardedButton } from '../ui/guarded-button.js';

/**
 * A form generated from a strategy's `parameters_schema`, defaults filled in. It covers what
 * the manifests use (strings, enums, numbers, booleans, arrays of scalars such as tickers) and
 * falls back to a JSON text box for anything else. No validation runs in the browser: the
 * server validates every submission and its field-level errors are shown on their fields.
 *
 * Why not RJSF: its ajv validator compiles schemas with `new Function`, which the server's
 * content security policy forbids; without it, RJSF would add ~100 KB of gzip to render the
 * same inputs with less control over their labels and error wiring.
 */

export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  minimum?: number;
  maximum?: number;
}

export type FieldErrors = Readonly<Record<string, readonly string[]>>;

interface Props {
  schema: JsonSchema;
  /** Values to start from (a cloned run's parameters); the schema's defaults fill the rest. */
  initial?: Record<string, unknown>;
  errors: FieldErrors;
  /** Errors that belong to no field of the form. */
  formError?: string;
  submitting: boolean;
  /** Why the signed-in role may not start runs (Run is disabled and says so). */
  cannotRun?: string;
  onSubmit(parameters: Record<string, unknown>): void;
}

type Drafts = Record<string, string | boolean>;

export default function SchemaForm({ schema, initial, errors, formError, submitting, cannotRun, onSubmit }: Props) {
  const properties = useMemo(() => Object.entries(schema.properties ?? {}), [schema]);
  const [drafts, setDrafts] = useState<Drafts>(() =>
    Object.fromEntries(properties.map(([name, field]) => [name, toDraft(field, initial && name in initial ? initial[name] : field.default)])),
  );
  const [parseErrors, setParseErrors] = useState<Record<string, string>>({});
  const formId = useId();

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const parameters: Record<string, unknown> = {};
    const problems: Record<string, string> = {};
    for (const [name, field] of properties) {
      const draft = drafts[name];
      if (draft === undefined) continue;
      try {
        const value = fromDraft(field, draft);
        if (value !== undefined) parameters[name] = value;
      } catch (error) {
        problems[name] = (error as Error).message;
      }
    }
    setParseErrors(problems);
    if (Object.keys(problems).length === 0) onSubmit(parameters);
  };

  return (
    <form className="schema-form" onSubmit={submit} noValidate aria-label="Parameters">
      {formError && (
        <p role="alert" className="form-error">
          {formError}
        </p>
      )}
      {properties.length === 0 && <p className="muted">This strategy takes no parameters.</p>}
      {properties.map(([name, field]) => {
        const id = `${formId}-${name}`;
        const messages = [...(parseErrors[name] ? [parseErrors[name]] : []), ...(errors[name] ?? [])];
        return (
          <Field
            key={name}
            id={id}
            name={name}
            field={field}
            required={schema.required?.includes(name) ?? false}
            value={drafts[name] ?? ''}
            errors={messages}
            onChange={(value) => setDrafts((current) => ({ ...current, [name]: value }))}
          />
        );
      })}
      <div className="actions">
        <GuardedButton type="submit" className="primary" disabled={submitting} reason={cannotRun}>
          Run
        </GuardedButton>
        {submitting && <span role="status">Starting…</span>}
      </div>
    </form>
  );
}

interface FieldProps {
  id: string;
  name: string;
  field: JsonSchema;
  required: boolean;
  value: string | boolean;
  errors: readonly string[];
  onChange(value: string | boolean): void;
}

function Field({ id, name, field, required, value, errors, onChange }: FieldProps) {
  const kind = kindOf(field);
  const describedBy = [field.description || kind === 'list' ? `${id}-help` : '', errors.length ? `${id}-error` : ''].filter(Boolean).join(' ') || undefined;
  const common = {
    id,
    name,
    'aria-describedby': describedBy,
    'aria-invalid': errors.length ? true : undefined,
    'aria-required': required || undefined,
  } as const;
  const label = field.title ?? name;
  let control: React.ReactNode;
  switch (kind) {
    case 'boolean':
      control = <input {...common} type="checkbox" checked={value === true} onChange={(event) => onChange(event.target.checked)} />;
      break;
    case 'enum':
      control = (
        <select {...common} value={String(value)} onChange={(event) => onChange(event.target.value)}>
          {!required && field.default === undefined && <option value="">(not set)</option>}
          {field.enum!.map((option) => (
            <option key={String(option)} value={String(option)}>
              {String(option)}
            </option>
          ))}
        </select>
      );
      break;
    case 'number':
    case 'integer':
      control = (
        <input
          {...common}
          type="number"
          inputMode={kind === 'integer' ? 'numeric' : 'decimal'}
          step={kind === 'integer' ? 1 : 'any'}
          min={field.minimum}
          max={field.maximum}
          value={String(value)}
          onChange={(event) => onChange(event.target.value)}
        />
      );
      break;
    case 'list':
    case 'json':
      control = <textarea {...common} rows={kind === 'json' ? 4 : 2} value={String(value)} onChange={(event) => onChange(event.target.value)} spellCheck={false} />;
      break;
    default:
      control = <input {...common} type="text" value={String(value)} onChange={(event) => onChange(event.target.value)} spellCheck={false} />;
  }
  return (
    <div className={`field field-${kind}${errors.length ? ' has-error' : ''}`} data-field={name}>
      <label htmlFor={id}>
        {label}
        {required && <span aria-hidden="true"> *</span>}
      </label>
      {control}
      {(field.description || kind === 'list') && (
        <p id={`${id}-help`} className="help">
          {field.description}
          {kind === 'list' && ' One per line, or separated by commas or spaces.'}
        </p>
      )}
      {errors.length > 0 && (
        <p id={`${id}-error`} className="field-error">
          {errors.join('; ')}
        </p>
      )}
    </div>
  );
}

type Kind = 'boolean' | 'enum' | 'number' | 'integer' | 'string' | 'list' | 'json';

function kindOf(field: JsonSchema): Kind {
  const type = Array.isArray(field.type) ? field.type.find((t) => t !== 'null') : field.type;
  if (field.enum) return 'enum';
  if (type === 'boolean' || type === 'number' || type === 'integer' || type === 'string') return type;
  if (type === 'array' && field.items && ['string', 'number', 'integer'].includes(String(field.items.type)) && !field.items.enum) return 'list';
  return 'json';
}

function toDraft(field: JsonSchema, value: unknown): string | boolean {
  switch (kindOf(field)) {
    case 'boolean':
      return value === true;
    case 'list':
      return Array.isArray(value) ? value.join(', ') : '';
    case 'json':
      return value === undefined ? '' : JSON.stringify(value, null, 2);
    default:
      return value === undefined || value === null ? '' : String(value);
  }
}

/** The draft as the server expects it; an empty optional field is left out (its default applies). */
function fromDraft(field: JsonSchema, draft: string | boolean): unknown {
  const kind = kindOf(field);
  if (kind === 'boolean') return draft === true;
  const text = String(draft).trim();
  switch (kind) {
    case 'number':
    case 'integer': {
      if (!text) return undefined;
      const number = Number(text);
      // Sent as typed: the server says what is wrong with it, on this field.
      return Number.isFinite(number) ? number : text;
    }
    case 'enum': {
      if (!text) return undefined;
      return field.enum!.find((option) => String(option) === text) ?? text;
    }
    case 'list': {
      const items = text.split(/[\s,]+/).filter(Boolean);
      const itemType = field.items?.type;
      return itemType === 'number' || itemType === 'integer' ? items.map((item) => (Number.isFinite(Number(item)) ? Number(item) : item)) : items;
    }
    case 'json': {
      if (!text) return undefined;
      try {
        return JSON.parse(text) as unknown;
      } catch {
        throw new Error('is not valid JSON');
      }
    }
    default:
      return String(draft);
  }
}
