import type { ErrorDetail } from '@unroll/protocol';

/**
 * An error answered by the Unroll API (`{error: {code, message, param?}}`), or a request that
 * never got an answer (status 0, code `connection_failed`).
 */
export class UnrollApiError extends Error {
  override name = 'UnrollApiError';
  readonly status: number;
  readonly code: string;
  readonly param: string | undefined;
  readonly line: number | undefined;
  readonly column: number | undefined;

  constructor(status: number, detail: Pick<ErrorDetail, 'code' | 'message'> & Partial<ErrorDetail>, options?: { cause?: unknown }) {
    super(detail.message, options);
    this.status = status;
    this.code = detail.code;
    this.param = detail.param;
    this.line = detail.line;
    this.column = detail.column;
  }

  /** Builds the error from a non-2xx response, tolerating bodies that are not the API's shape (proxies). */
  static async fromResponse(response: Response): Promise<UnrollApiError> {
    const text = await response.text().catch(() => '');
    try {
      const body = JSON.parse(text) as { error?: Partial<ErrorDetail> };
      if (body.error && typeof body.error.code === 'string' && typeof body.error.message === 'string') {
        return new UnrollApiError(response.status, body.error as ErrorDetail);
      }
    } catch {
      // not JSON: fall through
    }
    const message = text.trim().slice(0, 200) || response.statusText || `HTTP ${response.status}`;
    return new UnrollApiError(response.status, { code: `http_${response.status}`, message });
  }
}
