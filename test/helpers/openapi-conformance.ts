import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

/**
 * Checks every REST answer a test receives against the server's own OpenAPI document: the
 * status must be documented for that operation, and a JSON body must validate against the
 * documented schema. `api()` and `readSse()` call it, so the whole suite doubles as a
 * conformance test of the generated document.
 */

interface Operation {
  readonly path: string;
  readonly pattern: RegExp;
  readonly method: string;
  readonly responses: Record<string, { content?: Record<string, { schema?: unknown }> }>;
}

interface Conformance {
  readonly operations: Operation[];
  readonly ajv: Ajv2020;
  readonly compiled: Map<string, ValidateFunction>;
}

const documents = new Map<string, Promise<Conformance>>();

async function conformanceOf(origin: string): Promise<Conformance> {
  let found = documents.get(origin);
  if (!found) {
    found = (async () => {
      const document = await (await fetch(`${origin}/api/openapi.json`)).json();
      const ajv = new Ajv2020({ strict: false });
      (addFormats as unknown as (a: Ajv2020) => void)(ajv);
      ajv.addSchema({ ...document, $id: 'doc' });
      const operations = Object.entries(document.paths as Record<string, Record<string, Operation['responses'] & object>>).flatMap(
        ([path, item]) =>
          Object.entries(item).map(([method, operation]) => ({
            path,
            pattern: new RegExp(`^${path.replace(/\{\w+\}/g, '[^/]+')}$`),
            method: method.toUpperCase(),
            responses: (operation as { responses: Operation['responses'] }).responses,
          })),
      );
      return { operations, ajv, compiled: new Map() };
    })();
    documents.set(origin, found);
  }
  return found;
}

/** Throws when the answer is not what the document promises for this request. */
export async function assertDocumented(
  url: string,
  method: string,
  answer: { status: number; contentType: string | null; body: unknown },
): Promise<void> {
  const { origin, pathname } = new URL(url);
  if (!pathname.startsWith('/api/') || pathname === '/api/openapi.json') return;
  const { operations, ajv, compiled } = await conformanceOf(origin);
  const candidates = operations.filter((op) => op.pattern.test(pathname));
  const operation = candidates.find((op) => op.method === method);
  if (!operation) {
    // Not an operation of the document (an unknown path or method, an empty path segment): the
    // server must refuse it.
    if (![400, 404, 405].includes(answer.status)) throw new Error(`${method} ${pathname}: undocumented, answered ${answer.status}`);
    return;
  }
  const response = operation.responses[String(answer.status)];
  if (!response) throw new Error(`${method} ${pathname}: status ${answer.status} is not in the OpenAPI document`);
  const schema = response.content?.['application/json']?.schema;
  if (!schema || !answer.contentType?.startsWith('application/json')) return;
  const pointer = ['paths', operation.path, method.toLowerCase(), 'responses', String(answer.status), 'content', 'application/json', 'schema']
    .map((part) => part.replaceAll('~', '~0').replaceAll('/', '~1'))
    .join('/');
  let validate = compiled.get(pointer);
  if (!validate) {
    validate = ajv.compile({ $ref: `doc#/${pointer}` });
    compiled.set(pointer, validate);
  }
  if (!validate(answer.body)) {
    throw new Error(`${method} ${pathname} ${answer.status}: body does not match the document: ${JSON.stringify(validate.errors)}`);
  }
}
