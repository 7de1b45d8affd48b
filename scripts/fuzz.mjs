// `npm run fuzz`: the long fuzzing mode (test/fuzz/long.ts). The TypeScript is loaded through tsx, as in the tests.
import { register } from 'tsx/esm/api';

register();
const { runCli } = await import('../test/fuzz/long.ts');
process.exitCode = await runCli(process.argv.slice(2));
