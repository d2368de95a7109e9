// edgecam live view: MJPEG video of the processed frames with their boxes drawn in by
// the agent, and the numbers from /events.
'use strict';
(() => {
  const token = new URLSearchParams(location.search).get('token');
  const withToken = (path) => (token ? `${path}?token=${encodeURIComponent(token)}` : path);
  const $ = (id) => document.getElementById(id);
  const video = $('video');
  const speeds = [];
  let noSpeeds = 'none yet';

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
        noSpeeds.append('no speeds: this camera has no calibration; ', help, ' (CALIBRATION_IMAGE_POINTS and CALIBRATION_WORLD_POINTS, or METERS_PER_PIXEL)');
      } else {
        noSpeeds = setup.calibration === 'bundled sample' ? "none yet (the sample's own calibration)" : 'none yet';
      }
      $('speeds').dataset.calibration = setup.calibration;
      if (!speeds.length) list($('speeds'), speeds, noSpeeds);
    });
    events.addEventListener('detections', (e) => {
      const last = JSON.parse(e.data);
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

  connect();
})();
