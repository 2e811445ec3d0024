'use client';

import { useState, type FormEvent } from 'react';

/** Asks for DASHBOARD_TOKEN; it is kept in this tab only (sessionStorage). */
export function TokenForm({ refused, message, onSubmit }: { refused: boolean; message: string; onSubmit(token: string): void }) {
  const [token, setToken] = useState('');
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    if (token.trim()) onSubmit(token);
  };
  return (
    <form className="start-form token-form" onSubmit={submit} aria-labelledby="token-heading">
      <h2 id="token-heading">This dashboard needs a token</h2>
      <p className="muted">
        Enter the token this server was started with (<code>DASHBOARD_TOKEN</code>). It is kept in this tab only.
      </p>
      <div className="fields">
        <label>
          Token
          <input type="password" autoComplete="current-password" value={token} onChange={(e) => setToken(e.target.value)} required />
        </label>
        <button type="submit">Open dashboard</button>
      </div>
      <p className="form-error" role="alert" data-testid="token-error">
        {refused ? message || 'That token was refused.' : ''}
      </p>
    </form>
  );
}
