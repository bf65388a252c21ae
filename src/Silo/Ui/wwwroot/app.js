// The MetaNode view: reads the silo's JSON under /ui/api/ every second and updates the page in place.
// Rows and cells are kept and only their text changes, so nothing flickers and nothing is reloaded.
'use strict';

(() => {
  const POLL_MS = 1000;
  const SVG = 'http://www.w3.org/2000/svg';

  // ---- small DOM helpers ----------------------------------------------------------------------------------------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === 'text') node.textContent = value;
      else node.setAttribute(name, value === true ? '' : String(value));
    }
    for (const child of children) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (name === 'text') node.textContent = value;
      else node.setAttribute(name, String(value));
    }
    for (const child of children) node.append(child);
    return node;
  }

  const dash = '—';
  const text = (value) => (value === null || value === undefined || value === '' ? dash : String(value));
  const fixed = (value, digits) => (typeof value === 'number' ? value.toFixed(digits) : dash);
  const short = (hash) => (typeof hash === 'string' && hash.length > 18 ? hash.slice(0, 10) + '…' + hash.slice(-6) : text(hash));
  const enc = encodeURIComponent;

  function duration(ms) {
    if (typeof ms !== 'number') return dash;
    return ms < 1000 ? ms.toFixed(0) + ' ms' : (ms / 1000).toFixed(2) + ' s';
  }

  function time(iso) {
    if (!iso) return dash;
    const d = new Date(iso);
    if (Number.isNaN(d.getTime()) || d.getUTCFullYear() < 2000) return dash;
    return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  }

  const FINISHED = new Set(['Completed', 'Failed', 'Cancelled']);
  const GOOD = new Set(['Running', 'Ready', 'Completed', 'Healthy']);
  const BAD = new Set(['Failed', 'Degraded', 'Unhealthy', 'Cancelled']);
  const IDLE = new Set(['Stopped', 'Deleted', 'None', 'Unknown']);
  function tone(state) {
    return GOOD.has(state) ? 'good' : BAD.has(state) ? 'bad' : IDLE.has(state) ? 'idle' : 'busy';
  }

  // A cell's content: plain text, a badge, a link, or a number shown rounded but carrying its exact value.
  const badge = (state) => ({ text: text(state), cls: 'badge ' + tone(state) });
  const link = (label, href, title) => ({ text: text(label), href, title });
  const number = (value, shown) => ({ text: shown, value: value === null || value === undefined ? '' : String(value) });

  function setCell(cell, content) {
    const c = typeof content === 'object' && content !== null ? content : { text: text(content) };
    const signature = JSON.stringify(c);
    if (cell.dataset.sig === signature) return;
    cell.dataset.sig = signature;
    if ('value' in c) cell.dataset.value = c.value;
    else delete cell.dataset.value;
    if (c.title) cell.title = c.title;
    else cell.removeAttribute('title');
    if (c.href) {
      cell.replaceChildren(el('a', { href: c.href, class: c.cls, text: c.text }));
    } else if (c.cls) {
      cell.replaceChildren(el('span', { class: c.cls, text: c.text }));
    } else {
      cell.replaceChildren(document.createTextNode(c.text));
    }
  }

  // A table whose rows are kept by key: new keys add rows, gone keys remove them, the rest only change changed cells.
  function keyedTable(columns, attrs) {
    const body = el('tbody');
    const table = el('table', attrs, el('thead', {}, el('tr', {}, ...columns.map((c) => el('th', { class: c.cls, text: c.title })))), body);
    const rows = new Map();
    table.update = (items, keyOf) => {
      const seen = new Set();
      items.forEach((item, index) => {
        const key = String(keyOf(item));
        seen.add(key);
        let row = rows.get(key);
        if (!row) {
          row = el('tr', { 'data-key': key }, ...columns.map((c) => el('td', { 'data-field': c.key, class: c.cls })));
          rows.set(key, row);
        }
        columns.forEach((c, i) => setCell(row.children[i], c.cell(item)));
        if (body.children[index] !== row) body.insertBefore(row, body.children[index] || null);
      });
      for (const [key, row] of rows) {
        if (!seen.has(key)) {
          row.remove();
          rows.delete(key);
        }
      }
      table.classList.toggle('empty', items.length === 0);
    };
    return table;
  }

  // A definition list of facts, each kept by its key.
  function facts(entries) {
    const list = el('dl', { class: 'facts' });
    const cells = new Map();
    for (const [key, label] of entries) {
      const value = el('dd', { 'data-field': key });
      cells.set(key, value);
      list.append(el('div', {}, el('dt', { text: label }), value));
    }
    list.update = (values) => {
      for (const [key, cell] of cells) setCell(cell, values[key]);
    };
    return list;
  }

  function counter(node, count, noun) {
    const label = count + ' ' + noun + (count === 1 ? '' : 's');
    if (node.textContent !== label) node.textContent = label;
  }

  // ---- polling ------------------------------------------------------------------------------------------------------

  const errorBox = document.getElementById('error');
  const live = document.getElementById('live');

  function poll(url, render, keepGoing) {
    let stopped = false;
    const tick = async () => {
      try {
        const response = await fetch(url, { cache: 'no-store', credentials: 'same-origin', headers: { Accept: 'application/json' } });
        const body = await response.json().catch(() => ({ error: response.statusText }));
        if (!response.ok) throw new Error(body.error || ('HTTP ' + response.status));
        render(body);
        errorBox.hidden = true;
        live.classList.remove('stale');
        live.dataset.updated = new Date().toISOString();
        live.title = 'Updated ' + time(live.dataset.updated);
        if (keepGoing && !keepGoing(body)) stopped = true;
      } catch (failure) {
        errorBox.textContent = 'Could not read ' + url + ': ' + failure.message;
        errorBox.hidden = false;
        live.classList.add('stale');
      } finally {
        if (!stopped) setTimeout(tick, POLL_MS);
      }
    };
    tick();
  }

  const view = document.getElementById('view');
  function page(title, ...children) {
    document.title = title + ' · MetaNode';
    view.replaceChildren(el('h1', { text: title }), ...children);
  }

  // ---- vPods --------------------------------------------------------------------------------------------------------

  function vpodsPage() {
    const count = el('p', { class: 'muted', id: 'count' });
    const table = keyedTable([
      { key: 'id', title: 'ID', cell: (v) => v.id, cls: 'mono' },
      { key: 'name', title: 'Name', cell: (v) => v.name },
      { key: 'type', title: 'Type', cell: (v) => v.type },
      { key: 'runtime', title: 'Runtime', cell: (v) => v.runtime },
      { key: 'phase', title: 'Phase', cell: (v) => ({ ...badge(v.phase), title: v.reason || undefined }) },
      { key: 'health', title: 'Health', cell: (v) => badge(v.health) },
      { key: 'restarts', title: 'Restarts', cell: (v) => String(v.restarts), cls: 'num' },
      { key: 'silo', title: 'Silo', cell: (v) => v.silo, cls: 'mono' },
      { key: 'endpoint', title: 'Endpoint', cell: (v) => v.endpoint, cls: 'mono' },
      { key: 'address', title: 'Address', cell: (v) => ({ text: short(v.address), title: v.address || undefined }), cls: 'mono' },
      { key: 'cluster', title: 'Cluster', cell: (v) => v.cluster },
    ], { id: 'vpods' });
    page('vPods', count, el('div', { class: 'scroll' }, table));
    poll('/ui/api/vpods', (vpods) => {
      counter(count, vpods.length, 'vPod');
      table.update(vpods, (v) => v.id);
    });
  }

  // ---- clusters -----------------------------------------------------------------------------------------------------

  function clusterSection(name) {
    const section = el('section', { class: 'cluster', 'data-key': name });
    const members = keyedTable([
      { key: 'id', title: 'Member', cell: (m) => m.id, cls: 'mono' },
      { key: 'ordinal', title: '#', cell: (m) => String(m.ordinal), cls: 'num' },
      { key: 'phase', title: 'Phase', cell: (m) => ({ ...badge(m.phase), title: m.reason || undefined }) },
      { key: 'health', title: 'Health', cell: (m) => badge(m.health) },
      { key: 'restarts', title: 'Restarts', cell: (m) => String(m.restarts), cls: 'num' },
      { key: 'silo', title: 'Silo', cell: (m) => m.silo, cls: 'mono' },
      { key: 'leader', title: 'Leader', cell: (m) => (m.isLeader ? { text: 'leader', cls: 'badge good' } : '') },
    ], { class: 'members' });
    const history = keyedTable([
      { key: 'term', title: 'Term', cell: (c) => String(c.term), cls: 'num' },
      { key: 'leader', title: 'Leader', cell: (c) => c.leader, cls: 'mono' },
      { key: 'previous', title: 'Previous', cell: (c) => c.previousLeader, cls: 'mono' },
      { key: 'at', title: 'At (UTC)', cell: (c) => time(c.at) },
      { key: 'reason', title: 'Reason', cell: (c) => c.reason },
    ], { class: 'history' });
    const historyBlock = el('div', { class: 'history-block' }, el('h3', { text: 'Leader history' }), history);
    section.append(el('h2', { text: name }), el('div', { class: 'scroll' }, members), historyBlock);
    section.update = (c) => {
      members.update(c.members, (m) => m.id);
      history.update(c.leaderChanges, (h) => h.term + '|' + h.at);
      historyBlock.hidden = c.leaderChanges.length === 0;
    };
    return section;
  }

  function clustersPage() {
    const count = el('p', { class: 'muted', id: 'count' });
    const summary = keyedTable([
      { key: 'name', title: 'Cluster', cell: (c) => c.name },
      { key: 'type', title: 'Members', cell: (c) => c.memberType },
      { key: 'phase', title: 'Phase', cell: (c) => badge(c.phase) },
      { key: 'desired', title: 'Desired', cell: (c) => String(c.desired), cls: 'num' },
      { key: 'running', title: 'Running', cell: (c) => String(c.running), cls: 'num' },
      { key: 'members', title: 'Member vPods', cell: (c) => c.members.map((m) => m.id).join(' '), cls: 'mono' },
      { key: 'leader', title: 'Leader', cell: (c) => c.leader, cls: 'mono' },
      { key: 'term', title: 'Term', cell: (c) => String(c.term), cls: 'num' },
      { key: 'changes', title: 'Leader changes', cell: (c) => String(c.leaderChanges.length), cls: 'num' },
    ], { id: 'clusters' });
    const details = el('div', { id: 'cluster-details' });
    const sections = new Map();
    page('Clusters', count, el('div', { class: 'scroll' }, summary), details);
    poll('/ui/api/clusters', (clusters) => {
      counter(count, clusters.length, 'cluster');
      summary.update(clusters, (c) => c.name);
      const names = new Set(clusters.map((c) => c.name));
      clusters.forEach((c, index) => {
        let section = sections.get(c.name);
        if (!section) {
          section = clusterSection(c.name);
          sections.set(c.name, section);
        }
        section.update(c);
        if (details.children[index] !== section) details.insertBefore(section, details.children[index] || null);
      });
      for (const [name, section] of sections) {
        if (!names.has(name)) {
          section.remove();
          sections.delete(name);
        }
      }
    });
  }

  // ---- jobs -----------------------------------------------------------------------------------------------------------

  function jobsPage() {
    const count = el('p', { class: 'muted', id: 'count' });
    const table = keyedTable([
      { key: 'id', title: 'Job', cell: (j) => link(j.jobId, '/ui/jobs/' + enc(j.jobId)), cls: 'mono' },
      { key: 'phase', title: 'Phase', cell: (j) => badge(j.phase) },
      { key: 'round', title: 'Round', cell: (j) => j.round + '/' + j.totalRounds, cls: 'num' },
      { key: 'dataset', title: 'Data set', cell: (j) => j.dataset },
      { key: 'accuracy', title: 'Accuracy', cell: (j) => number(j.accuracy, fixed(j.accuracy, 4)), cls: 'num' },
      { key: 'created', title: 'Created (UTC)', cell: (j) => time(j.createdAt) },
      { key: 'updated', title: 'Updated (UTC)', cell: (j) => time(j.updatedAt) },
    ], { id: 'jobs' });
    page('Jobs', count, el('div', { class: 'scroll' }, table));
    poll('/ui/api/jobs', (jobs) => {
      counter(count, jobs.length, 'job');
      table.update(jobs, (j) => j.jobId);
    });
  }

  // Accuracy per round, drawn as an SVG line; the scale runs from a tenth below the lowest accuracy (or 0) to 1, and each
  // point carries its round and exact value.
  function accuracyPlot() {
    const width = 640;
    const height = 240;
    const m = { left: 48, right: 16, top: 16, bottom: 36 };
    const chart = svg('svg', { id: 'accuracy-plot', viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': 'Accuracy per round' });
    let drawn = '';
    chart.update = (rounds, totalRounds) => {
      const points = rounds.filter((r) => typeof r.accuracy === 'number').map((r) => [r.round, r.accuracy]);
      const last = Math.max(1, totalRounds || 0, ...points.map((p) => p[0]));
      const lowest = points.length > 0 ? Math.min(...points.map((p) => p[1])) : 0;
      const bottom = Math.max(0, Math.round(Math.floor(lowest * 10) - 1) / 10);
      const signature = JSON.stringify([points, last, bottom]);
      if (signature === drawn) return;
      drawn = signature;
      const x = (round) => m.left + (last === 1 ? (width - m.left - m.right) / 2 : ((round - 1) / (last - 1)) * (width - m.left - m.right));
      const y = (accuracy) => m.top + ((1 - accuracy) / (1 - bottom)) * (height - m.top - m.bottom);
      const parts = [];
      const step = 1 - bottom > 0.5 ? 0.25 : 0.1;
      const steps = Math.round((1 - bottom) / step);
      for (let i = 0; i <= steps; i++) {
        const tick = Math.round((bottom + i * step) * 100) / 100;
        parts.push(svg('line', { class: 'grid', x1: m.left, x2: width - m.right, y1: y(tick), y2: y(tick) }));
        parts.push(svg('text', { class: 'tick', x: m.left - 6, y: y(tick) + 4, 'text-anchor': 'end', text: tick.toFixed(2) }));
      }
      const every = Math.max(1, Math.ceil(last / 12));
      for (let round = 1; round <= last; round += every) {
        parts.push(svg('text', { class: 'tick', x: x(round), y: height - m.bottom + 16, 'text-anchor': 'middle', text: String(round) }));
      }
      parts.push(svg('text', { class: 'axis', x: (m.left + width - m.right) / 2, y: height - 4, 'text-anchor': 'middle', text: 'round' }));
      parts.push(svg('text', { class: 'axis', x: 12, y: m.top + (height - m.top - m.bottom) / 2, 'text-anchor': 'middle', transform: `rotate(-90 12 ${m.top + (height - m.top - m.bottom) / 2})`, text: 'accuracy' }));
      if (points.length > 0) {
        parts.push(svg('polyline', { class: 'line', points: points.map(([r, a]) => `${x(r).toFixed(1)},${y(a).toFixed(1)}`).join(' ') }));
      }
      for (const [round, accuracy] of points) {
        parts.push(svg('circle', { class: 'point', cx: x(round).toFixed(1), cy: y(accuracy).toFixed(1), r: 4, 'data-round': round, 'data-accuracy': String(accuracy) },
          svg('title', { text: `round ${round}: ${accuracy.toFixed(4)}` })));
      }
      if (points.length === 0) {
        parts.push(svg('text', { class: 'axis', x: width / 2, y: height / 2, 'text-anchor': 'middle', text: 'no finished round yet' }));
      }
      chart.replaceChildren(...parts);
    };
    return chart;
  }

  function jobPage(jobId) {
    const summary = facts([
      ['phase', 'Phase'], ['round', 'Round'], ['updatesIn', 'Updates in'], ['algorithm', 'Algorithm'], ['dataset', 'Data set'],
      ['computeCluster', 'Compute cluster'], ['validatorCluster', 'Validator cluster'], ['finalAccuracy', 'Final accuracy'],
      ['finalModelHash', 'Final model'], ['deadline', 'Round deadline (UTC)'], ['reason', 'Reason'],
    ]);
    const plot = accuracyPlot();
    const roundPath = (round) => '/ui/jobs/' + enc(jobId) + '/rounds/' + round;
    const rounds = keyedTable([
      { key: 'round', title: 'Round', cell: (r) => String(r.round), cls: 'num' },
      { key: 'accuracy', title: 'Accuracy', cell: (r) => number(r.accuracy, fixed(r.accuracy, 4)), cls: 'num' },
      { key: 'loss', title: 'Loss', cell: (r) => number(r.loss, fixed(r.loss, 4)), cls: 'num' },
      { key: 'participants', title: 'Participants', cell: (r) => ({ text: String(r.participants.length), title: r.participants.join(', '), value: r.participants.join(' ') }), cls: 'num' },
      { key: 'samples', title: 'Samples', cell: (r) => String(r.totalSamples), cls: 'num' },
      { key: 'validators', title: 'Signed by', cell: (r) => String(r.validators.length), cls: 'num' },
      { key: 'tx', title: 'Transaction', cell: (r) => (r.txHash ? link(short(r.txHash), roundPath(r.round), r.txHash) : dash), cls: 'mono' },
      { key: 'dispatch', title: 'Dispatch', cell: (r) => timing(r, 'dispatchMs'), cls: 'num' },
      { key: 'training', title: 'Slowest training', cell: (r) => timing(r, 'slowestTrainingMs'), cls: 'num' },
      { key: 'collection', title: 'Collection', cell: (r) => timing(r, 'collectionMs'), cls: 'num' },
      { key: 'stream', title: 'Stream delivery', cell: (r) => timing(r, 'streamDeliveryMs'), cls: 'num' },
      { key: 'aggregation', title: 'Aggregation', cell: (r) => timing(r, 'aggregationMs'), cls: 'num' },
      { key: 'finalization', title: 'Finalization', cell: (r) => timing(r, 'finalizationMs'), cls: 'num' },
      { key: 'total', title: 'Total', cell: (r) => timing(r, 'totalMs'), cls: 'num' },
    ], { id: 'rounds' });
    page('Job ' + jobId, summary, el('h2', { text: 'Accuracy per round' }), el('div', { class: 'plot' }, plot),
      el('h2', { text: 'Rounds' }), el('div', { class: 'scroll' }, rounds),
      el('p', { class: 'muted' }, el('a', { href: '/ui/jobs', text: '← all jobs' })));
    poll('/ui/api/jobs/' + enc(jobId), (job) => {
      summary.update({
        phase: badge(job.phase),
        round: job.round + '/' + job.totalRounds,
        updatesIn: job.updatesIn + '/' + job.computeVPods,
        algorithm: job.algorithm,
        dataset: job.dataset,
        computeCluster: job.computeCluster,
        validatorCluster: job.validatorCluster,
        finalAccuracy: number(job.finalAccuracy, fixed(job.finalAccuracy, 4)),
        finalModelHash: { text: short(job.finalModelHash), title: job.finalModelHash || undefined },
        deadline: FINISHED.has(job.phase) ? dash : time(job.roundDeadline),
        reason: job.reason,
      });
      plot.update(job.rounds, job.totalRounds);
      rounds.update(job.rounds, (r) => r.round);
    });
  }

  function timing(round, field) {
    const value = round.timings ? round.timings[field] : null;
    return number(value, duration(value));
  }

  function roundPage(jobId, round) {
    const record = facts([
      ['finalized', 'Finalized'], ['verified', 'Verified against the commitment'], ['matchesJob', 'Matches the job’s result'],
      ['transactionHash', 'Transaction'], ['blockNumber', 'Block'], ['blockHash', 'Block hash'], ['resultHash', 'Result hash'],
      ['receiptsRoot', 'Receipts root'], ['modelRef', 'Model ref'], ['modelCid', 'Model CID'], ['commitment', 'Commitment'], ['registry', 'Registry'],
    ]);
    const api = '/ui/api/jobs/' + enc(jobId) + '/rounds/' + round;
    page('Job ' + jobId + ' · round ' + round + ' on chain', record,
      el('p', { class: 'muted' }, el('a', { href: '/ui/jobs/' + enc(jobId), text: '← job ' + jobId }), ' · ', el('a', { href: api, text: 'JSON' })));
    const yesNo = (value) => (value === null || value === undefined ? dash : value ? 'yes' : 'no');
    poll(api, (r) => {
      record.update({
        finalized: { text: yesNo(r.finalized), cls: 'badge ' + (r.finalized ? 'good' : 'busy') },
        verified: { text: yesNo(r.verified), cls: 'badge ' + (r.verified ? 'good' : 'bad') },
        matchesJob: yesNo(r.matchesJob),
        transactionHash: r.transactionHash,
        blockNumber: r.blockNumber === null ? dash : String(r.blockNumber),
        blockHash: r.blockHash,
        resultHash: r.resultHash,
        receiptsRoot: r.receiptsRoot,
        modelRef: r.modelRef,
        modelCid: r.modelCid,
        commitment: r.commitment,
        registry: r.registry,
      });
    }, (r) => !(r.finalized && r.verified));
  }

  // ---- routing ------------------------------------------------------------------------------------------------------

  const path = location.pathname.replace(/\/+$/, '');
  const routes = [
    [/^\/ui\/vpods$/, 'vpods', () => vpodsPage()],
    [/^\/ui\/clusters$/, 'clusters', () => clustersPage()],
    [/^\/ui\/jobs$/, 'jobs', () => jobsPage()],
    [/^\/ui\/jobs\/([^/]+)$/, 'jobs', (m) => jobPage(decodeURIComponent(m[1]))],
    [/^\/ui\/jobs\/([^/]+)\/rounds\/(\d+)$/, 'jobs', (m) => roundPage(decodeURIComponent(m[1]), m[2])],
  ];
  for (const [pattern, section, show] of routes) {
    const match = pattern.exec(path);
    if (match) {
      for (const a of document.querySelectorAll('#nav a[data-section]')) {
        a.classList.toggle('current', a.dataset.section === section);
      }
      show(match);
      return;
    }
  }
  page('Not found', el('p', { text: 'No view here: see the links above.' }));
})();
