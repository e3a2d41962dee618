import { UnrollClient } from '@unroll/client';

// The API key lives in sessionStorage: gone when the tab closes, never in a cookie or the URL.
const KEY = 'unroll.apiKey';

export function storedKey(): string | null {
  return sessionStorage.getItem(KEY);
}

export function storeKey(apiKey: string): void {
  sessionStorage.setItem(KEY, apiKey);
}

export function forgetKey(): void {
  sessionStorage.removeItem(KEY);
}

/** A client for the API that served this page. */
export function clientFor(apiKey: string): UnrollClient {
  return new UnrollClient({ baseUrl: window.location.origin, apiKey });
}
