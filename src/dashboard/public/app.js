// spear-mesh dashboard client: listens to /api/events (server-sent events) and renders the current view.
// Plain browser JavaScript, no framework, no network access beyond this origin (the page's CSP says so too).

const VIEWS = ['mesh', 'tasks', 'consul', 'drills', 'agents'];
const SVG_NS = 'http://www.w3.org/2000/svg';
let snapshot = null;

/** h('div', {class: 'x'}, child, 'text') builds an element; attributes starting with 'on' are listeners. */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : String(c));
  return el;
}

function svg(tag, attrs) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

const fmt = (v, digits = 1) => (v === null || v === undefined ? '–' : Number(v).toFixed(digits));
const fmtInt = (v) => (v === null || v === undefined ? '–' : String(Math.round(v)));

/** A sparkline of one or more series (arrays with nulls for gaps); `label` describes it for screen readers. */
function sparkline(series, label) {
  const width = 300;
  const height = 42;
  const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, class: 'spark', role: 'img', 'aria-label': label });
  const values = series.flatMap((s) => s.data.filter((v) => v !== null));
  const max = Math.max(1e-9, ...values);
  for (const s of series) {
    const n = s.data.length;
    let d = '';
    let pen = false;
    s.data.forEach((v, i) => {
      if (v === null) {
        pen = false;
        return;
      }
      const x = n <= 1 ? width : (i / (n - 1)) * width;
      const y = height - 2 - (v / max) * (height - 4);
      d += `${pen ? 'L' : 'M'}${x.toFixed(1)},${y.toFixed(1)} `;
      pen = true;
    });
    if (d !== '') root.append(svg('path', { d, fill: 'none', stroke: s.color, 'stroke-width': 1.5 }));
  }
  return root;
}

function statusOf(s) {
  if (s.down) return 'down';
  if (s.health !== 'passing' || s.ready === false || s.adminError !== null) return 'degraded';
  return 'up';
}

/** The latest poll's value (null when that poll had none: no traffic, or the metrics did not answer). */
function lastValue(arr) {
  return arr.length === 0 ? null : arr[arr.length - 1];
}

function spearletCard(s) {
  const status = statusOf(s);
  return h(
    'article',
    { class: 'card', 'data-spearlet': s.id, 'data-status': status, 'aria-label': `spearlet ${s.id}: ${status}` },
    h('h4', {}, h('span', {}, s.id), h('span', { class: `badge ${status}` }, status.toUpperCase())),
    h(
      'div',
      { class: 'muted' },
      `${s.address}:${s.port}`,
      s.version ? ` · v${s.version}` : '',
      s.pid ? ` · pid ${s.pid}` : '',
    ),
    s.reasons.length > 0
      ? h(
          'ul',
          { class: 'reasons' },
          s.reasons.map((r) => h('li', {}, r)),
        )
      : null,
    h(
      'dl',
      { class: 'stats' },
      h('div', {}, h('dt', {}, 'Consul'), h('dd', {}, s.health)),
      h('div', {}, h('dt', {}, 'ready'), h('dd', {}, s.ready === null ? '?' : s.ready ? 'yes' : 'no')),
      h('div', {}, h('dt', {}, 'sessions'), h('dd', {}, fmtInt(s.sessions))),
      h('div', {}, h('dt', {}, 'in-flight'), h('dd', {}, fmtInt(s.inFlight))),
      h('div', {}, h('dt', {}, 'req/s'), h('dd', {}, fmt(lastValue(s.series.rps)))),
      h('div', {}, h('dt', {}, 'p50 ms'), h('dd', {}, fmt(lastValue(s.series.p50), 2))),
      h('div', {}, h('dt', {}, 'p99 ms'), h('dd', {}, fmt(lastValue(s.series.p99), 2))),
      h('div', {}, h('dt', {}, 'tasks'), h('dd', {}, s.tasks === null ? '–' : String(s.tasks.length))),
    ),
    h('div', { class: 'spark-label' }, 'req/s, last 5 minutes'),
    sparkline([{ data: s.series.rps, color: '#116329' }], `requests per second of ${s.id}`),
    h(
      'div',
      { class: 'spark-label' },
      'latency ms: ',
      h('span', { class: 'legend-p50' }, 'p50'),
      ' / ',
      h('span', { class: 'legend-p99' }, 'p99'),
    ),
    sparkline(
      [
        { data: s.series.p50, color: '#0b57d0' },
        { data: s.series.p99, color: '#9a3412' },
      ],
      `p50 and p99 latency of ${s.id}`,
    ),
  );
}

function renderMesh(root) {
  const byZone = new Map();
  for (const s of snapshot.spearlets) {
    const z = s.zone ?? '(no zone)';
    if (!byZone.has(z)) byZone.set(z, []);
    byZone.get(z).push(s);
  }
  if (byZone.size === 0) return root.replaceChildren(h('p', {}, `No spearlets registered as "${snapshot.service}".`));
  const up = snapshot.spearlets.filter((s) => !s.down).length;
  root.replaceChildren(
    h('p', { id: 'mesh-summary' }, `${snapshot.spearlets.length} spearlets, ${up} up`),
    ...[...byZone.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([zone, list]) =>
        h(
          'section',
          { class: 'zone', 'aria-label': `zone ${zone}` },
          h('h3', {}, `zone ${zone}`),
          h('div', { class: 'cards' }, list.map(spearletCard)),
        ),
      ),
  );
}

function table(caption, headers, rows) {
  return h(
    'table',
    {},
    caption ? h('caption', {}, caption) : null,
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        headers.map((t) => h('th', { scope: 'col' }, t)),
      ),
    ),
    h(
      'tbody',
      {},
      rows.map((r) =>
        h(
          'tr',
          {},
          r.map((c) => (c instanceof Node && c.tagName === 'TD' ? c : h('td', {}, c))),
        ),
      ),
    ),
  );
}

function renderTasks(root) {
  const parts = snapshot.spearlets.map((s) => {
    if (s.tasks === null)
      return h('p', {}, h('strong', {}, s.id), ': no task runtime (or the admin API did not answer)');
    if (s.tasks.length === 0) return h('p', {}, h('strong', {}, s.id), ': no tasks');
    return table(
      `spearlet ${s.id}`,
      ['task', 'command', 'state', 'protocol', 'connected', 'pid', 'restarts', 'started'],
      s.tasks.map((t) => [
        t.id,
        t.command,
        t.state,
        t.protocol ?? '–',
        t.protocol === null ? 'no' : 'yes',
        t.pid ?? '–',
        String(t.restarts),
        t.startedAt,
      ]),
    );
  });
  root.replaceChildren(...(parts.length > 0 ? parts : [h('p', {}, 'No spearlets.')]));
}

function renderConsul(root) {
  root.replaceChildren(
    table(
      'Services',
      ['service', 'tags', 'instances', 'passing', 'warning', 'critical'],
      snapshot.services.map((s) => [
        s.name,
        s.tags.join(', '),
        String(s.instances),
        String(s.passing),
        String(s.warning),
        String(s.critical),
      ]),
    ),
    table(
      'Checks',
      ['check', 'service', 'node', 'status', 'output'],
      snapshot.checks.map((c) => [
        c.name || c.checkId,
        c.serviceName || '–',
        c.node,
        h('td', {}, h('span', { class: `badge ${c.status}` }, c.status)),
        h('td', { class: 'output' }, c.output),
      ]),
    ),
  );
}

let kvPrefix = '';
async function renderKv() {
  const root = document.getElementById('kv-body');
  const res = await fetch(`/api/kv?prefix=${encodeURIComponent(kvPrefix)}`);
  const body = await res.json();
  if (!res.ok) return root.replaceChildren(h('p', { class: 'bad' }, body.message ?? `HTTP ${res.status}`));
  const crumbs = [h('button', { class: 'link', type: 'button', onclick: () => openPrefix('') }, '(root)')];
  let acc = '';
  for (const part of kvPrefix.split('/').filter(Boolean)) {
    acc += `${part}/`;
    const target = acc;
    crumbs.push(' / ', h('button', { class: 'link', type: 'button', onclick: () => openPrefix(target) }, part));
  }
  const items = body.keys.map((k) =>
    h(
      'li',
      {},
      k.endsWith('/')
        ? h('button', { class: 'link', type: 'button', onclick: () => openPrefix(k) }, `${k.slice(kvPrefix.length)}`)
        : h('button', { class: 'link', type: 'button', onclick: () => openKey(k) }, k.slice(kvPrefix.length)),
    ),
  );
  root.replaceChildren(
    h('p', {}, 'Prefix: ', ...crumbs),
    items.length > 0 ? h('ul', { id: 'kv-keys' }, items) : h('p', { class: 'muted' }, 'No keys.'),
    h('div', { id: 'kv-value' }),
  );
}

function openPrefix(p) {
  kvPrefix = p;
  void renderKv();
}

async function openKey(key) {
  const res = await fetch(`/api/kv/value?key=${encodeURIComponent(key)}`);
  const body = await res.json();
  const target = document.getElementById('kv-value');
  if (!res.ok) return target.replaceChildren(h('p', {}, body.error ?? `HTTP ${res.status}`));
  target.replaceChildren(
    h(
      'h4',
      {},
      key,
      h('span', { class: 'muted' }, ` · ${body.size} bytes · ${body.encoding} · index ${body.modifyIndex}`),
    ),
    h('pre', { class: 'kv', tabindex: '0', 'aria-label': `value of ${key}` }, body.value),
  );
}

async function renderDrills() {
  const root = document.getElementById('drills-body');
  const res = await fetch('/api/drills');
  const body = await res.json();
  if (body.dir === null)
    return root.replaceChildren(h('p', {}, 'No drill directory configured (dashboard --drill-dir DIR).'));
  const help = h(
    'p',
    { class: 'muted' },
    'Reports written to ',
    h('code', {}, body.dir),
    ' appear here, e.g. ',
    h('code', {}, `spear-mesh drill --consul … --report ${body.dir}/kill.json`),
  );
  if (body.runs.length === 0) return root.replaceChildren(help, h('p', {}, 'No drill runs yet.'));
  root.replaceChildren(
    help,
    table(
      null,
      ['run', 'fault', 'target', 'result', 'sent', 'failed', 'lost', 'detection ms', 'recovery ms', 'written'],
      body.runs.map((r) => [
        h('td', {}, h('button', { class: 'link', type: 'button', onclick: () => openDrill(r.name) }, r.name)),
        r.fault,
        r.target,
        h('td', {}, h('span', { class: `badge ${r.passed ? 'passing' : 'critical'}` }, r.passed ? 'passed' : 'failed')),
        String(r.sent),
        String(r.failed),
        String(r.lost),
        fmtInt(r.detectionMs),
        fmtInt(r.recoveryMs),
        r.modifiedAt,
      ]),
    ),
  );
}

async function openDrill(name) {
  const res = await fetch(`/api/drills/${encodeURIComponent(name)}`);
  const r = await res.json();
  const target = document.getElementById('drill-detail');
  if (!res.ok) return target.replaceChildren(h('p', {}, r.error ?? `HTTP ${res.status}`));
  const phase = (p) => [String(p.count), fmt(p.p50Ms, 2), fmt(p.p99Ms, 2), fmt(p.maxMs, 2)];
  target.replaceChildren(
    h('h3', {}, `Drill ${name}: ${r.fault} on ${r.target}`),
    h('img', {
      class: 'chart',
      src: `/api/drills/${encodeURIComponent(name)}/chart.svg`,
      alt: `throughput and errors over time during the ${r.fault} drill; fault at ${r.faultAtMs} ms`,
    }),
    table(
      'Latency by phase',
      ['phase', 'requests', 'p50 ms', 'p99 ms', 'max ms'],
      [
        ['before', ...phase(r.latency.before)],
        ['during', ...phase(r.latency.during)],
        ['after', ...phase(r.latency.after)],
      ],
    ),
    Object.keys(r.errors).length === 0
      ? h('p', {}, 'No request failed.')
      : table(
          'Errors',
          ['code', 'count'],
          Object.entries(r.errors).map(([k, v]) => [k, String(v)]),
        ),
  );
}

function renderAgents(root) {
  if (snapshot.agents.length === 0)
    return root.replaceChildren(
      h(
        'p',
        {},
        'No agents configured. Give the dashboard --agent NAME=URL for agents started with spear-mesh call --metrics-port, or MeshClient({ metricsRegistry }).',
      ),
    );
  root.replaceChildren(
    h(
      'div',
      { class: 'cards' },
      snapshot.agents.map((a) =>
        h(
          'article',
          {
            class: 'card',
            'data-agent': a.name,
            'data-status': a.error ? 'down' : 'up',
            'aria-label': `agent ${a.name}`,
          },
          h(
            'h4',
            {},
            h('span', {}, a.name),
            h('span', { class: `badge ${a.error ? 'down' : 'up'}` }, a.error ? 'UNREACHABLE' : 'OK'),
          ),
          h('div', { class: 'muted' }, a.source),
          a.error ? h('ul', { class: 'reasons' }, h('li', {}, a.error)) : null,
          h(
            'dl',
            { class: 'stats' },
            h('div', {}, h('dt', {}, 'calls/s'), h('dd', {}, fmt(lastValue(a.series.rps)))),
            h('div', {}, h('dt', {}, 'errors/s'), h('dd', {}, fmt(a.errorsPerSec))),
            h('div', {}, h('dt', {}, 'p50 ms'), h('dd', {}, fmt(lastValue(a.series.p50), 2))),
            h('div', {}, h('dt', {}, 'p99 ms'), h('dd', {}, fmt(lastValue(a.series.p99), 2))),
            h('div', {}, h('dt', {}, 'in-flight'), h('dd', {}, fmtInt(a.inFlight))),
            h('div', {}, h('dt', {}, 'queued'), h('dd', {}, fmtInt(a.queued))),
            h('div', {}, h('dt', {}, 'retries'), h('dd', {}, fmtInt(a.retries))),
            h('div', {}, h('dt', {}, 'retry budget'), h('dd', {}, fmtInt(a.retryBudget))),
          ),
          h('div', { class: 'spark-label' }, 'calls/s, last 5 minutes'),
          sparkline([{ data: a.series.rps, color: '#116329' }], `calls per second of ${a.name}`),
          h(
            'div',
            { class: 'spark-label' },
            'latency ms: ',
            h('span', { class: 'legend-p50' }, 'p50'),
            ' / ',
            h('span', { class: 'legend-p99' }, 'p99'),
          ),
          sparkline(
            [
              { data: a.series.p50, color: '#0b57d0' },
              { data: a.series.p99, color: '#9a3412' },
            ],
            `p50 and p99 call latency of ${a.name}`,
          ),
          a.endpoints.length > 0
            ? table(
                'Connections',
                ['spearlet', 'state'],
                a.endpoints.map((e) => [e.spearlet, e.state]),
              )
            : null,
        ),
      ),
    ),
  );
}

function currentView() {
  const v = location.hash.slice(1);
  return VIEWS.includes(v) ? v : 'mesh';
}

function render() {
  const view = currentView();
  if (snapshot === null) return;
  document.getElementById('consul-addr').textContent = snapshot.consul.address;
  document.getElementById('consul-error').textContent = snapshot.consul.error
    ? `· unreachable: ${snapshot.consul.error}`
    : '';
  if (view === 'mesh') renderMesh(document.getElementById('mesh-body'));
  else if (view === 'tasks') renderTasks(document.getElementById('tasks-body'));
  else if (view === 'consul') renderConsul(document.getElementById('consul-body'));
  else if (view === 'agents') renderAgents(document.getElementById('agents-body'));
  // Drill reports are files the CLI writes: look for new ones every few seconds while the view is open.
  else if (view === 'drills' && Date.now() - drillsFetchedAt > 5000) {
    drillsFetchedAt = Date.now();
    void renderDrills();
  }
}
let drillsFetchedAt = 0;

function showView() {
  const view = currentView();
  for (const v of VIEWS) {
    document.getElementById(`view-${v}`).hidden = v !== view;
    const tab = document.getElementById(`tab-${v}`);
    if (v === view) tab.setAttribute('aria-current', 'page');
    else tab.removeAttribute('aria-current');
  }
  render();
  if (view === 'consul') void renderKv();
  if (view === 'drills') {
    drillsFetchedAt = Date.now();
    void renderDrills();
  }
}

function connect() {
  const live = document.getElementById('live');
  const events = new EventSource('/api/events');
  events.addEventListener('snapshot', (e) => {
    snapshot = JSON.parse(e.data);
    live.textContent = `live · ${new Date(snapshot.at).toLocaleTimeString()}`;
    document.body.dataset.updated = String(snapshot.at);
    render();
  });
  events.addEventListener('error', () => {
    live.textContent = 'reconnecting…';
  });
}

window.addEventListener('hashchange', showView);
showView();
connect();
