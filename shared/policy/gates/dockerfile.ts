/**
 * Gate `dockerfile` (Anchore's names). Drydock is never given the Dockerfile: like Anchore's
 * "guessed" mode it reads the image config — its User and ExposedPorts, and the history's
 * created_by lines as Dockerfile instructions (see parseHistoryLine). With no image config,
 * no trigger but no_dockerfile_provided fires.
 *
 * Trigger `effective_user` — fires once when the config's User (empty = root) is (type
 * denylist) or is not (type allowlist) in `users`. "0" and "root" name the same user and a
 * "user:group" User is matched by its user part too. Trigger id: the effective user.
 *   users   (required) list of user names / ids
 *   type    (required) allowlist | denylist (Anchore's older whitelist | blacklist accepted)
 *
 * Trigger `exposed_ports` — from the config's ExposedPorts ("22/tcp"). denylist: fires for each
 * listed port exposed over tcp or udp; allowlist: for each exposed port not listed. A port 0
 * in the list stands for "any port" (Anchore's). Trigger id: the port number ("22").
 *   ports                    (required) list of port numbers
 *   type                     (required) allowlist | denylist (whitelist | blacklist accepted)
 *   actual_dockerfile_only   default false; true = evaluate only against a user-provided
 *                            Dockerfile, which Drydock never has: the trigger never fires
 *
 * Trigger `instruction` — fires for each history instruction of the kind that satisfies the
 * check, trigger id "<INSTRUCTION> <arguments>" (an allowlist item can end in "*"); for
 * not_exists once, trigger id the instruction. FROM never appears in image history, so no
 * rule on FROM can see one.
 *   instruction              (required) ADD ARG CMD COPY ENTRYPOINT ENV EXPOSE FROM
 *                            HEALTHCHECK LABEL MAINTAINER ONBUILD RUN SHELL STOPSIGNAL USER
 *                            VOLUME WORKDIR (any case)
 *   check                    (required) = != exists not_exists like not_like in not_in
 *                            (like: RE2 regex anchored at the start, as Anchore's re.match;
 *                            in: comma-separated list)
 *   value                    the value compared with the instruction's arguments (needed by
 *                            all checks but exists / not_exists; without it nothing fires)
 *   actual_dockerfile_only   as above
 *
 * Trigger `no_dockerfile_provided` — Anchore fires it when no actual Dockerfile was supplied,
 * which for Drydock is always; here it fires when not even a guessed one exists: the image
 * has no config or no build history. Trigger id "no_dockerfile_provided".
 */
import { RE2JS } from 're2js';
import { DrydockError } from '../../errors.js';
import type { Gate, ImageConfigSummary, ParamSpec, Trigger, TriggerFire } from '../types.js';

export const DIRECTIVES = ['ADD', 'ARG', 'CMD', 'COPY', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'FROM', 'HEALTHCHECK', 'LABEL', 'MAINTAINER', 'ONBUILD', 'RUN', 'SHELL', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR'] as const;
const DIRECTIVE_SET = new Set<string>(DIRECTIVES);

export interface Instruction {
  instruction: string;
  args: string;
}

const SHELL_PREFIX = /^(?:\/bin\/(?:ba)?sh|\/usr\/bin\/(?:ba)?sh|sh|bash) -c\s+/;

/**
 * One history created_by line as a Dockerfile instruction:
 *   classic builder   "/bin/sh -c #(nop)  EXPOSE 22/tcp", "/bin/sh -c apt-get update" (a RUN),
 *                     "|2 A=1 B=2 /bin/sh -c make" (a RUN with build args)
 *   BuildKit          "EXPOSE map[22/tcp:{}]", "RUN /bin/sh -c apt-get update # buildkit",
 *                     "COPY . /app # buildkit"
 * RUN arguments lose the shell prefix and EXPOSE's "map[22/tcp:{} ...]" becomes "22/tcp ...".
 * Lines that name no instruction give undefined.
 */
export function parseHistoryLine(createdBy: string): Instruction | undefined {
  let s = createdBy.trim().replace(/\s+# buildkit$/, '');
  const args = /^\|(\d+)\s+/.exec(s);
  if (args) {
    const rest = s.slice(args[0].length).split(/\s+/);
    s = rest.slice(Number(args[1])).join(' ');
  }
  let instruction: string;
  let rest: string;
  const nop = /^(?:\/bin\/)?sh -c #\(nop\)\s*/.exec(s);
  if (nop) {
    const body = s.slice(nop[0].length);
    const m = /^(\S+)\s*([\s\S]*)$/.exec(body);
    if (!m) return undefined;
    instruction = m[1]!.toUpperCase();
    rest = m[2]!;
    if (!DIRECTIVE_SET.has(instruction)) return undefined;
  } else if (SHELL_PREFIX.test(s)) {
    instruction = 'RUN';
    rest = s;
  } else {
    const m = /^(\S+)\s*([\s\S]*)$/.exec(s);
    if (!m || !DIRECTIVE_SET.has(m[1]!.toUpperCase())) return undefined;
    instruction = m[1]!.toUpperCase();
    rest = m[2]!;
  }
  if (instruction === 'RUN') rest = rest.replace(SHELL_PREFIX, '');
  if (instruction === 'EXPOSE') {
    const map = /^map\[(.*)\]$/.exec(rest.trim());
    if (map) rest = map[1]!.split(/\s+/).map((p) => p.replace(/:\{\}$/, '')).filter(Boolean).join(' ');
  }
  return { instruction, args: rest.trim() };
}

function instructionsOf(config: ImageConfigSummary): Instruction[] {
  return config.history.map((h) => parseHistoryLine(h.createdBy)).filter((x): x is Instruction => x !== undefined);
}

const LIST_TYPES = ['allowlist', 'denylist', 'whitelist', 'blacklist'];
const isAllow = (type: string) => type === 'allowlist' || type === 'whitelist';

const actualOnly: ParamSpec = {
  name: 'actual_dockerfile_only',
  type: 'boolean',
  default: 'false',
  description: 'Only evaluate against a user-provided Dockerfile (Drydock never has one: the trigger then never fires).',
};

function anchoredMatch(pattern: string, s: string): boolean {
  let re: RE2JS;
  try {
    re = RE2JS.compile(pattern);
  } catch (e) {
    throw new DrydockError('CONFIG', `dockerfile instruction: invalid regex in value "${pattern}": ${e instanceof Error ? e.message : String(e)}`);
  }
  return re.matcher(s).lookingAt();
}

const effectiveUser: Trigger = {
  name: 'effective_user',
  description: 'Checks if the effective user matches the provided user names, as an allowlist or a denylist depending on type.',
  params: [
    { name: 'users', type: 'list', required: true, description: 'User names to check against as the effective user.' },
    { name: 'type', type: 'enum', values: LIST_TYPES, required: true, description: 'How to treat the provided user names.' },
  ],
  evaluate(ctx, p) {
    const config = ctx.image.config;
    if (!config) return [];
    const users = p.users as string[];
    const allow = isAllow(p.type as string);
    const user = config.user?.trim() || 'root';
    const name = user.split(':')[0] || 'root';
    const names = new Set([user, name]);
    if (name === '0') names.add('root');
    if (name === 'root') names.add('0');
    const listed = users.some((u) => names.has(u));
    if (allow && !listed) return [{ triggerId: user, message: `User ${user} found as effective user, which is not on the allowed list` }];
    if (!allow && listed) return [{ triggerId: user, message: `User ${user} found as effective user, which is explicitly not allowed` }];
    return [];
  },
};

const exposedPorts: Trigger = {
  name: 'exposed_ports',
  description: 'Evaluates the set of ports exposed: with type allowlist any port not in the list fires, with type denylist any port in the list fires.',
  params: [
    { name: 'ports', type: 'list', required: true, description: 'List of port numbers.' },
    { name: 'type', type: 'enum', values: LIST_TYPES, required: true, description: 'Whether to use the port list as an allowlist or a denylist.' },
    actualOnly,
  ],
  evaluate(ctx, p) {
    const config = ctx.image.config;
    if (!config || p.actual_dockerfile_only === true) return [];
    const ports = new Set(p.ports as string[]);
    const allow = isAllow(p.type as string);
    const exposed = config.exposedPorts.map((e) => ({ spec: e, port: e.split('/')[0] ?? e }));
    if (!exposed.length) return [];
    const out: TriggerFire[] = [];
    if (ports.has('0')) {
      const list = exposed.map((e) => e.spec).join(', ');
      return exposed.map((e) => ({ triggerId: e.port, message: `Image exposes port ${e.spec} but the policy ${allow ? 'allows' : 'denies'} port 0 (${allow ? 'none' : 'any'}): ${list}` }));
    }
    const seen = new Set<string>();
    for (const e of exposed) {
      if (ports.has(e.port) === allow || seen.has(e.spec)) continue;
      seen.add(e.spec);
      out.push({ triggerId: e.port, message: allow ? `Image exposes port ${e.spec}, which is not in the policy's allowed ports` : `Image exposes port ${e.spec}, which is in the policy's denied ports` });
    }
    return out;
  },
};

const CHECKS = ['=', '!=', 'exists', 'not_exists', 'like', 'not_like', 'in', 'not_in'];

const instruction: Trigger = {
  name: 'instruction',
  description: 'Triggers if any instruction of the kind is found to match the described condition in the (history-inferred) Dockerfile.',
  params: [
    { name: 'instruction', type: 'enum', values: [...DIRECTIVES, ...DIRECTIVES.map((d) => d.toLowerCase())], required: true, description: 'The Dockerfile instruction to check.' },
    { name: 'check', type: 'enum', values: CHECKS, required: true, description: 'The type of check to perform.' },
    { name: 'value', type: 'string', description: 'The value to check the Dockerfile instruction against.' },
    actualOnly,
  ],
  evaluate(ctx, p) {
    const config = ctx.image.config;
    if (!config || p.actual_dockerfile_only === true) return [];
    const directive = (p.instruction as string).toUpperCase();
    const check = p.check as string;
    const value = p.value as string | undefined;
    if (check !== 'exists' && check !== 'not_exists' && (value === undefined || value === '')) return [];
    const lines = instructionsOf(config).filter((i) => i.instruction === directive);
    if (check === 'not_exists') {
      return lines.length ? [] : [{ triggerId: directive, message: `Dockerfile directive '${directive}' not found, matching condition 'not_exists' check` }];
    }
    const list = value?.split(',').map((v) => v.trim()) ?? [];
    const test = (args: string): boolean => {
      switch (check) {
        case '=':
          return args === value;
        case '!=':
          return args !== value;
        case 'exists':
          return true;
        case 'like':
          return anchoredMatch(value!, args);
        case 'not_like':
          return !anchoredMatch(value!, args);
        case 'in':
          return list.includes(args);
        case 'not_in':
          return !list.includes(args);
        default:
          return false;
      }
    };
    return lines
      .filter((l) => test(l.args))
      .map((l) => ({ triggerId: `${directive} ${l.args}`, message: `Dockerfile directive '${directive}' check '${check}' matched against '${value ?? ''}' for line '${l.args}'` }));
  },
};

const noDockerfile: Trigger = {
  name: 'no_dockerfile_provided',
  description: 'Triggers if no Dockerfile can be inferred for the image: it has no config or no build history.',
  params: [],
  evaluate(ctx) {
    const config = ctx.image.config;
    if (config && config.history.length) return [];
    return [{ triggerId: 'no_dockerfile_provided', message: config ? 'Image has no build history: no Dockerfile can be inferred' : 'Image config is not available: no Dockerfile can be inferred' }];
  },
};

export const dockerfileGate: Gate = {
  name: 'dockerfile',
  description: 'Checks against the Dockerfile inferred from the image config and build history.',
  triggers: [instruction, effectiveUser, exposedPorts, noDockerfile],
};
