/**
 * The `ssl3d` command line. This is the only code that reads process.argv or sets the exit code.
 * Each command lives in `commands/<name>.ts` and exports `register(program)`; the work itself is library code.
 */
import { Command, CommanderError } from 'commander';
import { Ssl3dError } from '../errors';
import { VERSION } from '../version';
import { COMMANDS } from './commands';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('ssl3d')
    .description(
      'Self-supervised pretraining (ViT autoencoder) and UNETR fine-tuning on 3D CT, in TypeScript on TensorFlow.js.\n' +
        'Run `ssl3d <command> --help` for the options of each command.',
    )
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .configureHelp({ sortSubcommands: false });
  for (const register of COMMANDS) register(program);
  return program;
}

/** Run the CLI; resolves to the exit code. */
export async function main(argv: string[] = process.argv): Promise<number> {
  const program = buildProgram();
  program.exitOverride();
  try {
    await program.parseAsync(argv);
    // a command may set a non-zero code without failing (e.g. 130 after a clean Ctrl-C stop)
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // commander already printed help/version/usage errors.
      return e.exitCode;
    }
    if (e instanceof Ssl3dError) {
      process.stderr.write(`ssl3d: error: ${e.message}\n`);
      return 1;
    }
    process.stderr.write(`ssl3d: internal error (please report):\n${(e as Error).stack ?? String(e)}\n`);
    return 2;
  }
}

if (require.main === module) {
  main().then((code) => {
    process.exitCode = code;
  });
}
