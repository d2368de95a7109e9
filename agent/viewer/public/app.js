// edgecam live view: MJPEG video with a canvas overlay of the detections from /events.
'use strict';
(() => {
  const token = new URLSearchParams(location.search).get('token');
  const withToken = (path) => (token ? `${path}?token=${encodeURIComponent(token)}` : path);
  const $ = (id) => document.getElementById(id);
  const video = $('video');
  const canvas = $('overlay');
  const ctx = canvas.getContext('2d');
  const speeds = [];
  let last = null;

  video.src = withToken('stream.mjpeg');

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

  function draw() {
    fit();
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    if (!last || !last.source) return;
    const sx = canvas.width / last.source.width;
    const sy = canvas.height / last.source.height;
    ctx.lineWidth = 2;
    ctx.font = '12px system-ui, sans-serif';
    for (const d of last.detections) {
      const [x1, y1, x2, y2] = d.box;
      const label = `${d.class_name}${d.track_id ? ` #${d.track_id}` : ''} ${Math.round(d.score * 100)}%`;
      ctx.strokeStyle = '#00e676';
      ctx.strokeRect(x1 * sx, y1 * sy, (x2 - x1) * sx, (y2 - y1) * sy);
      const tw = ctx.measureText(label).width + 6;
      const ty = Math.max(0, y1 * sy - 16);
      ctx.fillStyle = '#00e676';
      ctx.fillRect(x1 * sx, ty, tw, 16);
      ctx.fillStyle = '#000';
      ctx.fillText(label, x1 * sx + 3, ty + 12);
    }
  }

  function list(el, items, empty) {
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
        : [Object.assign(document.createElement('li'), { className: 'muted', textContent: empty })]),
    );
  }

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
    events.addEventListener('detections', (e) => {
      last = JSON.parse(e.data);
      draw();
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
      list($('speeds'), speeds, 'none yet');
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
