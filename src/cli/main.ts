#!/usr/bin/env node
/**
 * The `wsengine` command. Each subcommand lives in its own module, loaded on demand, which
 * exports `run(args): Promise<number>` returning the process exit code and owns its usage text
 * (`wsengine <command> --help`, see `command.ts`). A command is registered here with one line:
 * its synopsis and summary for `wsengine --help`, and its loader.
 *
 * Exit status, for every command: 0 success, 1 a failure at run time (one line on stderr; the
 * stack with `--debug`), 2 a bad argument (a line naming it, then the usage).
 */
import { reportFailure, setDebug } from './command.js';
import { packageVersion } from './version.js';

interface Registered {
  /** "<synopsis>: <what it does>", one line. */
  readonly summary: string;
  readonly load: () => Promise<{ run(args: string[]): Promise<number> }>;
}

const COMMANDS: Record<string, Registered> = {
  connect: { summary: 'connect <url>: talk to a server: lines typed are sent, messages printed (like wscat)', load: () => import('./connect.js') },
  consume: { summary: 'consume <url>: connect with the resilient engine and print events as JSON lines', load: () => import('./consume.js') },
  exec: { summary: 'exec <url>: run a command in a Kubernetes pod (exec/attach) with this terminal attached', load: () => import('./exec.js') },
  autobahn: { summary: 'autobahn <url>: run the Autobahn client test cases against a fuzzing server', load: () => import('./autobahn.js') },
  demo: { summary: 'demo: an embedded feed server that drops connections, and the engine riding it out', load: () => import('./demo.js') },
};

function usage(): string {
  const entries = Object.values(COMMANDS).map((c) => {
    const split = c.summary.indexOf(': ');
    return split < 0 ? [c.summary, ''] : [c.summary.slice(0, split), c.summary.slice(split + 2)];
  });
  const width = Math.max(...entries.map(([synopsis]) => synopsis!.length)) + 2;
  return [
    'Usage: wsengine <command> [options]',
    '',
    'A resilient WebSocket client on the command line.',
    '',
    'Commands:',
    ...entries.map(([synopsis, summary]) => `  ${synopsis!.padEnd(width)}${summary}`),
    '',
    'Options:',
    '  -h, --help      this help; "wsengine <command> --help" for the options of a command',
    '  -v, --version   print the version',
    '  --debug         print the stack of a failure (with any command)',
    '',
    'Exit status: 0 success, 1 failure at run time, 2 bad arguments.',
  ].join('\n');
}

/** Take `--debug` out of the arguments (anywhere before a `--`). */
function takeDebug(argv: string[]): string[] {
  const end = argv.indexOf('--');
  const head = end < 0 ? argv : argv.slice(0, end);
  if (!head.includes('--debug')) return argv;
  setDebug(true);
  return [...head.filter((a) => a !== '--debug'), ...(end < 0 ? [] : argv.slice(end))];
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = takeDebug(argv);
  if (name === '--help' || name === '-h' || (name === 'help' && rest.length === 0)) {
    process.stdout.write(usage() + '\n');
    return 0;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`wsengine ${packageVersion()}\n`);
    return 0;
  }
  if (name === 'help') return main([rest[0]!, '--help']);
  if (name === undefined) {
    process.stderr.write(`wsengine: missing <command>\n\n${usage()}\n`);
    return 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`wsengine: unknown ${name.startsWith('-') ? 'option' : 'command'} "${name}"\n\n${usage()}\n`);
    return 2;
  }
  let module: { run(args: string[]): Promise<number> };
  try {
    module = await command.load();
  } catch (error) {
    reportFailure('', error, `the "${name}" command is not available in this build`);
    return 2;
  }
  return module.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    reportFailure('', error);
    process.exitCode = 1;
  },
);
