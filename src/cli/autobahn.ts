/**
 * `wsengine autobahn <url> [--adapter native|ws|browser] [--agent NAME] [--cases PATTERN] [--no-deflate]`
 *
 * The client side of the Autobahn|Testsuite fuzzing server protocol: `GET /getCaseCount`, then
 * `/runCase?case=N&agent=NAME` for each case (every text and binary message echoed back
 * unchanged, same type, until the server closes), then `/updateReports?agent=NAME`, which
 * makes the server write its report. Each case's verdict comes from `/getCaseStatus`.
 */
import { parseArgs } from 'node:util';
import { WebSocketCloseError } from '../adapters/errors.js';
import type { AdapterFactory, WebSocketConnectionAdapter } from '../adapters/types.js';
import { loadAdapter } from './adapters.js';
import { reportFailure } from './command.js';

const USAGE = `Usage: wsengine autobahn <url> [options]

Runs the Autobahn client test cases against a fuzzing server (wstest -m fuzzingserver).

Options:
  --adapter NAME   native (default), ws or browser
  --agent NAME     the agent name in the server's report (default: wsengine-<adapter>)
  --cases PATTERN  only cases whose id matches, e.g. "1.*,9.1.6,12.2.*" (default: all)
  --no-deflate     do not offer permessage-deflate (native adapter; cases 12 and 13 need it)
  -h, --help       show this help
`;

/** Verdicts that count as a pass in Autobahn's report. */
const PASSING = new Set(['OK', 'NON-STRICT', 'INFORMATIONAL', 'UNIMPLEMENTED']);

function out(line: string): void {
  process.stdout.write(line + '\n');
}

function endpoint(base: URL, path: string, params: Record<string, string | number> = {}): URL {
  const url = new URL(base.href);
  url.pathname = (url.pathname.endsWith('/') ? url.pathname : url.pathname + '/') + path;
  url.search = '';
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, String(value));
  return url;
}

/** Dial, read one text message (the server's answer), and let the server close. */
async function fetchText(create: AdapterFactory, url: URL): Promise<string> {
  const adapter = create();
  await adapter.dial(url);
  try {
    const message = await adapter.read();
    if (typeof message.data !== 'string') throw new Error(`expected a text answer from ${url.pathname}`);
    return message.data;
  } finally {
    await drainToClose(adapter);
  }
}

/** Wait for the server's close (reads until the close error), closing ourselves if it stalls. */
async function drainToClose(adapter: WebSocketConnectionAdapter): Promise<void> {
  try {
    for (;;) await adapter.read({ signal: AbortSignal.timeout(10_000) });
  } catch (error) {
    if (!(error instanceof WebSocketCloseError)) await adapter.close(1000).catch(() => {});
  }
}

/** Echo every message back, unchanged and with the same type, until the connection closes. */
async function echoCase(adapter: WebSocketConnectionAdapter, url: URL): Promise<void> {
  try {
    await adapter.dial(url);
  } catch {
    // Some cases make the server refuse or break the handshake; the verdict is the server's.
    return;
  }
  try {
    for (;;) {
      const message = await adapter.read();
      await adapter.write(message.type, message.data);
    }
  } catch {
    // The case ends when the server closes, or when we failed the connection.
  }
  await adapter.close(1000).catch(() => {});
}

/** Compile "1.*,9.1.6" into a test on case ids. */
export function casePattern(pattern: string): (id: string) => boolean {
  const parts = pattern
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => new RegExp('^' + p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*') + '$'));
  return (id) => parts.some((re) => re.test(id));
}

export async function run(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        adapter: { type: 'string', default: 'native' },
        agent: { type: 'string' },
        cases: { type: 'string' },
        'no-deflate': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    process.stderr.write(`wsengine autobahn: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (positionals.length !== 1) {
    process.stderr.write(`wsengine autobahn: ${positionals.length === 0 ? 'missing <url>' : `unexpected argument "${positionals[1]}" (expected one <url>)`}\n\n${USAGE}`);
    return 2;
  }
  let base: URL;
  try {
    base = new URL(positionals[0]!);
    if (!['ws:', 'wss:', 'http:', 'https:'].includes(base.protocol)) throw new Error(`unsupported scheme ${base.protocol}`);
  } catch (error) {
    // A bad argument, like the other commands: the line naming it, then the usage.
    process.stderr.write(`wsengine autobahn: invalid <url> "${positionals[0]}": ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const adapterName = values.adapter;
  const agent = values.agent ?? `wsengine-${adapterName}`;

  let create: AdapterFactory;
  try {
    if (adapterName === 'native') {
      const { createNativeAdapter } = await import('../adapters/native/index.js');
      const deflate = !values['no-deflate'];
      // Autobahn case 9 sends messages of up to 16 MiB; case 12/13 need permessage-deflate.
      create = () => createNativeAdapter({ perMessageDeflate: deflate ? { threshold: 0 } : false, closeTimeout: 2_000 });
    } else {
      create = await loadAdapter(adapterName);
    }
  } catch (error) {
    process.stderr.write(`wsengine autobahn: ${(error as Error).message}\n`);
    return 2;
  }

  let count: number;
  try {
    count = Number.parseInt(await fetchText(create, endpoint(base, 'getCaseCount')), 10);
  } catch (error) {
    reportFailure('autobahn', error, `cannot get the case count from ${base.href}`);
    return 1;
  }
  if (!Number.isInteger(count) || count < 0) {
    process.stderr.write('wsengine autobahn: the server answered an invalid case count\n');
    return 1;
  }
  const wanted = values.cases ? casePattern(values.cases) : undefined;
  out(`Autobahn: ${count} cases at ${base.href}, agent ${agent}, adapter ${adapterName}`);

  const verdicts = new Map<string, number>();
  const failed: string[] = [];
  let ran = 0;
  for (let n = 1; n <= count; n++) {
    let id = String(n);
    try {
      const info = JSON.parse(await fetchText(create, endpoint(base, 'getCaseInfo', { case: n }))) as { id?: string };
      if (typeof info.id === 'string') id = info.id;
    } catch {
      // Older servers lack getCaseInfo; cases are then known by number only.
    }
    if (wanted && !wanted(id)) continue;
    ran++;
    await echoCase(create(), endpoint(base, 'runCase', { case: n, agent }));
    let behavior = 'UNKNOWN';
    try {
      const status = JSON.parse(await fetchText(create, endpoint(base, 'getCaseStatus', { case: n, agent }))) as { behavior?: string };
      behavior = status.behavior ?? behavior;
    } catch {
      // No status endpoint: the report written by updateReports has the verdicts.
    }
    verdicts.set(behavior, (verdicts.get(behavior) ?? 0) + 1);
    if (!PASSING.has(behavior) && behavior !== 'UNKNOWN') failed.push(`${id} ${behavior}`);
    out(`case ${id} (${n}/${count}): ${behavior}`);
  }

  try {
    const adapter = create();
    await adapter.dial(endpoint(base, 'updateReports', { agent }));
    await drainToClose(adapter);
  } catch (error) {
    reportFailure('autobahn', error, 'updateReports failed');
    return 1;
  }
  const summary = [...verdicts].map(([verdict, n]) => `${verdict} ${n}`).join(', ');
  out(`Ran ${ran} cases: ${summary || 'none'}`);
  if (failed.length > 0) {
    out(`Failed: ${failed.join('; ')}`);
    return 1;
  }
  return 0;
}
