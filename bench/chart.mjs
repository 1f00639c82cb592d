// A small SVG chart of ratios against a baseline: one group of horizontal bars per scenario, one
// bar per client, on a log2 scale centred on 1 (the baseline), so that 2x better and 2x worse
// are the same length either side. No dependency: the SVG is written by hand.
//   ratioChart({ title, scenarios: [{ name, ratios: { client: ratio } }], series: [client] }) -> string

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
const LIMIT = 3; // log2 range shown each side: 1/8x to 8x; longer bars are cut and marked

const escape = (text) => String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function ratioChart({ title, scenarios, series }) {
  const bar = 12;
  const labelWidth = 230;
  const plotWidth = 520;
  const valueWidth = 60;
  const top = 60;
  const gap = 14;
  const width = labelWidth + plotWidth + valueWidth + 20;
  const groups = scenarios.map((s) => ({ ...s, rows: series.filter((name) => typeof s.ratios[name] === 'number' && s.ratios[name] > 0) }));
  const height = top + groups.reduce((h, g) => h + Math.max(1, g.rows.length) * bar + gap, 0) + 50;
  const x = (ratio) => labelWidth + plotWidth / 2 + (Math.max(-LIMIT, Math.min(LIMIT, Math.log2(ratio))) / LIMIT) * (plotWidth / 2);
  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`);
  out.push(`<rect width="100%" height="100%" fill="#fff"/>`);
  out.push(`<text x="10" y="20" font-size="14" font-weight="bold">${escape(title)}</text>`);
  // Legend.
  series.forEach((name, i) => {
    const lx = 10 + (i % 4) * 200;
    const ly = 32 + Math.floor(i / 4) * 14;
    out.push(`<rect x="${lx}" y="${ly - 9}" width="10" height="10" fill="${COLORS[i % COLORS.length]}"/><text x="${lx + 14}" y="${ly}">${escape(name)}</text>`);
  });
  // Grid: 1/8x .. 8x.
  const plotBottom = height - 40;
  for (let k = -LIMIT; k <= LIMIT; k++) {
    const gx = x(2 ** k);
    out.push(`<line x1="${gx}" y1="${top - 6}" x2="${gx}" y2="${plotBottom}" stroke="${k === 0 ? '#000' : '#ddd'}" stroke-width="${k === 0 ? 1.5 : 1}"/>`);
    const label = k >= 0 ? `${2 ** k}x` : `1/${2 ** -k}x`;
    out.push(`<text x="${gx}" y="${plotBottom + 14}" text-anchor="middle" fill="#555">${label}</text>`);
  }
  out.push(`<text x="${labelWidth + plotWidth / 2}" y="${plotBottom + 30}" text-anchor="middle" fill="#555">ratio against ws in the same run (log scale; right of 1x is better)</text>`);
  let y = top;
  for (const group of groups) {
    const groupHeight = Math.max(1, group.rows.length) * bar;
    out.push(`<text x="${labelWidth - 8}" y="${y + groupHeight / 2 + 4}" text-anchor="end">${escape(group.name)}</text>`);
    for (const name of group.rows) {
      const ratio = group.ratios[name];
      const x0 = x(1);
      const x1 = x(ratio);
      const color = COLORS[series.indexOf(name) % COLORS.length];
      const cut = Math.abs(Math.log2(ratio)) > LIMIT;
      out.push(
        `<rect x="${Math.min(x0, x1)}" y="${y + 1}" width="${Math.max(1, Math.abs(x1 - x0))}" height="${bar - 2}" fill="${color}"${cut ? ' fill-opacity="0.6"' : ''}><title>${escape(`${group.name}, ${name}: ${ratio.toFixed(2)}x`)}</title></rect>`,
      );
      out.push(`<text x="${labelWidth + plotWidth + 6}" y="${y + bar - 2}" fill="${color}">${ratio.toFixed(2)}x</text>`);
      y += bar;
    }
    if (group.rows.length === 0) y += bar;
    y += gap;
  }
  out.push('</svg>');
  return out.join('\n') + '\n';
}
