/**
 * `wsengine connect <url>`: an interactive WebSocket client in the manner of wscat and websocat,
 * on the resilient engine. Each line typed (or piped in) is sent as a text message; every message
 * received is printed. The connection is replaced after a drop unless `--no-reconnect`.
 *
 * On a terminal (stdin and stdout both TTYs) the prompt is a status line (state, last RTT,
 * reconnects) and messages are printed above it; otherwise the output is plain, one line per
 * message on stdout and connection events on stderr, for scripts. The session itself is in
 * `connect-session.ts`; this module holds the arguments and the process-level part.
 */
import { commandArgs, adapterFlag, checkHeadersFor, delayFlags, headerFlags, protocolFlags, numberFlag, onePositional, positiveFlag, urlArgument, UsageError } from './args.js';
import { runCommand } from './command.js';
import { connect, type BinaryFormat, type ConnectArgs } from './connect-session.js';

export type { ConnectArgs } from './connect-session.js';

export const CONNECT_USAGE = `Usage: wsengine connect <url> [options]

Talk to a WebSocket server: every line typed (or piped in) is sent as a text message, every
message received is printed. Reconnects after a drop.

Options:
  --adapter ws|native|browser   the adapter (default ws)
  --header "K: V"               request header for the handshake (repeatable)
  --protocol P                  subprotocol to offer (repeatable)
  --heartbeat-interval MS       time between heartbeat pings (default 15000; 0 turns it off)
  --heartbeat-timeout MS        how long a ping may go unanswered (default 5000)
  --no-reconnect                end when the connection ends, instead of reconnecting
  --min-delay MS                first and smallest reconnect delay (default 1000)
  --max-delay MS                largest reconnect delay (default 30000)
  --max-retries N               attempts per outage before giving up (default: no limit)
  --binary-as hex|base64        how binary messages are printed (default hex)
  --wait MS                     at the end of input, wait this long for replies before
                                closing (default 0)
  -q, --quiet                   no connection events on stderr (plain output only)
  -h, --help                    this help

Commands, typed as a line:
  /ping                         send a ping, print the round-trip time
  /close [code [reason]]        close with this code (default 1000) and reason, and exit
  /quit                         close with 1000 and exit
  /help                         list the commands
  //text                        send "/text" (a line starting with / is a command)

On a terminal the prompt shows the state, the last round-trip time and the reconnects, and
received messages print above it as "< text". Otherwise (stdin or stdout is not a terminal)
stdout gets one line per message received, text as is, binary in hex or base64; connection
events go to stderr; the end of stdin closes with 1000 once every line is sent, and exits 0.

Exit status: 0 after /quit, /close, the end of input or Ctrl-C; 1 when the connection cannot
be made or is lost for good (with --no-reconnect: closed by the server with a code other than
1000); 2 for bad arguments.`;

/** Parse the arguments after `connect`; `undefined` means help was asked for. */
export function parseConnectArgs(args: readonly string[]): ConnectArgs | undefined {
  const { values, positionals } = commandArgs(args, {
    adapter: { type: 'string', default: 'ws' },
    header: { type: 'string', multiple: true },
    protocol: { type: 'string', multiple: true },
    'heartbeat-interval': { type: 'string' },
    'heartbeat-timeout': { type: 'string' },
    'no-reconnect': { type: 'boolean', default: false },
    'min-delay': { type: 'string' },
    'max-delay': { type: 'string' },
    'max-retries': { type: 'string' },
    'binary-as': { type: 'string', default: 'hex' },
    wait: { type: 'string' },
    quiet: { type: 'boolean', short: 'q', default: false },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return undefined;
  const url = urlArgument(onePositional(positionals));
  const binaryAs = values['binary-as']!;
  if (binaryAs !== 'hex' && binaryAs !== 'base64') {
    throw new UsageError(`--binary-as expects hex or base64, got "${binaryAs}"`);
  }
  const heartbeatTimeout = positiveFlag('heartbeat-timeout', values['heartbeat-timeout']);
  const adapter = adapterFlag(values.adapter!);
  const headers = headerFlags(values.header);
  checkHeadersFor(adapter, headers);
  return {
    url,
    adapter,
    headers,
    protocols: protocolFlags(values.protocol),
    heartbeatInterval: numberFlag('heartbeat-interval', values['heartbeat-interval']),
    heartbeatTimeout,
    reconnect: !values['no-reconnect'],
    ...delayFlags(values['min-delay'], values['max-delay']),
    maxRetries: numberFlag('max-retries', values['max-retries'], true),
    binaryAs: binaryAs satisfies BinaryFormat,
    quiet: values.quiet!,
    wait: numberFlag('wait', values.wait) ?? 0,
  };
}

/** The process-level part: arguments, terminal or pipes, signals, exit status. */
export function run(args: string[]): Promise<number> {
  return runCommand('connect', CONNECT_USAGE, args, parseConnectArgs, async (parsed, signal) => {
    // `| head -1` closing our stdout is an ordinary way to end: close and leave quietly.
    const controller = new AbortController();
    const onAbort = (): void => controller.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    const onStdoutError = (): void => controller.abort();
    process.stdout.on('error', onStdoutError);
    try {
      return await connect({
        ...parsed,
        input: process.stdin,
        output: process.stdout,
        errors: process.stderr,
        interactive: Boolean(process.stdin.isTTY && process.stdout.isTTY),
        signal: controller.signal,
      });
    } finally {
      signal.removeEventListener('abort', onAbort);
      process.stdout.off('error', onStdoutError);
      // A terminal's stdin would keep the process alive after the session.
      process.stdin.destroy();
    }
  });
}
