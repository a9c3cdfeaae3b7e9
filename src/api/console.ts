import type { Route } from './server.js';

/**
 * The web console: one static page that reads the same API as every other client (cluster
 * view, jobs, a job's runs) and refreshes itself. All data goes into the page through
 * textContent, never as HTML.
 */
const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>chime</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#222}
h1{font-size:1.3rem;margin:0 0 .5rem} h2{font-size:1.05rem;margin:1.5rem 0 .4rem}
table{border-collapse:collapse;width:100%} th,td{text-align:left;padding:.25rem .6rem;border-bottom:1px solid #ddd;white-space:nowrap}
th{background:#f4f4f4} tr.sel{background:#eef5ff} tr[data-job]{cursor:pointer}
.muted{color:#777} .bad{color:#b00} .good{color:#070} #err{color:#b00;min-height:1.2em}
button{font:inherit}
</style></head><body>
<h1>chime <span id="summary" class="muted"></span></h1>
<div id="err"></div>
<h2>Cluster</h2><table id="members"><thead><tr><th>id</th><th>role</th><th>voter</th><th>rpc</th><th>http</th><th>match</th><th>last contact</th></tr></thead><tbody></tbody></table>
<h2>Jobs</h2><table id="jobs"><thead><tr><th>id</th><th>schedule</th><th>enabled</th><th>executor</th><th>next fire</th><th>last scheduled</th><th></th></tr></thead><tbody></tbody></table>
<h2>Runs <span id="runsof" class="muted"></span></h2><table id="runs"><thead><tr><th>run</th><th>scheduled</th><th>trigger</th><th>attempt</th><th>status</th><th>nodes</th><th>finished</th></tr></thead><tbody></tbody></table>
<script>
let selected = null;
const text = (v) => (v === null || v === undefined || v === '' ? '-' : String(v));
function fill(table, rows, decorate) {
  const body = document.querySelector('#' + table + ' tbody');
  body.replaceChildren(...rows.map((cells) => {
    const tr = document.createElement('tr');
    for (const c of cells.cells) { const td = document.createElement('td'); if (c instanceof Node) td.append(c); else td.textContent = text(c); tr.append(td); }
    if (decorate) decorate(tr, cells); return tr;
  }));
}
async function get(path) { const r = await fetch(path); if (!r.ok) throw new Error(path + ': ' + r.status); return r.json(); }
async function refresh() {
  try {
    const c = await get('/v1/cluster?stale=true');
    document.getElementById('summary').textContent = 'node ' + c.id + ' · leader ' + text(c.leader) + ' · term ' + c.term + ' · commit ' + c.commitIndex + ' · applied ' + c.appliedIndex;
    fill('members', c.members.map((m) => ({ cells: [m.id, m.role, m.voter ? 'yes' : 'no', m.rpc, m.http, m.matchIndex, m.lastContactMs === null ? null : m.lastContactMs + ' ms'] })));
    const jobs = await get('/v1/jobs?stale=true&limit=200');
    fill('jobs', jobs.items.map((j) => {
      const run = document.createElement('button'); run.textContent = 'run now';
      run.onclick = async (e) => { e.stopPropagation(); const r = await fetch('/v1/jobs/' + encodeURIComponent(j.id) + '/run', { method: 'POST' }); if (!r.ok) document.getElementById('err').textContent = 'run ' + j.id + ': ' + r.status; refresh(); };
      return { id: j.id, cells: [j.id, j.schedule, j.enabled ? 'yes' : 'paused', j.executor.type === 'shell' ? j.executor.command : j.executor.method + ' ' + j.executor.url, j.nextFireAt, j.lastScheduledAt, run] };
    }), (tr, row) => { tr.dataset.job = row.id; if (row.id === selected) tr.className = 'sel'; tr.onclick = () => { selected = row.id; refresh(); }; });
    if (selected !== null) {
      document.getElementById('runsof').textContent = 'of ' + selected;
      const runs = await get('/v1/jobs/' + encodeURIComponent(selected) + '/runs?stale=true&limit=50');
      fill('runs', runs.items.map((r) => ({ status: r.status, cells: [r.runId, r.scheduledAt, r.trigger, r.attempt, r.status, [...new Set(r.executions.map((e) => e.node))].join(','), r.finishedAt] })),
        (tr, row) => { const s = tr.children[4]; s.className = row.status === 'succeeded' ? 'good' : ['failed', 'timed_out', 'lost', 'killed'].includes(row.status) ? 'bad' : ''; });
    }
    document.getElementById('err').textContent = '';
  } catch (e) { document.getElementById('err').textContent = String(e); }
}
refresh(); setInterval(refresh, 2000);
</script></body></html>`;

export function consoleRoutes(): Route[] {
  return [
    {
      method: 'GET',
      path: '/',
      write: false,
      handle: async ({ res }) => {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': "default-src 'self'; script-src 'unsafe-inline' 'self'; style-src 'unsafe-inline'" });
        res.end(PAGE);
      },
    },
  ];
}
