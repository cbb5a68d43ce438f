// The one way sockserve is published.
//
//   pnpm release              build everything, check the addon's binaries, publish with changesets
//   pnpm release --dry-run    build and pack every public package; print exactly what would be
//                             published (names, versions, every file and its size); publish nothing
//   node scripts/release.js --check-prebuilds    only check the addon's binaries (release workflow)
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { cleanBuilds } from './clean.js';
import { packAll, pnpmCommand, publicPackages, root } from './pack.js';
import { missingPrebuilds, requiredPrebuilds } from './prebuilds.js';

const { values } = parseArgs({ options: { 'dry-run': { type: 'boolean', default: false }, 'check-prebuilds': { type: 'boolean', default: false } } });

const missing = missingPrebuilds();
if (values['check-prebuilds']) {
  if (missing.length > 0) {
    console.error(`Missing prebuilt binaries of @sockserve/unix-dgram: ${missing.join(', ')}`);
    process.exit(1);
  }
  console.log(`All ${requiredPrebuilds.length} prebuilt binaries of @sockserve/unix-dgram are there.`);
  process.exit(0);
}

const [command, ...prefix] = pnpmCommand();
const run = (args, env = {}) => {
  const result = spawnSync(command, [...prefix, ...args], { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  if (result.status !== 0) process.exit(result.status ?? 1);
};

// A fresh build of every public package: no stale dist/ is ever published (not even files left by
// a source that was renamed or deleted, which `tsc -b --force` would keep).
cleanBuilds(publicPackages().map((pkg) => pkg.dir));
run(['exec', 'tsc', '-b']);

if (values['dry-run']) {
  const destination = mkdtempSync(join(tmpdir(), 'sockserve-release-'));
  try {
    const packs = packAll(destination);
    let total = 0;
    for (const pack of packs) {
      const size = pack.files.reduce((sum, file) => sum + file.size, 0);
      total += size;
      console.log(`\n${pack.name}@${pack.version}: ${pack.files.length} files, ${(size / 1024).toFixed(1)} KiB unpacked`);
      for (const file of pack.files) console.log(`  ${String(file.size).padStart(9)}  ${file.path}`);
    }
    let pending;
    try {
      pending = execFileSync(command, [...prefix, 'exec', 'changeset', 'status'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (error) {
      pending = `${error.stdout ?? ''}${error.stderr ?? ''}`;
    }
    console.log(`\nChangesets waiting to be versioned (\`pnpm changeset version\` applies them):\n${pending.trim()}`);
    console.log(
      `\nDry run: ${packs.length} packages, ${(total / 1024).toFixed(0)} KiB unpacked. ` +
        (missing.length > 0
          ? `The addon's binaries for ${missing.join(', ')} are missing here: a real release gets them from the release workflow, and refuses to publish without them.`
          : 'All prebuilt binaries are there.'),
    );
  } finally {
    rmSync(destination, { recursive: true, force: true });
  }
  process.exit(0);
}

if (missing.length > 0) {
  console.error(`Refusing to publish: the addon's prebuilt binaries are missing for ${missing.join(', ')}. The release workflow builds and gathers them.`);
  process.exit(1);
}
// Each package's prepublishOnly checks that it runs from here, under pnpm.
run(['exec', 'changeset', 'publish'], { SOCKSERVE_RELEASE: '1' });
