// The addon's prebuilt binaries a release must carry, and a check of packages/unix-dgram/prebuilds.
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const prebuildsDir = fileURLToPath(new URL('../packages/unix-dgram/prebuilds/', import.meta.url));

/** Every platform a release ships a binary for: folder, and the libc tag its file must carry. */
export const requiredPrebuilds = [
  { folder: 'linux-x64', tag: 'glibc' },
  { folder: 'linux-x64', tag: 'musl' },
  { folder: 'linux-arm64', tag: 'glibc' },
  { folder: 'linux-arm64', tag: 'musl' },
  { folder: 'darwin-x64' },
  { folder: 'darwin-arm64' },
];

/** The required binaries that are missing, as "folder (tag)" strings. */
export function missingPrebuilds() {
  return requiredPrebuilds
    .filter(({ folder, tag }) => {
      const dir = prebuildsDir + folder;
      if (!existsSync(dir)) return true;
      return !readdirSync(dir).some((file) => file.endsWith('.node') && (tag === undefined || file.split('.').includes(tag)));
    })
    .map(({ folder, tag }) => (tag ? `${folder} (${tag})` : folder));
}
