/** The YAML parser, imported dynamically by config.ts (only when there is a drydock.yaml to read). */
export { parse } from 'yaml';
