// Draws the benchmark results as an SVG bar chart: requests/s of each server as a ratio to the
// scenario's baseline, one group of bars per scenario. No browser or library needed.
const COLORS = {
  raw: '#9aa5b1',
  sockserve: '#2f7ed8',
  python: '#e0a030',
  strategy: '#5aa469',
};

function color(server) {
  if (server.startsWith('sockserve')) return COLORS.sockserve;
  if (server.startsWith('python')) return COLORS.python;
  if (server.startsWith('raw')) return COLORS.raw;
  return COLORS.strategy;
}

const escape = (text) => String(text).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

export function chart(results) {
  const barHeight = 16;
  const gap = 4;
  const groupGap = 22;
  const labelWidth = 150;
  const plotWidth = 460;
  const left = labelWidth + 10;
  const maxRatio = Math.max(2, ...results.flatMap((scenario) => scenario.rows.map((row) => row.ratio)));
  const x = (ratio) => left + (ratio / maxRatio) * plotWidth;
  let y = 40;
  const parts = [];
  for (const scenario of results) {
    parts.push(`<text x="10" y="${y}" font-weight="bold">${escape(scenario.name)}</text>`);
    y += 8;
    for (const row of scenario.rows) {
      const width = Math.max(1, x(row.ratio) - left);
      parts.push(
        `<text x="${left - 6}" y="${y + barHeight - 4}" text-anchor="end">${escape(row.server)}</text>`,
        `<rect x="${left}" y="${y}" width="${width.toFixed(1)}" height="${barHeight}" fill="${color(row.server)}"/>`,
        `<text x="${(left + width + 4).toFixed(1)}" y="${y + barHeight - 4}">${row.ratio.toFixed(2)}x</text>`,
      );
      y += barHeight + gap;
    }
    y += groupGap;
  }
  const height = y;
  const one = x(1);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${left + plotWidth + 60}" height="${height}" font-family="sans-serif" font-size="12">`,
    '<rect width="100%" height="100%" fill="white"/>',
    '<text x="10" y="20" font-size="14" font-weight="bold">Requests per second, as a ratio to the baseline of each scenario (1.00x)</text>',
    `<line x1="${one.toFixed(1)}" y1="28" x2="${one.toFixed(1)}" y2="${height - 10}" stroke="#333" stroke-dasharray="4 3"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}
