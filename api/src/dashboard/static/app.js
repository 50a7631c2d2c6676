// The feedlog dashboard: draws the pipeline graph, the consumer groups, the live charts, dead
// letters, jobs and the replay from the server-sent events of GET /v1/events. No framework: the
// page is small, and every value goes into the DOM as text (never as HTML).

const SVG = 'http://www.w3.org/2000/svg';
const STAGES = ['classify', 'cluster', 'embed', 'index', 'materialize'];
const COLORS = { classify: '#2b6cb0', cluster: '#d69e2e', embed: '#38a169', index: '#805ad5', materialize: '#e53e3e' };
const WINDOW_S = 15 * 60;

const $ = (sel) => document.querySelector(sel);
const el = (tag, attrs = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(c == null ? '-' : String(c)));
  return e;
};
const svg = (tag, attrs = {}) => {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
};
const fmt = (n, digits = 0) =>
  n == null || Number.isNaN(n) ? '-' : Number(n).toLocaleString('en-US', { maximumFractionDigits: digits });
const time = (iso) => (iso ? new Date(iso).toLocaleTimeString() : '-');
const badge = (status) => el('span', { class: `badge s-${status}` }, status ?? '?');

// ---- the pipeline graph --------------------------------------------------------------------
const W = 100;
const H = 42;
const COL = 109;
const X0 = 6;
const layout = {
  'producer:ingest': [0, 0],
  'topic:raw-headlines': [1, 0],
  'stage:classify': [2, 0],
  'topic:classified': [3, 0],
  'stage:cluster': [4, 0],
  'topic:clustered': [5, 0],
  'stage:embed': [6, 0],
  'topic:embedded': [7, 0],
  'stage:index': [8, 0],
  'topic:indexed': [9, 0],
  'sink:index': [10, 1],
  'topic:classify.dlq': [2, 1],
  'topic:cluster.dlq': [4, 1],
  'topic:embed.dlq': [6, 1],
  'topic:index.dlq': [8, 1],
  'stage:materialize': [5, 2],
  'topic:materialize.dlq': [7, 2],
  'sink:postgres': [10, 2],
};
const ROWS = [20, 125, 225];
const pos = (id) => {
  const [c, r] = layout[id] ?? [10, 1];
  return { x: X0 + c * COL, y: ROWS[r] };
};
const stageNodes = new Map();

function drawGraph(graph) {
  const root = $('#graph');
  root.replaceChildren();
  const defs = svg('defs');
  const marker = svg('marker', {
    id: 'arrow',
    viewBox: '0 0 8 8',
    refX: 8,
    refY: 4,
    markerWidth: 7,
    markerHeight: 7,
    orient: 'auto',
  });
  marker.append(svg('path', { d: 'M0,0 L8,4 L0,8 z' }));
  defs.append(marker);
  root.append(defs);
  const kinds = new Map(graph.nodes.map((n) => [n.id, n.kind]));
  for (const e of graph.edges) {
    const a = pos(e.from);
    const b = pos(e.to);
    // leave a node from the side facing the other one, so edges do not cross the boxes
    const down = b.y > a.y + H;
    const up = a.y > b.y + H;
    const x1 = down || up ? a.x + W / 2 : a.x + (b.x > a.x ? W : 0);
    const y1 = down ? a.y + H : up ? a.y : a.y + H / 2;
    const x2 = down || up ? b.x + W / 2 : b.x + (b.x > a.x ? 0 : W);
    const y2 = down ? b.y : up ? b.y + H : b.y + H / 2;
    const dlq = kinds.get(e.to) === 'dlq';
    root.append(svg('line', { class: `edge${dlq ? ' dlq' : ''}`, x1, y1, x2, y2, 'marker-end': 'url(#arrow)' }));
  }
  for (const n of graph.nodes) {
    const p = pos(n.id);
    const g = svg('g', { class: `node ${n.kind}`, 'data-node': n.id, transform: `translate(${p.x},${p.y})` });
    g.append(svg('rect', { width: W, height: H, rx: 5 }));
    const label = svg('text', { x: W / 2, y: n.kind === 'stage' ? 15 : 25 });
    label.textContent = n.label.length > 17 ? `${n.label.slice(0, 16)}…` : n.label;
    g.append(label);
    if (n.kind === 'stage') {
      const status = svg('text', { class: 'status', x: W / 2, y: 27 });
      const rate = svg('text', { class: 'sub', x: W / 2, y: 38 });
      status.textContent = 'no group';
      g.append(status, rate);
      stageNodes.set(n.label, { g, status, rate });
    }
    if (n.kind === 'dlq') {
      const count = svg('text', { class: 'sub', x: W / 2, y: 37, 'data-dlq': n.label });
      g.append(count);
    }
    root.append(g);
  }
}

// Burrow's order: the group (and the graph's stage) takes its worst partition
const WORST = ['NOTFOUND', 'OK', 'WARN', 'ERR', 'STOP', 'STALL', 'REWIND'];
function paintGraph(groups) {
  for (const [stage, node] of stageNodes) {
    const mine = groups.filter((g) => g.stage === stage);
    if (mine.length === 0) {
      node.g.setAttribute('class', 'node stage');
      node.status.textContent = 'no group';
      node.rate.textContent = '';
      continue;
    }
    // the newest generation is what the graph shows; the table lists every group
    const gen = Math.max(...mine.map((g) => g.generation ?? 0));
    const cur = mine.filter((g) => (g.generation ?? 0) === gen);
    const status = cur.map((g) => g.status).sort((a, b) => WORST.indexOf(b) - WORST.indexOf(a))[0];
    const rate = cur.reduce((s, g) => s + (g.rate ?? 0), 0);
    const lag = cur.reduce((s, g) => s + g.pending, 0);
    node.g.setAttribute('class', `node stage s-${status}`);
    node.g.setAttribute('data-status', status);
    node.status.textContent = `${status}${gen ? ` · g${gen}` : ''}`;
    node.rate.textContent = `${fmt(rate, 1)}/s · lag ${fmt(lag)}`;
  }
}

// ---- groups table ---------------------------------------------------------------------------
const open = new Set();
function renderGroups(groups) {
  const body = $('#groups tbody');
  const rows = [];
  if (groups.length === 0)
    rows.push(el('tr', {}, el('td', { colspan: 9, class: 'muted' }, 'no consumer group of this pipeline yet')));
  for (const g of groups) {
    const tr = el(
      'tr',
      { class: 'group', 'data-group': g.group, 'data-status': g.status },
      el('td', {}, g.group),
      el('td', {}, g.stage),
      el('td', {}, g.generation),
      el('td', {}, g.state),
      el('td', {}, badge(g.status)),
      el('td', {}, g.members),
      el('td', { class: 'num' }, fmt(g.lag)),
      el('td', { class: 'num' }, fmt(g.lagSeconds, 1)),
      el('td', { class: 'num' }, fmt(g.rate, 1)),
    );
    tr.addEventListener('click', () => {
      if (open.has(g.group)) open.delete(g.group);
      else open.add(g.group);
      renderGroups(groups);
    });
    rows.push(tr);
    if (open.has(g.group)) {
      const t = el(
        'table',
        {},
        el(
          'tr',
          {},
          ...['topic', 'partition', 'committed', 'log end', 'lag', 'lag s', 'status'].map((h) => el('th', {}, h)),
        ),
      );
      for (const p of g.partitions)
        t.append(
          el(
            'tr',
            {},
            el('td', {}, p.topic),
            el('td', {}, p.partition),
            el('td', { class: 'num' }, fmt(p.committed)),
            el('td', { class: 'num' }, fmt(p.end)),
            el('td', { class: 'num' }, fmt(p.lag)),
            el('td', { class: 'num' }, fmt(p.lagSeconds, 1)),
            el('td', {}, badge(p.status)),
          ),
        );
      rows.push(el('tr', { class: 'parts' }, el('td', { colspan: 9 }, t)));
    }
  }
  body.replaceChildren(...rows);
}

// ---- charts ---------------------------------------------------------------------------------
const series = {
  t: [],
  lag: Object.fromEntries(STAGES.map((s) => [s, []])),
  rate: Object.fromEntries(STAGES.map((s) => [s, []])),
};
let lagChart;
let rateChart;

function makeChart(target, label) {
  const width = Math.max(300, target.clientWidth - 8);
  return new uPlot(
    {
      width,
      height: 220,
      // at least a minute wide: one point alone would otherwise stretch the axis over years
      scales: { x: { time: true, range: (_u, min, max) => (max - min < 60 ? [max - 60, max + 1] : [min, max]) } },
      axes: [{}, { label, size: 60 }],
      series: [{}, ...STAGES.map((s) => ({ label: s, stroke: COLORS[s], width: 1.6, spanGaps: true }))],
      legend: { live: false },
    },
    [[], ...STAGES.map(() => [])],
    target,
  );
}

function pushPoint(p) {
  series.t.push(p.t / 1000);
  for (const s of STAGES) {
    series.lag[s].push(p.lag[s] ?? null);
    series.rate[s].push(p.rate[s] ?? null);
  }
  const horizon = p.t / 1000 - WINDOW_S;
  while (series.t.length && series.t[0] < horizon) {
    series.t.shift();
    for (const s of STAGES) {
      series.lag[s].shift();
      series.rate[s].shift();
    }
  }
}

function redrawCharts() {
  if (!lagChart) return;
  lagChart.setData([series.t, ...STAGES.map((s) => series.lag[s])]);
  rateChart.setData([series.t, ...STAGES.map((s) => series.rate[s])]);
  $('#chart-lag').setAttribute('data-points', String(series.t.length));
  $('#chart-rate').setAttribute('data-points', String(series.t.length));
}

// ---- PostgreSQL figures -----------------------------------------------------------------------
function renderOps(ops) {
  const counts = $('#dlq-counts');
  const by = ops.deadLetters.byStage;
  counts.replaceChildren(
    ...STAGES.map((s) =>
      el('span', { class: `chip${by[s]?.count ? ' bad' : ''}`, 'data-stage': s }, `${s}: ${fmt(by[s]?.count ?? 0)}`),
    ),
  );
  for (const t of document.querySelectorAll('#graph [data-dlq]')) {
    const stage = t.getAttribute('data-dlq').replace(/\.dlq$/, '');
    t.textContent = `${fmt(by[stage]?.count ?? 0)} dead`;
  }
  const dl = ops.deadLetters.recent;
  $('#dlq tbody').replaceChildren(
    ...(dl.length
      ? dl.map((d) =>
          el(
            'tr',
            {},
            el('td', {}, time(d.failed_at)),
            el('td', {}, d.stage),
            el('td', {}, (d.item_id ?? '-').slice(0, 12)),
            el('td', { class: 'wrap' }, `${d.error_class ?? ''}: ${(d.message ?? '').slice(0, 120)}`),
            el('td', { class: 'wrap' }, d.source),
          ),
        )
      : [el('tr', {}, el('td', { colspan: 5, class: 'muted' }, 'no dead letters'))]),
  );
  $('#jobs tbody').replaceChildren(
    ...(ops.jobs.length
      ? ops.jobs.map((j) => {
          const bar = el('progress', { max: '1', value: String(j.done_ratio ?? 0) });
          return el(
            'tr',
            { 'data-job': j.job_id },
            el('td', {}, j.job_id.slice(0, 18)),
            el('td', {}, j.kind),
            el('td', {}, j.status),
            el('td', {}, bar, ` ${fmt((j.done_ratio ?? 0) * 100)}%`),
            el('td', { class: 'num' }, fmt(j.items)),
            el('td', { class: 'num' }, fmt(j.failures?.total)),
            el('td', {}, time(j.created_at)),
          );
        })
      : [el('tr', {}, el('td', { colspan: 7, class: 'muted' }, 'no jobs yet'))]),
  );
  const r = ops.replay;
  const box = $('#replay');
  if (!r) {
    box.className = 'muted';
    box.textContent = 'no replay in progress';
  } else {
    box.className = '';
    box.replaceChildren(
      el('strong', {}, `replay ${r.id}`),
      ` · ${r.stage} → generation ${r.generation} (${(r.stages ?? []).join(' → ')}) · ${r.status} · started ${time(r.created_at)}`,
      el('pre', {}, JSON.stringify(r.progress ?? {}, null, 1).slice(0, 600)),
    );
  }
  if (ops.error) $('#asof').textContent = `PostgreSQL: ${ops.error}`;
}

// ---- the event stream -------------------------------------------------------------------------
function setConn(state, text) {
  const c = $('#conn');
  c.setAttribute('data-state', state);
  c.textContent = text;
  document.body.classList.toggle('stale', state !== 'connected');
}

let lastAt = null;
function connect() {
  const es = new EventSource('/v1/events');
  es.onopen = () => setConn('connected', 'live');
  es.onerror = () => {
    // EventSource reconnects by itself (retry sent by the server); the page keeps its figures
    setConn('disconnected', `disconnected${lastAt ? ` · last figures from ${time(lastAt)}` : ''} · reconnecting…`);
  };
  es.addEventListener('history', (e) => {
    // a restarted API has less history than this page: keep the page's older points, then the server's
    const points = JSON.parse(e.data);
    const from = points.length ? points[0].t / 1000 : Number.POSITIVE_INFINITY;
    let keep = series.t.findIndex((t) => t >= from);
    if (keep < 0) keep = series.t.length;
    series.t.length = keep;
    for (const s of STAGES) {
      series.lag[s].length = keep;
      series.rate[s].length = keep;
    }
    for (const p of points) pushPoint(p);
    redrawCharts();
  });
  es.addEventListener('point', (e) => {
    pushPoint(JSON.parse(e.data));
    redrawCharts();
  });
  es.addEventListener('lag', (e) => {
    const lag = JSON.parse(e.data);
    lastAt = lag.at;
    $('#asof').textContent = `sampled ${time(lag.at)}`;
    const err = $('#lag-error');
    // a failed sample keeps the last groups on screen; warnings say what part could not be read
    const problems = [lag.error ? `lag sample failed: ${lag.error}` : '', ...(lag.warnings ?? [])].filter(Boolean);
    err.hidden = problems.length === 0;
    err.textContent = problems.join(' · ');
    renderGroups(lag.groups);
    paintGraph(lag.groups);
  });
  es.addEventListener('ops', (e) => renderOps(JSON.parse(e.data)));
}

async function start() {
  for (;;) {
    try {
      const r = await fetch('/v1/dashboard/graph');
      if (r.ok) {
        drawGraph(await r.json());
        break;
      }
    } catch {
      setConn('disconnected', 'API unreachable · retrying…');
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
  lagChart = makeChart($('#chart-lag'), 'records');
  rateChart = makeChart($('#chart-rate'), 'records/s');
  connect();
}

start();
