// Stand-alone entry until the main CLI registers the command:
//   npx tsx processors/classify/src/run-cli.ts train classify --data <file> [...]
import { Command } from 'commander';
import { registerClassifyCommands } from './cli.ts';

const program = new Command('feedlog-classify').showHelpAfterError();
registerClassifyCommands(program);
program.parseAsync(process.argv).catch((e: unknown) => {
  process.stderr.write(`error: ${(e as Error).message}\n`);
  process.exit(1);
});
