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
      graphql_yoga_http_duration: true,
      // On by default in yoga's plugin; a summary per type and the rest add little here.
      graphql_envelop_request_time_summary: false,
      graphql_envelop_phase_context: false,
      graphql_envelop_deprecated_field: false,
      graphql_envelop_schema_change: false,
    },
    labels: { operationName: false, fieldName: false, typeName: false, path: false, url: false, method: true, statusCode: true },
  });
}
