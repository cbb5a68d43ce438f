// Removes what `tsc -b` wrote: each package's and example's dist/ and build info.
//
//   pnpm clean
//
// Unlike `tsc -b --clean`, which deletes only the outputs of the current sources, this also removes
// files left by sources that were renamed or deleted, so that nothing stale can be packed.
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Removes `dist/` and `tsconfig.tsbuildinfo` in each of `dirs`. */
export function cleanBuilds(dirs) {
  for (const dir of dirs) {
    rmSync(join(dir, 'dist'), { recursive: true, force: true });
    rmSync(join(dir, 'tsconfig.tsbuildinfo'), { force: true });
  }
}

/** Every package and example folder that `tsc -b` builds. */
export function buildDirs() {
  return ['packages', 'examples']
    .flatMap((group) => readdirSync(join(root, group)).map((folder) => join(root, group, folder)))
    .filter((dir) => existsSync(join(dir, 'tsconfig.json')));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) cleanBuilds(buildDirs());
