import { UnrollApiError } from '@unroll/client';
import { h } from './dom.ts';
import { clientFor, storeKey } from './session.ts';

/** Asks for an API key and checks it against the API before keeping it. */
export function signInView(onSignedIn: () => void): HTMLElement {
  const input = h('input', { id: 'api-key', type: 'password', autocomplete: 'off', required: true, spellcheck: 'false', 'aria-describedby': 'api-key-error' });
  const error = h('p', { id: 'api-key-error', class: 'field-error', role: 'alert' });
  const button = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h(
    'form',
    {
      class: 'card sign-in',
      'aria-labelledby': 'sign-in-title',
      onsubmit: async (event: Event) => {
        event.preventDefault();
        const key = input.value.trim();
        error.textContent = '';
        if (!key) {
          error.textContent = 'Enter your API key.';
          return;
        }
        button.disabled = true;
        try {
          await clientFor(key).listJobs({ limit: 1 });
          storeKey(key);
          onSignedIn();
        } catch (err) {
          input.setAttribute('aria-invalid', 'true');
          error.textContent = err instanceof UnrollApiError && err.status === 401 ? 'That key was not accepted.' : `Could not reach the API: ${(err as Error).message}`;
        } finally {
          button.disabled = false;
        }
      },
    },
    h('h1', { id: 'sign-in-title' }, 'Sign in'),
    h('p', {}, 'Use an API key of this Unroll server. It is kept in this tab only (sessionStorage).'),
    h('div', { class: 'field' }, h('label', { for: 'api-key' }, 'API key'), input, error),
    button,
  );
  return form;
}
