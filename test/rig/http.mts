// HTTP from tests to published ports. Only loopback: tests publish on 127.0.0.1, and a typo
// should never send requests anywhere else.
export interface TextResponse {
  status: number;
  body: string;
}

function checkLoopback(url: string): void {
  if (new URL(url).hostname !== '127.0.0.1') throw new Error(`tests only fetch from 127.0.0.1: ${url}`);
}

export async function getResponse(url: string, timeoutMs = 2_000): Promise<TextResponse> {
  checkLoopback(url);
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  return { status: response.status, body: await response.text() };
}

/** The body of a 2xx response; throws otherwise. */
export async function getText(url: string, timeoutMs = 2_000): Promise<string> {
  const { status, body } = await getResponse(url, timeoutMs);
  if (status < 200 || status > 299) throw new Error(`GET ${url} answered ${status}: ${body.slice(0, 200)}`);
  return body;
}

/** Polls until GET answers 2xx (and `expected` matches the body, if given); returns the body. */
export async function waitForText(url: string, options: { expected?: string | RegExp; timeoutMs?: number } = {}): Promise<string> {
  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  let last = 'no answer yet';
  for (;;) {
    try {
      const body = await getText(url);
      const { expected } = options;
      if (expected === undefined || (typeof expected === 'string' ? body === expected : expected.test(body))) return body;
      last = `body ${JSON.stringify(body.slice(0, 200))}`;
    } catch (error) {
      last = String(error);
    }
    if (Date.now() > deadline) throw new Error(`waiting for ${url}: ${last}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
