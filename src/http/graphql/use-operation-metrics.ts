import { usePrometheus } from '@graphql-yoga/plugin-prometheus';
import type { Plugin } from 'graphql-yoga';
import type { Registry } from 'prom-client';

/**
 * GraphQL operation metrics (count, duration, errors, parse/validate time) through yoga's
 * Prometheus plugin, on our registry and served by our `/metrics` route. Labelled by operation
 * type only: operation names and field paths are the client's to choose, so unbounded.
 */
export function useOperationMetrics(registry: Registry): Plugin {
  return usePrometheus({
    registry,
    endpoint: false,
    metrics: {
      graphql_envelop_request: true,
      graphql_envelop_request_duration: true,
      graphql_envelop_error_result: true,
      graphql_envelop_phase_parse: true,
      graphql_envelop_phase_validate: true,
      graphql_envelop_phase_execute: true,
      graphql_envelop_phase_subscribe: true,
    },
    labels: { operationName: false, fieldName: false, typeName: false, path: false, url: false, method: true, statusCode: true },
  });
}
