/** Help text, generated from the option tables (options.ts). */
import { COMMANDS, CONFIG_NOTE, envName, EXIT_NOTE, type CommandSpec, type OptionSpec } from './options.js';

const WIDTH = 100;

function wrap(text: string, indent: number, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && indent + line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

function optionHead(name: string, spec: OptionSpec): string {
  const shorts = [spec.short, ...(spec.aliases ?? []).filter((a) => a.length === 1)].filter(Boolean).map((s) => `-${s}`);
  const longs = [name, ...(spec.aliases ?? []).filter((a) => a.length > 1)].map((l) => `--${l}`);
  return `${shorts.length ? `${shorts.join(', ')}, ` : '    '}${longs.join(', ')}${spec.arg ? ` ${spec.arg}` : ''}`;
}

/** `drydock <command> --help` */
export function commandHelp(cmd: CommandSpec): string {
  const out = [`usage: ${cmd.usage[0]}`, ...cmd.usage.slice(1).map((u) => `       ${u}`), '', `  ${cmd.summary}`];
  const groups = new Map<string, Array<[string, OptionSpec]>>();
  for (const [name, spec] of Object.entries(cmd.options)) {
    const g = groups.get(spec.group) ?? [];
    g.push([name, spec]);
    groups.set(spec.group, g);
  }
  for (const [group, opts] of groups) {
    out.push('', `${group}:`);
    for (const [name, spec] of opts) {
      const head = `  ${optionHead(name, spec)}`;
      const env = envName(name, spec);
      const text = `${spec.help}${spec.multiple ? '' : ''}${env && name !== 'config' ? ` [${env}]` : ''}`;
      const body = wrap(text, 30, WIDTH);
      if (head.length <= 28) {
        out.push(`${head.padEnd(30)}${body[0] ?? ''}`);
        for (const l of body.slice(1)) out.push(`${' '.repeat(30)}${l}`);
      } else {
        out.push(head);
        for (const l of body) out.push(`${' '.repeat(30)}${l}`);
      }
    }
  }
  if (cmd.notes) out.push('', cmd.notes);
  if (cmd.name === 'scan') out.push('', CONFIG_NOTE, '', EXIT_NOTE);
  return `${out.join('\n')}\n`;
}

/** `drydock --help`: every command's usage, what each does, and where the rest is. */
export function topHelp(): string {
  const usage = COMMANDS.flatMap((c) => c.usage).map((u, i) => `${i === 0 ? 'usage: ' : '       '}${u}`);
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `${[
    ...usage,
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'drydock <command> --help shows its options.   drydock --version prints the version.',
    '',
    CONFIG_NOTE,
    '',
    EXIT_NOTE,
  ].join('\n')}\n`;
}
