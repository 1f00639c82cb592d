#!/usr/bin/env node
/**
 * The `wsengine` command. Each subcommand lives in its own module, loaded on demand, and
 * exports `run(args): Promise<number>` returning the process exit code.
 */
const COMMANDS: Record<string, { summary: string; load: () => Promise<{ run(args: string[]): Promise<number> }> }> = {
  consume: { summary: 'consume <url>: connect with the resilient engine and print events as JSON lines', load: () => import('./consume.js') },
  exec: { summary: 'exec <url>: run a command in a Kubernetes pod (exec/attach) with this terminal attached', load: () => import('./exec.js') },
  autobahn: { summary: 'autobahn <url>: run the Autobahn client test cases against a fuzzing server', load: () => import('./autobahn.js') },
  demo: { summary: 'demo: an embedded feed server that drops connections, and the engine riding it out', load: () => import('./demo.js') },
};

function usage(): string {
  const lines = Object.values(COMMANDS).map((c) => `  wsengine ${c.summary}`);
  return ['Usage:', ...lines, '', 'Run "wsengine <command> --help" for the options of a command.'].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h') {
    process.stdout.write(usage() + '\n');
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`wsengine: unknown command "${name}"\n${usage()}\n`);
    return 2;
  }
  let module: { run(args: string[]): Promise<number> };
  try {
    module = await command.load();
  } catch (error) {
    process.stderr.write(`wsengine: the "${name}" command is not available in this build: ${(error as Error).message}\n`);
    return 2;
  }
  return module.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`wsengine: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
