// One webhook attempt over HTTP(S) with Node's fetch: no redirects followed (a 3xx is not an
// acknowledgement), a deadline for the whole attempt, and the response body discarded
// unread so a receiver cannot make the leader buffer its answer.
import type { PostOutcome } from './notifier.js';
import type { WebhookRequest } from './webhook.js';

export async function postWebhook(request: WebhookRequest, timeoutMs: number): Promise<PostOutcome> {
  try {
    const response = await fetch(request.url, {
      method: 'POST', headers: request.headers, body: request.body, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs),
    });
    await response.body?.cancel().catch(() => undefined);
    return { status: response.status };
  } catch (error) {
    if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) return { error: `no answer within ${timeoutMs} ms` };
    const cause: unknown = error instanceof Error ? error.cause : undefined;
    const detail = cause instanceof Error ? cause.message : error instanceof Error ? error.message : String(error);
    return { error: detail.slice(0, 200) };
  }
}
