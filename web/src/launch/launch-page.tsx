import { useMutation, useQuery } from '@tanstack/react-query';
import { getRouteApi, Link, useNavigate } from '@tanstack/react-router';
import { lazy, Suspense, useMemo } from 'react';
import { GraphQLRequestError, request } from '../api/graphql-client.js';
import { cannotStart, useViewer } from '../auth/session.js';
import { ExecuteDocument, RunParametersDocument, StrategiesDocument } from '../gql/graphql.js';
import type { FieldErrors, JsonSchema } from './schema-form.js';

const SchemaForm = lazy(() => import('./schema-form.js'));
const route = getRouteApi('/');

/** `/`: pick a strategy, fill its generated form, Run. `?from=RUN` starts from a run's parameters. */
export function LaunchPage() {
  const { strategy: selected, from } = route.useSearch();
  const strategies = useQuery({ queryKey: ['strategies'], queryFn: () => request(StrategiesDocument) });
  const list = strategies.data?.strategies ?? [];
  const current = list.find((strategy) => strategy.name === selected) ?? (selected ? undefined : list[0]);

  return (
    <div className="launch">
      <nav className="strategy-nav" aria-labelledby="strategies-heading">
        <h1 id="strategies-heading">Strategies</h1>
        {strategies.isPending && <p role="status">Loading strategies…</p>}
        {strategies.error && <p role="alert">Could not load the strategies: {strategies.error.message}</p>}
        <ul className="strategy-list" aria-label="Strategies">
          {list.map((strategy) => (
            <li key={strategy.name}>
              <Link
                to="/"
                search={{ strategy: strategy.name }}
                className="strategy-link"
                aria-current={strategy.name === current?.name ? 'page' : undefined}
              >
                <strong>{strategy.name}</strong>
                <span className="description">{strategy.description}</span>
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      <section className="launch-form card" aria-labelledby="form-heading">
        {current ? (
          <StrategyForm
            key={`${current.name}:${from ?? ''}`}
            name={current.name}
            description={current.description}
            schema={current.parametersSchema as JsonSchema}
            from={from}
          />
        ) : (
          !strategies.isPending && <p id="form-heading">{selected ? `No strategy named ${selected}.` : 'No strategies are registered.'}</p>
        )}
      </section>
    </div>
  );
}

function StrategyForm({ name, description, schema, from }: { name: string; description: string; schema: JsonSchema; from?: string }) {
  const navigate = useNavigate();
  const cannotRun = cannotStart(useViewer());
  const source = useQuery({
    queryKey: ['run-parameters', from],
    queryFn: () => request(RunParametersDocument, { id: from! }),
    enabled: !!from,
  });
  const execute = useMutation({
    mutationFn: (parameters: Record<string, unknown>) => request(ExecuteDocument, { input: { strategy: name, parameters } }),
    onSuccess: (data) => void navigate({ to: '/runs/$runId', params: { runId: data.executeStrategy.id } }),
  });
  const { fieldErrors, formError } = useMemo(() => splitErrors(execute.error, schema), [execute.error, schema]);
  const initial = from && source.data?.run?.strategy === name ? (source.data.run.parameters as Record<string, unknown>) : undefined;

  return (
    <>
      <h2 id="form-heading">Run {name}</h2>
      <p className="muted">{description}</p>
      {from && source.data?.run && <p className="notice">Starting from the parameters of run {from.slice(0, 8)}; edit and Run.</p>}
      {from && source.isPending ? (
        <p role="status">Loading the run's parameters…</p>
      ) : (
        <Suspense fallback={<p role="status">Loading the form…</p>}>
          <SchemaForm schema={schema} initial={initial} errors={fieldErrors} formError={formError} submitting={execute.isPending} cannotRun={cannotRun} onSubmit={(parameters) => execute.mutate(parameters)} />
        </Suspense>
      )}
    </>
  );
}

/** The server's `details` ({field: "parameters.tickers.0", message}) on their form fields. */
function splitErrors(error: Error | null, schema: JsonSchema): { fieldErrors: FieldErrors; formError?: string } {
  if (!error) return { fieldErrors: {} };
  if (!(error instanceof GraphQLRequestError) || error.code !== 'BAD_USER_INPUT' || !error.details.length) return { fieldErrors: {}, formError: error.message };
  const fieldErrors: Record<string, string[]> = {};
  const loose: string[] = [];
  for (const problem of error.details) {
    const path = problem.field.replace(/^parameters\.?/, '').split(/[.[\]/]+/).filter(Boolean);
    const field = path[0];
    if (field && schema.properties?.[field]) {
      const where = path.length > 1 ? `item ${Number(path[1]) + 1 || path.slice(1).join('.')}: ` : '';
      (fieldErrors[field] ??= []).push(`${where}${problem.message}`);
    } else loose.push(`${problem.field}: ${problem.message}`);
  }
  return { fieldErrors, formError: loose.length ? `The server refused the parameters: ${loose.join('; ')}` : 'The server refused the parameters; see the fields marked below.' };
}
