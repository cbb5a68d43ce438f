// Packs every public package with pnpm (which rewrites workspace: and catalog: ranges and runs
// each package's prepack build) into a folder, and lists what each tarball holds.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('..', import.meta.url));

/** The public packages: { name, version, dir }. */
export function publicPackages() {
  return readdirSync(join(root, 'packages'))
    .map((folder) => ({ dir: join(root, 'packages', folder), manifest: join(root, 'packages', folder, 'package.json') }))
    .map(({ dir, manifest }) => ({ dir, ...JSON.parse(readFileSync(manifest, 'utf8')) }))
    .filter((pkg) => !pkg.private)
    .map(({ name, version, dir }) => ({ name, version, dir }));
}

/** The pnpm the repository pins, as a command: pnpm itself when it is the one running us. */
export function pnpmCommand() {
  const pinned = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).packageManager;
  if (process.env.npm_config_user_agent?.startsWith(`${pinned.replace('@', '/')} `) && process.env.npm_execpath) {
    return [process.execPath, process.env.npm_execpath];
  }
  return ['npx', '--yes', pinned];
}

/** Packs each public package into `destination`; resolves with [{ name, version, tarball, files }]. */
export function packAll(destination) {
  const [command, ...prefix] = pnpmCommand();
  return publicPackages().map((pkg) => {
    const out = execFileSync(command, [...prefix, 'pack', '--pack-destination', destination], { cwd: pkg.dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    const tarball = out.trim().split('\n').filter((line) => line.endsWith('.tgz')).at(-1);
    const files = execFileSync('tar', ['-tzvf', tarball], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .map((line) => {
        const parts = line.trim().split(/\s+/);
        return { size: Number(parts[2]), path: parts.at(-1).replace(/^package\//, '') };
      });
    return { ...pkg, tarball, files };
  });
}
