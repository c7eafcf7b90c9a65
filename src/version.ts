import { createRequire } from 'node:module';

// Read once from package.json so the version is written in one place only.
const require = createRequire(import.meta.url);
const pkg = require('../package.json') as { version: string };

export const VERSION: string = pkg.version;
