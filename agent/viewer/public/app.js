// edgecam live view: MJPEG video of the processed frames with their boxes drawn in by
// the agent, and the numbers from /events.
'use strict';
(() => {
  const token = new URLSearchParams(location.search).get('token');
  const withToken = (path) => (token ? `${path}?token=${encodeURIComponent(token)}` : path);
  const $ = (id) => document.getElementById(id);
  const video = $('video');
  const canvas = $('overlay');
  const ctx = canvas.getContext('2d');
  const speeds = [];
  let noSpeeds = 'none yet';
  // Lines, zones and masks (source pixels) as configured, their counts, and what is being drawn.
  let shapes = { lines: [], zones: [], masks: [] };
  let tallies = { lines: {}, zones: {} };
  let source = null;
  const flashes = new Map();
  const drawn = { lines: [], zones: [], masks: [], calibration: null };
  let tool = null;
  let points = [];

  // The boxes are drawn into each frame by the agent, on the frame they were computed on.
  video.src = withToken('stream.mjpeg');

  function list(el, items, empty) {
    const none = typeof empty === 'string' ? Object.assign(document.createElement('li'), { className: 'muted', textContent: empty }) : empty;
    el.replaceChildren(
      ...(items.length
        ? items.map(([k, v]) => {
            const li = document.createElement('li');
            const a = document.createElement('span');
            const b = document.createElement('span');
            a.textContent = k;
            b.textContent = v;
            li.append(a, b);
            return li;
          })
        : [none]),
    );
  }

  // The overlay: static shapes only (lines, zones, masks), which do not move with the video.
  function fit() {
    const w = video.clientWidth;
    const h = video.clientHeight;
    if (canvas.width !== w || canvas.height !== h) {
      canvas.width = w;
      canvas.height = h;
      canvas.style.width = `${w}px`;
      canvas.style.height = `${h}px`;
    }
  }

  function path(pts, close) {
    ctx.beginPath();
    pts.forEach(([x, y], i) => (i ? ctx.lineTo(x * scale(), y * scale()) : ctx.moveTo(x * scale(), y * scale())));
    if (close) ctx.closePath();
  }
  const scale = () => (source ? canvas.width / source.width : 1);

  function label(text, [x, y], color) {
    ctx.font = '13px system-ui, sans-serif';
    const w = ctx.measureText(text).width + 8;
    ctx.fillStyle = 'rgba(0,0,0,0.65)';
    ctx.fillRect(x * scale(), y * scale() - 18, w, 18);
    ctx.fillStyle = color;
    ctx.fillText(text, x * scale() + 4, y * scale() - 5);
  }

  function draw() {
    fit();
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    if (!source) return;
    ctx.lineWidth = 2;
    for (const m of [...shapes.masks, ...drawn.masks]) {
      path(m.points, true);
      ctx.fillStyle = 'rgba(120,120,120,0.45)';
      ctx.fill();
      label(`mask ${m.name}${m.classes && m.classes.length ? ` (${m.classes.join('+')})` : ''}`, m.points[0], '#ddd');
    }
    for (const z of [...shapes.zones, ...drawn.zones]) {
      path(z.points, true);
      ctx.strokeStyle = '#40c4ff';
      ctx.stroke();
      ctx.fillStyle = 'rgba(64,196,255,0.12)';
      ctx.fill();
      label(`${z.name}: ${tallies.zones[z.name] ?? 0}`, z.points[0], '#40c4ff');
    }
    const now = Date.now();
    for (const l of [...shapes.lines, ...drawn.lines]) {
      const flash = (flashes.get(l.name) ?? 0) > now;
      path([l.a, l.b]);
      ctx.strokeStyle = flash ? '#ff1744' : '#ffd600';
      ctx.lineWidth = flash ? 6 : 3;
      ctx.stroke();
      ctx.lineWidth = 2;
      const totals = tallies.lines[l.name] ?? {};
      const mid = [(l.a[0] + l.b[0]) / 2, (l.a[1] + l.b[1]) / 2];
      label(`${l.name}: ${l.directions.map((d) => `${d} ${totals[d] ?? 0}`).join(' · ')}`, mid, flash ? '#ff1744' : '#ffd600');
    }
    if (drawn.calibration) {
      path(drawn.calibration, true);
      ctx.strokeStyle = '#e040fb';
      ctx.stroke();
    }
    if (tool && points.length) {
      ctx.setLineDash([6, 4]);
      path(points, tool === 'zone' || tool === 'mask' || tool === 'calibration');
      ctx.strokeStyle = '#fff';
      ctx.stroke();
      ctx.setLineDash([]);
      for (const [x, y] of points) ctx.fillRect(x * scale() - 3, y * scale() - 3, 6, 6);
    }
  }

  function listCounts() {
    const items = [];
    for (const l of shapes.lines) for (const d of l.directions) items.push([`${l.name} ${d}`, String((tallies.lines[l.name] ?? {})[d] ?? 0)]);
    for (const z of shapes.zones) items.push([`${z.name} (now)`, String(tallies.zones[z.name] ?? 0)]);
    list($('lines'), items, 'no lines or zones (LINES, ZONES)');
  }

  // The editor: click points on the picture; the env lines to paste come out below.
  const pt = (p) => `${Math.round(p[0])},${Math.round(p[1])}`;
  const pts = (ps) => ps.map(pt).join(';');
  function envText() {
    const out = [];
    const lines = [...shapes.lines, ...drawn.lines];
    const zones = [...shapes.zones, ...drawn.zones];
    const masks = [...shapes.masks, ...drawn.masks];
    if (lines.length) out.push(`LINES="${lines.map((l) => `${l.name}:${pts([l.a, l.b])}`).join('|')}"`);
    const named = lines.filter((l) => l.directions.join(',') !== 'in,out');
    if (named.length) out.push(`LINE_DIRECTIONS="${named.map((l) => `${l.name}:${l.directions.join(',')}`).join('|')}"`);
    if (zones.length) out.push(`ZONES="${zones.map((z) => `${z.name}:${pts(z.points)}`).join('|')}"`);
    if (masks.length) out.push(`MASKS="${masks.map((m) => `${m.name}:${m.classes && m.classes.length ? `${m.classes.join('+')}@` : ''}${pts(m.points)}`).join('|')}"`);
    if (drawn.calibration) {
      out.push(`CALIBRATION_IMAGE_POINTS="${pts(drawn.calibration)}"`);
      if ($('world').value.trim()) out.push(`CALIBRATION_WORLD_POINTS="${$('world').value.trim()}"`);
    }
    $('env').value = out.join('\n');
  }

  function pick(name) {
    tool = tool === name ? null : name;
    points = [];
    for (const b of document.querySelectorAll('#editor [data-tool]')) b.classList.toggle('active', b.dataset.tool === tool);
    $('view').classList.toggle('editing', Boolean(tool));
    $('world-points').hidden = tool !== 'calibration';
    const help = {
      line: "Click the line's two ends. Left to right of first→second is its first direction.",
      zone: 'Click the corners, then Finish.',
      mask: 'Click the corners of what to ignore, then Finish.',
      calibration: 'Click four points on the road, then type where they are in metres and Finish.',
    };
    $('tool-help').textContent = tool ? help[tool] : 'Pick a tool, then click points on the picture.';
    draw();
  }

  function finish() {
    const name = ($('shape-name').value.trim() || `${tool}${[...(shapes[`${tool}s`] || []), ...(drawn[`${tool}s`] || [])].length + 1}`).replace(/[^A-Za-z0-9_-]/g, '_');
    if (tool === 'line' && points.length === 2) drawn.lines.push({ name, a: points[0], b: points[1], directions: ['in', 'out'] });
    else if (tool === 'zone' && points.length >= 3) drawn.zones.push({ name, points });
    else if (tool === 'mask' && points.length >= 3) drawn.masks.push({ name, points, classes: [] });
    else if (tool === 'calibration' && points.length === 4) {
      drawn.calibration = points;
      void preview();
    } else return;
    points = [];
    $('shape-name').value = '';
    envText();
    draw();
    pending();
  }

  // Save: the kinds drawn or deleted go to the agent, which checks, keeps and applies them.
  const KEYS = { lines: 'LINES', zones: 'ZONES', masks: 'MASKS' };
  const texts = {
    lines: (ls) => ls.map((l) => `${l.name}:${pts([l.a, l.b])}`).join('|'),
    zones: (zs) => zs.map((z) => `${z.name}:${pts(z.points)}`).join('|'),
    masks: (ms) => ms.map((m) => `${m.name}:${m.classes && m.classes.length ? `${m.classes.join('+')}@` : ''}${pts(m.points)}`).join('|'),
  };
  function pending() {
    $('save').disabled = !(drawn.lines.length || drawn.zones.length || drawn.masks.length || (drawn.calibration && $('world').value.trim()));
  }
  async function send(method, body) {
    const res = await fetch(withToken('api/shapes'), { method, headers: { 'Content-Type': 'application/json' }, body: body && JSON.stringify(body) });
    const reply = await res.json().catch(() => ({ ok: false, errors: { body: `HTTP ${res.status}` } }));
    const out = $('save-result');
    out.className = reply.ok ? 'ok' : 'error';
    out.textContent = reply.ok
      ? 'saved and applied'
      : Object.entries(reply.errors || {})
          .map(([k, v]) => `${k}: ${v}`)
          .join('\n');
    return reply.ok;
  }
  async function save() {
    const body = {};
    for (const kind of ['lines', 'zones', 'masks']) if (drawn[kind].length) body[KEYS[kind]] = texts[kind]([...shapes[kind], ...drawn[kind]]);
    const named = [...shapes.lines, ...drawn.lines].filter((l) => l.directions.join(',') !== 'in,out');
    if (drawn.lines.length && named.length) body.LINE_DIRECTIONS = named.map((l) => `${l.name}:${l.directions.join(',')}`).join('|');
    if (drawn.calibration && $('world').value.trim()) Object.assign(body, { CALIBRATION_IMAGE_POINTS: pts(drawn.calibration), CALIBRATION_WORLD_POINTS: $('world').value.trim() });
    if (await send('PUT', body)) discard();
  }
  async function remove(kind, name) {
    const rest = kind === 'calibration' ? null : shapes[kind].filter((s) => s.name !== name);
    await send('PUT', kind === 'calibration' ? { CALIBRATION_IMAGE_POINTS: '', CALIBRATION_WORLD_POINTS: '' } : { [KEYS[kind]]: texts[kind](rest) });
  }
  function inForce(setup) {
    const items = [];
    for (const kind of ['lines', 'zones', 'masks']) for (const s of shapes[kind]) items.push([`${kind.slice(0, -1)} ${s.name}`, () => remove(kind, s.name)]);
    if (setup.shapes.calibration && setup.shapes.calibration.kind === 'points') items.push(['calibration (four points)', () => remove('calibration')]);
    $('in-force').replaceChildren(
      ...items.map(([text, del]) => {
        const li = document.createElement('li');
        const b = Object.assign(document.createElement('button'), { type: 'button', textContent: 'Delete', className: 'delete' });
        b.addEventListener('click', del);
        li.append(Object.assign(document.createElement('span'), { textContent: text }), b);
        return li;
      }),
    );
    const saved = setup.shapes.saved;
    $('origin').textContent = saved ? `saved ${new Date(saved).toLocaleString()}, over the env file` : 'from the env file';
    $('use-env').hidden = !saved;
  }

  // What the calibration means on this camera, as `edgecam calibrate` prints it (computed by the agent).
  async function preview() {
    const world = $('world').value.trim();
    if (!drawn.calibration || !world || !source) return;
    const q = new URLSearchParams({ image: pts(drawn.calibration), world, size: `${source.width}x${source.height}` });
    if (token) q.set('token', token);
    const res = await fetch(`calibration/preview?${q}`);
    $('calibration-report').hidden = false;
    $('calibration-report').textContent = await res.text();
    envText();
  }

  canvas.addEventListener('click', (e) => {
    if (!tool || !source) return;
    const r = canvas.getBoundingClientRect();
    points.push([Math.round((e.clientX - r.left) / scale()), Math.round((e.clientY - r.top) / scale())]);
    if ((tool === 'line' && points.length === 2) || (tool === 'calibration' && points.length === 4 && $('world').value.trim())) finish();
    else draw();
  });
  for (const b of document.querySelectorAll('#editor [data-tool]')) b.addEventListener('click', () => pick(b.dataset.tool));
  $('finish').addEventListener('click', finish);
  $('undo').addEventListener('click', () => {
    points.pop();
    draw();
  });
  function discard() {
    drawn.lines = [];
    drawn.zones = [];
    drawn.masks = [];
    drawn.calibration = null;
    points = [];
    $('calibration-report').hidden = true;
    envText();
    draw();
    pending();
  }
  $('clear').addEventListener('click', discard);
  $('save').addEventListener('click', () => void save());
  $('use-env').addEventListener('click', () => void send('DELETE'));
  $('world').addEventListener('change', () => {
    pending();
    void preview();
  });
  $('copy').addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText($('env').value);
    } catch {
      // Without a secure context the clipboard API is absent: select the text for Ctrl-C.
      $('env').select();
      document.execCommand('copy');
    }
  });

  function connect() {
    const events = new EventSource(withToken('events'));
    events.onopen = () => {
      $('connection').textContent = 'live';
      $('connection').className = 'state on';
    };
    events.onerror = () => {
      $('connection').textContent = 'reconnecting…';
      $('connection').className = 'state off';
    };
    events.addEventListener('setup', (e) => {
      const setup = JSON.parse(e.data);
      if (setup.calibration === 'none') {
        // Speeds need the ground plane's scale: say so, and where to find how.
        noSpeeds = document.createElement('li');
        noSpeeds.className = 'muted';
        const help = Object.assign(document.createElement('a'), { href: 'help/calibration', target: '_blank', textContent: 'calibrate the camera' });
        noSpeeds.append(
          'no speeds: this camera has no calibration; ',
          help,
          ' (CALIBRATION_IMAGE_POINTS and CALIBRATION_WORLD_POINTS, or METERS_PER_PIXEL), or draw one below: Draw → Calibration',
        );
      } else {
        noSpeeds = setup.calibration === 'bundled sample' ? "none yet (the sample's own calibration)" : 'none yet';
      }
      $('speeds').dataset.calibration = setup.calibration;
      $('model').textContent = setup.model;
      $('history').hidden = !setup.history;
      $('history').href = withToken('history');
      shapes = setup.shapes;
      inForce(setup);
      listCounts();
      envText();
      draw();
      if (!speeds.length) list($('speeds'), speeds, noSpeeds);
    });
    events.addEventListener('analytics', (e) => {
      tallies = JSON.parse(e.data);
      listCounts();
      draw();
    });
    events.addEventListener('crossing', (e) => {
      const c = JSON.parse(e.data);
      flashes.set(c.line, Date.now() + 800);
      draw();
      setTimeout(draw, 850);
    });
    events.addEventListener('detections', (e) => {
      const last = JSON.parse(e.data);
      if (!source || source.width !== last.source.width) {
        source = last.source;
        draw();
      }
      const counts = {};
      for (const d of last.detections) counts[d.class_name] = (counts[d.class_name] || 0) + 1;
      list($('counts'), Object.entries(counts), 'nothing in view');
      $('frame').textContent = last.frame;
      $('fps').textContent = last.fps.toFixed(1);
      $('inference').textContent = `${last.inferenceMs} ms`;
      if (last.capturedAt) $('latency').textContent = `${Date.now() - last.capturedAt} ms`;
      document.body.dataset.frame = last.frame;
      document.body.dataset.classes = Object.keys(counts).join(',');
    });
    events.addEventListener('speed', (e) => {
      const s = JSON.parse(e.data);
      speeds.unshift([`${s.class_name} #${s.track_id}${s.final ? ' (final)' : ''}`, `${s.speed} ${s.unit}`]);
      speeds.length = Math.min(speeds.length, 8);
      list($('speeds'), speeds, noSpeeds);
    });
    events.addEventListener('status', (e) => {
      const s = JSON.parse(e.data);
      if (s.component === 'camera') $('camera').textContent = s.state;
    });
  }

  window.addEventListener('resize', draw);
  video.addEventListener('load', draw);
  connect();
})();
