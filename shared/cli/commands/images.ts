/** `drydock images`: recently analysed images on the deployed stack. */
import { DrydockError } from '../../errors.js';
import type { CliIO } from '../io.js';
import { IMAGES_OPTIONS, type Parsed, type Values } from '../options.js';
import { table, withStack, type DepsFactory } from '../stack.js';

export function run(args: Parsed, io: CliIO, depsFor?: DepsFactory): Promise<number> {
  return withStack(io, (deps) => images(args, io, deps), depsFor);
}

async function images(args: Parsed, io: CliIO, depsFor: DepsFactory): Promise<number> {
  const values = args.values as Values<typeof IMAGES_OPTIONS>;
  const limit = Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new DrydockError('CONFIG', `--limit needs a whole number from 1 to 1000, got "${values.limit}"`);
  if (values.output !== 'table' && values.output !== 'json') throw new DrydockError('CONFIG', `unknown output "${values.output}" (table, json)`);
  const deps = await depsFor(['imagesTable']);
  const list = await deps.images.list({ limit, ...(values.repository ? { repository: values.repository } : {}) });
  if (values.output === 'json') {
    io.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
    return 0;
  }
  const rows = list.map((r) => [r.repository, (r.tags ?? []).join(',') || '-', r.digest.slice(0, 19), r.status, r.lastVerdict?.status ?? '-', String(r.lastVerdict?.findings ?? '-'), r.updatedAt]);
  io.stdout.write(rows.length ? table(['REPOSITORY', 'TAGS', 'DIGEST', 'STATUS', 'VERDICT', 'FINDINGS', 'UPDATED'], rows) : 'no images yet\n');
  return 0;
}
