/** `drydock completion bash|zsh|fish`: a completion script generated from the option tables. */
import { usageLine } from '../args.js';
import { EXIT, type CliIO } from '../io.js';
import { COMMANDS, commandNamed, type CommandSpec, type OptionSpec, type Parsed } from '../options.js';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;

/** One short line of help, safe inside the quoting each shell uses. */
function brief(text: string): string {
  const first = text.split(/[.;(]/)[0]!.trim();
  return (first.length > 60 ? `${first.slice(0, 57)}...` : first).replace(/[[\]:'"`$\\]/g, '');
}

function flags(name: string, spec: OptionSpec): string[] {
  return [`--${name}`, ...(spec.short ? [`-${spec.short}`] : []), ...(spec.aliases ?? []).map((a) => (a.length === 1 ? `-${a}` : `--${a}`))];
}

export function bashCompletion(commands: readonly CommandSpec[] = COMMANDS): string {
  const cases = commands.map((c) => {
    const opts = Object.entries(c.options);
    const valued = opts.filter(([, s]) => s.type === 'string');
    const valueCases = valued.map(([n, s]) => {
      const action = s.values ? `COMPREPLY=($(compgen -W "${s.values.join(' ')}" -- "$cur"))` : s.complete === 'dir' ? 'COMPREPLY=($(compgen -d -- "$cur"))' : s.complete === 'file' ? 'COMPREPLY=($(compgen -f -- "$cur"))' : 'COMPREPLY=()';
      return `        ${flags(n, s).join('|')}) ${action}; return ;;`;
    });
    const all = opts.flatMap(([n, s]) => flags(n, s).filter((f) => f.startsWith('--')));
    const positional = c.positional?.values ? `COMPREPLY=($(compgen -W "${c.positional.values.join(' ')}" -- "$cur"))` : c.name === 'scan' ? 'COMPREPLY=($(compgen -f -- "$cur"))' : 'COMPREPLY=()';
    return `    ${c.name})
      case "$prev" in
${valueCases.join('\n')}
      esac
      if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W "${all.join(' ')}" -- "$cur")); else ${positional}; fi ;;`;
  });
  return `# drydock completion for bash: source <(drydock completion bash)
_drydock() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "${commands.map((c) => c.name).join(' ')} --help --version" -- "$cur"))
    return
  fi
  case "\${COMP_WORDS[1]}" in
${cases.join('\n')}
  esac
}
complete -o default -F _drydock drydock
`;
}

export function zshCompletion(commands: readonly CommandSpec[] = COMMANDS): string {
  const fns = commands.map((c) => {
    const specs = Object.entries(c.options).map(([n, s]) => {
      const names = flags(n, s);
      const excl = names.length > 1 ? `(${names.join(' ')})` : '';
      const rep = s.multiple ? '*' : '';
      const head = names.length > 1 ? `${rep}'${excl}'{${names.join(',')}}'` : `'${rep}${names[0]}`;
      const value = s.type === 'boolean' ? '' : `:${(s.arg ?? 'value').replace(/[<>:[\]'"]/g, '')}:${s.values ? `(${s.values.map((v) => v.replace(/ /g, '\\ ')).join(' ')})` : s.complete === 'dir' ? '_files -/' : s.complete === 'file' ? '_files' : ' '}`;
      return `    ${head}[${brief(s.help)}]${value}'`;
    });
    const pos = c.positional?.values ? `    '1:${c.name}:(${c.positional.values.join(' ')})' '*:file:_files'` : c.name === 'scan' ? "    '1:image:_files'" : "    '*::arg:'";
    return `_drydock_${c.name}() {\n  _arguments -s \\\n${[...specs, pos].join(' \\\n')}\n}`;
  });
  return `#compdef drydock
# drydock completion for zsh: drydock completion zsh > "\${fpath[1]}/_drydock"
${fns.join('\n\n')}

_drydock() {
  local -a commands
  commands=(
${commands.map((c) => `    '${c.name}:${brief(c.summary)}'`).join('\n')}
  )
  if (( CURRENT == 2 )); then
    _describe 'command' commands
    return
  fi
  local cmd=\${words[2]}
  shift words
  (( CURRENT-- ))
  case $cmd in
${commands.map((c) => `    ${c.name}) _drydock_${c.name} ;;`).join('\n')}
  esac
}

if [[ "\${zsh_eval_context[-1]}" == loadautofunc ]]; then _drydock "$@"; else compdef _drydock drydock; fi
`;
}

export function fishCompletion(commands: readonly CommandSpec[] = COMMANDS): string {
  const lines = [
    '# drydock completion for fish: drydock completion fish > ~/.config/fish/completions/drydock.fish',
    'complete -c drydock -f',
    ...commands.map((c) => `complete -c drydock -n __fish_use_subcommand -a ${c.name} -d '${brief(c.summary)}'`),
  ];
  for (const c of commands) {
    const cond = `-n '__fish_seen_subcommand_from ${c.name}'`;
    for (const [n, s] of Object.entries(c.options)) {
      const names = [`-l ${n}`, ...(s.short ? [`-s ${s.short}`] : []), ...(s.aliases ?? []).map((a) => (a.length === 1 ? `-s ${a}` : `-l ${a}`))];
      const value = s.type === 'boolean' ? '' : s.values ? ` -x -a '${s.values.map((v) => v.replace(/ /g, '\\ ')).join(' ')}'` : s.complete ? ' -r -F' : ' -x';
      lines.push(`complete -c drydock ${cond} ${names.join(' ')}${value} -d '${brief(s.help)}'`);
    }
    if (c.positional?.values) lines.push(`complete -c drydock ${cond} -a '${c.positional.values.join(' ')}'`);
    if (c.name === 'scan') lines.push(`complete -c drydock ${cond} -F`);
  }
  return `${lines.join('\n')}\n`;
}

export async function run(args: Parsed, io: CliIO): Promise<number> {
  const shell = args.positionals[0];
  if (args.positionals.length !== 1 || !(SHELLS as readonly string[]).includes(shell!)) {
    io.stderr.write(`drydock: completion takes one shell: ${SHELLS.join(', ')}\n${usageLine(commandNamed('completion')!)}\n`);
    return EXIT.usage;
  }
  io.stdout.write(shell === 'bash' ? bashCompletion() : shell === 'zsh' ? zshCompletion() : fishCompletion());
  return Promise.resolve(EXIT.ok);
}
