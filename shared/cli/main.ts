/**
 * The drydock command: reads which command, its options (command line, DRYDOCK_* variables,
 * drydock.yaml) from the tables in options.ts, and runs that command's module, imported only
 * then. `drydock --version` loads nothing else.
 */
import { configFlag, closest, resolveOptions } from './args.js';
import { EXIT, UsageError, type CliIO } from './io.js';
import { COMMANDS, commandNamed } from './options.js';
import { TOOL } from '../version.js';

export { EXIT, type CliIO } from './io.js';

const TOP_USAGE = 'usage: drydock <command> [options]  (drydock --help lists the commands)';

export async function main(argv: string[], io: CliIO): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '-v' || command === '--version') {
    io.stdout.write(`${TOOL.name} ${TOOL.version}\n`);
    return EXIT.ok;
  }
  if (!command || command === '-h' || command === '--help' || command === 'help') {
    const { topHelp, commandHelp } = await import('./help.js');
    const about = command === 'help' && rest[0] ? commandNamed(rest[0]) : undefined;
    (command ? io.stdout : io.stderr).write(about ? commandHelp(about) : topHelp());
    return command ? EXIT.ok : EXIT.usage;
  }
  const spec = commandNamed(command);
  if (!spec) {
    const guess = closest(command, COMMANDS.map((c) => c.name));
    io.stderr.write(`drydock: unknown ${command.startsWith('-') ? 'option' : 'command'} '${command}'${guess ? ` (did you mean ${guess}?)` : ''}\n${TOP_USAGE}\n`);
    return EXIT.usage;
  }
  try {
    const named = configFlag(rest) ?? (io.env.DRYDOCK_CONFIG || undefined);
    const { loadConfigFile } = await import('./config.js');
    const config = await loadConfigFile(named, io.cwd ?? process.cwd());
    const args = resolveOptions(spec, rest, io.env, config);
    if (args.values.help) {
      const { commandHelp } = await import('./help.js');
      io.stdout.write(commandHelp(spec));
      return EXIT.ok;
    }
    const mod = await spec.load();
    return await mod.run(args, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr.write(`drydock: ${e.message}\n${e.usageLine ?? `usage: ${spec.usage[0]}  (drydock ${spec.name} --help shows every option)`}\n`);
      return EXIT.usage;
    }
    throw e;
  }
}
