import { describe, expect, it } from 'vitest';
import { startTestApp, uploadText, createJob } from './helpers.ts';

// A client too slow for its WebSocket (dropped with 1013, its reader released, the buffer bounded)
// is covered once, on a listening app next to a fast client: test/fault/websocket-clients.test.ts › 10b.

async function waitFor(predicate: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
}

describe('graceful shutdown', () => {
  it('app.close() closes WebSocket clients and stops the readers', async () => {
    const fresh = await startTestApp();
    const datasetId = await uploadText(fresh);
    const job = (await createJob(fresh, { datasetId, task: 'lm' })).json();
    let closeCode = 0;
    const ws = await fresh.app.injectWS(`/v1/jobs/${job.id}/events`, { headers: fresh.auth() });
    ws.on('close', (code) => (closeCode = code));
    await waitFor(() => fresh.app.eventHub.activeReaders === 1, 2000);
    expect(fresh.app.eventHub.activeReaders).toBe(1);
    const started = Date.now();
    await fresh.close();
    expect(Date.now() - started).toBeLessThan(5000);
    await waitFor(() => closeCode !== 0, 2000);
    expect(closeCode).toBeGreaterThanOrEqual(1000);
    expect(fresh.app.eventHub.activeReaders).toBe(0);
  });
});
