// Entry of the dashboard bundle: routing by location hash (#/ and #/jobs/<id>) and sign-in.
import 'uplot/dist/uPlot.min.css';
import './styles.css';
import { h } from './dom.ts';
import { homeView } from './home.ts';
import { jobView } from './job-page.ts';
import { clientFor, forgetKey, storedKey } from './session.ts';
import { signInView } from './sign-in.ts';

const app = document.getElementById('app')!;
const nav = document.getElementById('nav')!;
let current: { dispose: () => void } | null = null;

function navigate(hash: string): void {
  if (window.location.hash === hash) render();
  else window.location.hash = hash;
}

function render(): void {
  current?.dispose();
  current = null;
  const key = storedKey();
  if (!key) {
    nav.replaceChildren(h('a', { href: '/docs' }, 'API docs'));
    // After signing in, stay on the page that was asked for (a shared #/jobs/… link).
    app.replaceChildren(signInView(() => render()));
    document.title = 'Sign in · Unroll';
    return;
  }
  nav.replaceChildren(
    h('a', { href: '#/' }, 'Jobs'),
    h('a', { href: '/docs' }, 'API docs'),
    h('button', { type: 'button', class: 'link', onclick: () => { forgetKey(); navigate('#/'); } }, 'Sign out'),
  );
  const client = clientFor(key);
  const jobMatch = window.location.hash.match(/^#\/jobs\/(job_[0-9a-z]+)$/);
  const view = jobMatch ? jobView(client, jobMatch[1]) : homeView(client, navigate);
  document.title = jobMatch ? `${jobMatch[1]} · Unroll` : 'Jobs · Unroll';
  app.replaceChildren(view.element);
  current = view;
  window.scrollTo(0, 0);
  app.focus({ preventScroll: true });
}

window.addEventListener('hashchange', render);
render();
