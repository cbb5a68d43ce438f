// Runs as every public package's `prepublishOnly`: a package is published only by `pnpm release`
// (which builds everything, checks the addon's binaries, and publishes with changesets), never by a
// bare `npm publish` or `pnpm publish` that could ship an unbuilt package or a missing binary.
import { readFileSync } from 'node:fs';
import { missingPrebuilds } from './prebuilds.js';

const { name } = JSON.parse(readFileSync('package.json', 'utf8'));
const agent = process.env.npm_config_user_agent ?? '';
const problems = [];
if (process.env.SOCKSERVE_RELEASE !== '1') problems.push('it was not started by `pnpm release`');
if (!agent.startsWith('pnpm/')) problems.push(`it runs under ${agent.split(' ')[0] || 'an unknown client'}, not pnpm (npm would publish workspace: and catalog: ranges as they are)`);
if (name === '@sockserve/unix-dgram') {
  const missing = missingPrebuilds();
  if (missing.length > 0) problems.push(`the addon's prebuilt binaries are missing for ${missing.join(', ')} (the release workflow builds and gathers them)`);
}
if (problems.length > 0) {
  console.error(`Refusing to publish ${name}: ${problems.join('; ')}.\nPublish with \`pnpm release\` from the repository root (see CONTRIBUTING.md, "How to release").`);
  process.exit(1);
}
