import { fileURLToPath } from 'node:url';

/** ../shared/fixtures beside the repository (read-only real data; read by path, never copied). */
export const SHARED_FIXTURES = fileURLToPath(new URL('../../../shared/fixtures/', import.meta.url));
