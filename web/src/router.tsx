import { useQueryClient } from '@tanstack/react-query';
import { createRootRoute, createRoute, createRouter, Link, Outlet } from '@tanstack/react-router';
import { Fragment, useEffect, useState } from 'react';
import { onAuthRequired } from './api/graphql-client.js';
import { closeStream } from './api/subscriptions.js';
import { roleLabel, signOut, useViewer } from './auth/session.js';
import { SignIn } from './auth/sign-in.js';
import { LaunchPage } from './launch/launch-page.js';
import { RunsPage, type RunsView } from './queue/runs-page.js';
import { RunPage } from './run/run-page.js';

/**
 * The dashboard's pages. Everything a page shows is addressable: the strategy and the run the
 * form starts from, the queue view's filters and page, a log line.
 */

function Shell() {
  const queryClient = useQueryClient();
  const [signInNeeded, setSignInNeeded] = useState(false);
  // Bumped on sign-in: the page mounts afresh, so its subscriptions (stopped by the 401) restart.
  const [session, setSession] = useState(0);
  useEffect(() => onAuthRequired(() => setSignInNeeded(true)), []);
  const viewer = useViewer();
  const [signingOut, setSigningOut] = useState(false);
  const leave = async () => {
    setSigningOut(true);
    try {
      await signOut();
    } catch {
      // Unreachable server: the cookie may outlive this page, but the page forgets the session.
    }
    setSigningOut(false);
    setSignInNeeded(true);
  };
  // Signed out (or the session ended): the page has unmounted, stopping its subscriptions (a
  // child's cleanup runs before this effect); the shared stream, opened with the old cookie,
  // closes, and nothing the last user saw stays cached for the next one.
  useEffect(() => {
    if (!signInNeeded) return;
    closeStream();
    queryClient.clear();
  }, [signInNeeded, queryClient]);
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="top-bar">
        <span className="brand">strategy-runner</span>
        <nav aria-label="Main">
          <Link to="/" activeOptions={{ exact: true, includeSearch: false }}>
            Launch
          </Link>
          <Link to="/runs" activeOptions={{ exact: true, includeSearch: false }}>
            Runs
          </Link>
          <a href="/graphql">GraphiQL</a>
        </nav>
        {viewer?.auth === 'tokens' && !signInNeeded && (
          <div className="session" data-testid="session">
            <span>
              Signed in as <strong>{viewer.name}</strong> ({roleLabel(viewer.role)})
            </span>
            <button type="button" className="small" onClick={() => void leave()} disabled={signingOut}>
              Sign out
            </button>
          </div>
        )}
      </header>
      <main id="main">
        {signInNeeded ? (
          <SignIn
            onSignedIn={() => {
              setSignInNeeded(false);
              setSession((n) => n + 1);
              void queryClient.invalidateQueries();
            }}
          />
        ) : (
          <Fragment key={session}>
            <Outlet />
          </Fragment>
        )}
      </main>
    </>
  );
}

const rootRoute = createRootRoute({
  component: Shell,
  notFoundComponent: () => (
    <section>
      <h1>Page not found</h1>
      <p>
        <Link to="/">Launch a run</Link> or <Link to="/runs">see the runs</Link>.
      </p>
    </section>
  ),
});

const text = (value: unknown): string | undefined => (typeof value === 'string' && value ? value : undefined);

const launchRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/',
  component: LaunchPage,
  validateSearch: (search: Record<string, unknown>): { strategy?: string; from?: string } => ({
    strategy: text(search.strategy),
    from: text(search.from),
  }),
});

const VIEWS: readonly RunsView[] = ['all', 'active', 'queued', 'running', 'finished'];

const runsRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/runs',
  component: RunsPage,
  validateSearch: (search: Record<string, unknown>): { view?: RunsView; strategy?: string; after?: string } => ({
    view: VIEWS.includes(search.view as RunsView) && search.view !== 'all' ? (search.view as RunsView) : undefined,
    strategy: text(search.strategy),
    after: text(search.after),
  }),
});

const runRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/runs/$runId',
  component: RunPage,
  validateSearch: (search: Record<string, unknown>): { line?: number } => {
    const line = Number(search.line);
    return { line: Number.isInteger(line) && line > 0 ? line : undefined };
  },
});

export const router = createRouter({
  routeTree: rootRoute.addChildren([launchRoute, runsRoute, runRoute]),
  defaultPreload: 'intent',
  scrollRestoration: true,
});

declare module '@tanstack/react-router' {
  interface Register {
    router: typeof router;
  }
}
