// The package's version, read once from package.json (two levels above the compiled file).
import { readFileSync } from 'node:fs';

export const PACKAGE_VERSION: string = (() => {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
})();
