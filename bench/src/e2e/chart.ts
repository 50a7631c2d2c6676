// A small SVG line chart (two panels: throughput and lag over time), written by hand so the
// report needs no rendering dependency. Series are (x seconds, y) points.

export interface Series {
  name: string;
  points: [number, number][];
}

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2'];
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function panel(title: string, unit: string, series: Series[], y0: number, w: number, h: number, xMax: number): string {
  const left = 70;
  const right = 150;
  const top = y0 + 28;
  const ph = h - 60;
  const pw = w - left - right;
  const yMax = niceMax(Math.max(0, ...series.flatMap((s) => s.points.map((p) => p[1]))));
  const xs = (x: number) => left + (x / xMax) * pw;
  const ys = (y: number) => top + ph - (y / yMax) * ph;
  const out: string[] = [`<text x="${left}" y="${y0 + 18}" font-size="14" font-weight="bold">${esc(title)}</text>`];
  for (let i = 0; i <= 4; i++) {
    const v = (yMax * i) / 4;
    out.push(
      `<line x1="${left}" x2="${left + pw}" y1="${ys(v)}" y2="${ys(v)}" stroke="#ddd"/>`,
      `<text x="${left - 6}" y="${ys(v) + 4}" font-size="11" text-anchor="end">${Math.round(v).toLocaleString('en-US')}</text>`,
    );
  }
  for (let i = 0; i <= 5; i++) {
    const x = (xMax * i) / 5;
    out.push(`<text x="${xs(x)}" y="${top + ph + 16}" font-size="11" text-anchor="middle">${Math.round(x)} s</text>`);
  }
  out.push(
    `<text x="14" y="${top + ph / 2}" font-size="11" transform="rotate(-90 14 ${top + ph / 2})">${esc(unit)}</text>`,
  );
  series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length];
    const d = s.points.map((p, j) => `${j ? 'L' : 'M'}${xs(p[0]).toFixed(1)},${ys(p[1]).toFixed(1)}`).join('');
    if (d) out.push(`<path d="${d}" fill="none" stroke="${c}" stroke-width="1.5"/>`);
    out.push(
      `<rect x="${left + pw + 14}" y="${top + i * 18}" width="12" height="3" fill="${c}"/>`,
      `<text x="${left + pw + 32}" y="${top + i * 18 + 5}" font-size="12">${esc(s.name)}</text>`,
    );
  });
  out.push(`<rect x="${left}" y="${top}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`);
  return out.join('\n');
}

export function throughputLagSvg(throughput: Series[], lag: Series[], title: string): string {
  const w = 900;
  const h = 260;
  const xMax = Math.max(1, ...[...throughput, ...lag].flatMap((s) => s.points.map((p) => p[0])));
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${2 * h + 30}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${w / 2}" y="18" font-size="15" text-anchor="middle">${esc(title)}</text>`,
    panel('Throughput: items per second finishing each stage', 'items/s', throughput, 24, w, h, xMax),
    panel('Consumer lag per group (LagMonitor)', 'records behind', lag, h + 24, w, h, xMax),
    '</svg>',
  ].join('\n');
}
