import type { FastifyReply } from 'fastify';

/** Aborts when the client goes away before its answer is sent, so a pool slot is freed for others. */
export function abortSignalOf(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  const onClose = () => {
    if (!reply.raw.writableFinished) controller.abort();
  };
  reply.raw.once('close', onClose);
  return controller.signal;
}
