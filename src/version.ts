/** The package version, read from package.json at run time (dist/ and src/ both sit one level below it). */
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const VERSION: string = (require('../package.json') as { version: string }).version;
