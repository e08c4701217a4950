/** `drydock policy validate <bundle.json|default>` */
import { isDrydockError } from '../../errors.js';
import { bundleDigest, loadDefaultBundle, parseBundle } from '../../policy/index.js';
import { usageLine } from '../args.js';
import { readBundleFile } from '../common.js';
import { EXIT, type CliIO } from '../io.js';
import { commandNamed, type Parsed } from '../options.js';

export async function run(args: Parsed, io: CliIO): Promise<number> {
  const [sub, path, ...extra] = args.positionals;
  if (sub !== 'validate' || !path || extra.length > 0) {
    io.stderr.write(`drydock: policy takes one subcommand: validate <bundle.json|default>\n${usageLine(commandNamed('policy')!)}\n`);
    return EXIT.usage;
  }
  try {
    const bundle = path === 'default' ? loadDefaultBundle() : parseBundle(await readBundleFile(path), path);
    const rules = bundle.policies.reduce((n, p) => n + p.rules.length, 0);
    io.stdout.write(
      `${path}: valid (version ${bundle.version}): ${bundle.policies.length} policies, ${rules} rules, ${bundle.allowlists.length} allowlists, ${bundle.mappings.length} mappings; ${bundleDigest(bundle)}\n`,
    );
    return EXIT.ok;
  } catch (e) {
    if (!isDrydockError(e)) throw e;
    io.stderr.write(`drydock: ${e.message}\n`);
    return EXIT.fail;
  }
}
