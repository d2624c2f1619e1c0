import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import {
  GraphQLError,
  Kind,
  type FieldNode,
  type FragmentDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';

/**
 * The document limits of CONTRACT §6, checked before execution on every GraphQL route (over
 * HTTP and over SSE): graphql-armor's depth, alias, token and directive limits, and a bound on
 * how many items one request may ask for. Armor's own cost counts fields, not list sizes: 30
 * aliases of `runs(first: 100) { nodes { events(first: 5000) } }` is small to it and fifteen
 * million events to us, so list fields multiply by the page size they ask for.
 */

export const LIMITS = {
  /** The standard introspection query (as GraphiQL and codegen send it) nests 13 levels. */
  maxDepth: 15,
  maxAliases: 30,
  maxTokens: 2000,
  maxDirectives: 50,
  /** Items (runs, events, …) one request may ask for, page sizes multiplied through nesting. */
  maxItems: 20_000,
} as const;

/** Page size a list field returns when its `first` argument is not given. */
const DEFAULT_PAGE: Readonly<Record<string, number>> = { runs: 20, events: 500 };

export function useLimits(): Plugin[] {
  return [
    EnvelopArmorPlugin({
      maxDepth: { n: LIMITS.maxDepth, flattenFragments: true, ignoreIntrospection: false },
      maxAliases: { n: LIMITS.maxAliases },
      maxTokens: { n: LIMITS.maxTokens },
      maxDirectives: { n: LIMITS.maxDirectives },
      // Our own item bound (below) replaces armor's field-count cost.
      costLimit: { enabled: false },
    }),
    { onValidate: ({ addValidationRule }) => addValidationRule(itemLimitRule) },
  ];
}

const itemLimitRule: ValidationRule = (context: ValidationContext) => ({
  OperationDefinition(operation) {
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const definition of context.getDocument().definitions) {
      if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
    }
    const items = countItems(operation.selectionSet, 1, fragments, new Set());
    if (items > LIMITS.maxItems) {
      context.reportError(
        new GraphQLError(`This request asks for up to ${items} items (at most ${LIMITS.maxItems}); ask for smaller pages.`, {
          nodes: [operation],
          extensions: { code: 'BAD_USER_INPUT' },
        }),
      );
    }
  },
});

/** Items a selection may return, each list field multiplying by its page size. */
function countItems(selectionSet: SelectionSetNode, multiplier: number, fragments: Map<string, FragmentDefinitionNode>, seen: Set<string>): number {
  let total = 0;
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) {
      const page = pageSize(selection);
      const inner = multiplier * page;
      total += page > 1 ? inner : 0;
      if (selection.selectionSet) total += countItems(selection.selectionSet, inner, fragments, seen);
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      total += countItems(selection.selectionSet, multiplier, fragments, seen);
    } else {
      const fragment = fragments.get(selection.name.value);
      // A fragment spread twice on one path is counted once (cycles are refused by validation).
      if (!fragment || seen.has(fragment.name.value)) continue;
      total += countItems(fragment.selectionSet, multiplier, fragments, new Set([...seen, fragment.name.value]));
    }
  }
  return total;
}

function pageSize(field: FieldNode): number {
  const fallback = DEFAULT_PAGE[field.name.value];
  if (fallback === undefined) return 1;
  const first = field.arguments?.find((argument) => argument.name.value === 'first')?.value;
  // A variable's value is not known here: count the largest page the field allows.
  if (first?.kind === Kind.INT) return Math.max(1, Number(first.value));
  return first?.kind === Kind.VARIABLE ? Math.max(fallback, field.name.value === 'events' ? 5000 : 100) : fallback;
}
