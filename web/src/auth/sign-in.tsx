import { useState, type FormEvent } from 'react';

/**
 * Shown when the server answers UNAUTHENTICATED: trade a token for an HttpOnly session cookie
 * (`POST /api/session {"token"}`), then carry on where the reader was.
 */
export function SignIn({ onSignedIn }: { onSignedIn(): void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const response = await fetch('/api/session', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        credentials: 'same-origin',
        body: JSON.stringify({ token: token.trim() }),
      });
      if (response.ok) {
        setToken('');
        onSignedIn();
        return;
      }
      const body = (await response.json().catch(() => undefined)) as { error?: { code?: string; message?: string } } | undefined;
      if (response.status === 401 || response.status === 403) setError(body?.error?.message ?? 'That token was not accepted.');
      else if (response.status === 404) setError('This server does not offer sign-in yet.');
      else setError(body?.error?.message ?? `Sign-in failed (HTTP ${response.status}).`);
    } catch {
      setError('The server cannot be reached.');
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="sign-in card" aria-labelledby="sign-in-heading">
      <h1 id="sign-in-heading">Sign in</h1>
      <p>This server needs an access token. Ask an admin for one (<code>npm run token -- create</code>).</p>
      <form onSubmit={submit}>
        <label htmlFor="token">Access token</label>
        <input id="token" type="password" autoComplete="current-password" value={token} onChange={(event) => setToken(event.target.value)} aria-invalid={error ? true : undefined} aria-describedby={error ? 'token-error' : undefined} />
        {error && (
          <p id="token-error" role="alert" className="field-error">
            {error}
          </p>
        )}
        <div className="actions">
          <button type="submit" className="primary" disabled={busy || !token.trim()}>
            Sign in
          </button>
        </div>
      </form>
    </section>
  );
}
