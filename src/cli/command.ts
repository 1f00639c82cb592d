/**
 * The process-level frame every long-running subcommand shares: parse the arguments (usage on
 * error, exit 2), print help when asked, and turn SIGINT/SIGTERM into an abort signal so the
 * command can close cleanly before it returns its exit code.
 */
export async function runCommand<T>(
  name: string,
  usage: string,
  args: string[],
  parse: (args: string[]) => T | undefined,
  body: (options: T, signal: AbortSignal) => Promise<number>,
): Promise<number> {
  let options: T | undefined;
  try {
    options = parse(args);
  } catch (error) {
    process.stderr.write(`wsengine ${name}: ${(error as Error).message}\n\n${usage}\n`);
    return 2;
  }
  if (options === undefined) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const controller = new AbortController();
  const onSignal = (): void => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await body(options, controller.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
