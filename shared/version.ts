import pkg from '../package.json' with { type: 'json' };

export const TOOL = { name: 'drydock', version: pkg.version } as const;
