// The in-browser detector: camera -> MediaPipe face detector (video mode) -> the contract's
// crop rule -> the contract's preprocessing -> ONNX Runtime Web -> boxes, labels, fps.
//
// Everything is loaded from this folder (vendor/ holds the pinned npm packages copied at
// export time): the page works offline. `window.deepfakeEdge` is the page's API, used by
// the live loop below and by `deepfake-edge verify` / the tests (headless Chromium).
import * as P from './pipeline.js';

const params = new URLSearchParams(location.search);
const here = (path) => new URL(path, location.href).href;
const $ = (id) => document.getElementById(id);

async function loadJSON(path) {
  const r = await fetch(here(path));
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return r.json();
}

async function webgpuUsable() {
  if (params.get('ep') === 'wasm' || !('gpu' in navigator)) return false;
  try { return !!(await navigator.gpu.requestAdapter()); } catch (e) { return false; }
}

async function openSession(manifest) {
  const threads = params.has('threads') ? Number(params.get('threads'))
    : (self.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1);
  const tryWebgpu = manifest.files.ort_webgpu && await webgpuUsable();
  const attempts = tryWebgpu ? [['webgpu', manifest.files.ort_webgpu], ['wasm', manifest.files.ort_wasm]]
    : [['wasm', manifest.files.ort_wasm]];
  let lastError;
  for (const [ep, module] of attempts) {
    try {
      const ort = await import(here(module));
      ort.env.wasm.wasmPaths = here(manifest.files.ort_dir + '/');
      ort.env.wasm.numThreads = threads;
      const session = await ort.InferenceSession.create(here(manifest.files.model), { executionProviders: [ep] });
      const label = ep === 'webgpu' ? 'WebGPU' : `WASM SIMD, ${threads} thread${threads === 1 ? '' : 's'}`;
      return { ort, session, ep, threads, label };
    } catch (e) { lastError = e; }
  }
  throw lastError;
}

async function openDetector(manifest, rule, mode) {
  const vision = await import(here(manifest.files.mediapipe));
  const fileset = await vision.FilesetResolver.forVisionTasks(here(manifest.files.mediapipe_wasm));
  return vision.FaceDetector.createFromOptions(fileset, {
    baseOptions: { modelAssetPath: here(manifest.files.face_model), delegate: 'CPU' },
    runningMode: mode, minDetectionConfidence: rule.min_confidence,
  });
}

function boxesOf(result, w, h, rule) {
  const boxes = result.detections.map(d => P.clipBox({
    x: d.boundingBox.originX, y: d.boundingBox.originY, w: d.boundingBox.width, h: d.boundingBox.height,
    score: d.categories && d.categories.length ? d.categories[0].score : 1,
  }, w, h));
  return P.keepFaces(boxes, rule);
}

const STAGES = ['grab', 'detect', 'preprocess', 'classify', 'draw'];
const api = { ready: null, frames: 0, latencies: [], frameTimes: [], stages: Object.fromEntries(STAGES.map(s => [s, []])) };
window.deepfakeEdge = api;

api.ready = (async () => {
  const manifest = await loadJSON('manifest.json');
  const contract = await loadJSON(manifest.files.contract);
  const rule = contract.crop_rule;
  const rt = await openSession(manifest);
  Object.assign(api, { manifest, contract, rule, runtime: rt.label, ep: rt.ep, threads: rt.threads });
  const inputName = rt.session.inputNames[0];
  const size = contract.input_size;

  // (N, S, S, 3) float32 -> (N, classes) probabilities, as the Python backends return them.
  api.classify = async (batch, n) => {
    const out = await rt.session.run({ [inputName]: new rt.ort.Tensor('float32', batch, [n, size, size, 3]) });
    return out[rt.session.outputNames[0]].data;
  };
  // Packed RGB uint8 crop -> the model's input tensor (runtime.preprocess.preprocess).
  api.preprocess = (rgb, width, height) => P.preprocessBatch([{ data: rgb, width, height }], contract);

  let imageDetector = null;
  // The whole pipeline on one still image (ImageData): what `detect` does on a photo.
  api.analyze = async (image) => {
    imageDetector = imageDetector || await openDetector(manifest, rule, 'IMAGE');
    const boxes = boxesOf(imageDetector.detect(image), image.width, image.height, rule);
    return classifyFaces(image, boxes);
  };
  async function classifyFaces(image, boxes, times = {}) {
    if (!boxes.length) return [];
    let t = performance.now();
    const regions = boxes.map(b => P.cropBox(b, image.width, image.height, rule));
    const batch = P.preprocessBatch(regions.map(r => P.cutRGB(image, r)), contract);
    times.preprocess = performance.now() - t; t = performance.now();
    const probs = await api.classify(batch, boxes.length);
    times.classify = performance.now() - t;
    const fake = P.fakeProbabilities(probs, boxes.length, contract);
    return boxes.map((b, i) => ({ box: [b.x, b.y, b.w, b.h], score: b.score, crop_box: regions[i],
      fake_probability: fake[i], label: P.labelFor(fake[i], contract) }));
  }

  // ---- the live loop -------------------------------------------------------------------
  const video = $('video'), overlay = $('overlay'), ctx = overlay.getContext('2d');
  const grab = document.createElement('canvas'), grabCtx = grab.getContext('2d', { willReadFrequently: true });
  let videoDetector = null, running = false, stream = null;

  function percentile(values, q) {
    if (!values.length) return NaN;
    const s = [...values].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.floor(q * s.length))];
  }
  api.stats = () => {
    const t = api.frameTimes, span = t.length > 1 ? (t[t.length - 1] - t[0]) / 1000 : 0;
    return { frames: api.frames, fps: span ? (t.length - 1) / span : 0, p50_ms: percentile(api.latencies, 0.5),
      p95_ms: percentile(api.latencies, 0.95), runtime: rt.label, cross_origin_isolated: self.crossOriginIsolated,
      stages_p50_ms: Object.fromEntries(STAGES.map(s => [s, percentile(api.stages[s], 0.5)])) };
  };
  // Start the counters afresh (after a warm-up).
  api.resetStats = () => { api.frames = 0; api.latencies = []; api.frameTimes = []; STAGES.forEach(s => { api.stages[s] = []; }); };

  function draw(faces) {
    ctx.clearRect(0, 0, overlay.width, overlay.height);
    ctx.lineWidth = Math.max(2, overlay.width / 240);
    ctx.font = `${Math.max(14, overlay.width / 40)}px system-ui`;
    for (const f of faces) {
      const [x, y, w, h] = f.box, color = f.label === 'Fake' ? 'rgb(220,40,40)' : 'rgb(40,170,70)';
      ctx.strokeStyle = color; ctx.fillStyle = color; ctx.strokeRect(x, y, w, h);
      ctx.fillText(`${f.label} ${(100 * f.fake_probability).toFixed(0)}% fake`, x, Math.max(16, y - 6));
    }
  }

  async function step() {
    if (!running) return;
    if (video.readyState >= 2 && video.videoWidth) {
      const t0 = performance.now(), times = {};
      const w = video.videoWidth, h = video.videoHeight;
      if (grab.width !== w) { grab.width = overlay.width = w; grab.height = overlay.height = h; }
      grabCtx.drawImage(video, 0, 0, w, h);
      const t1 = performance.now();
      const boxes = boxesOf(videoDetector.detectForVideo(video, t0), w, h, rule);
      const t2 = performance.now();
      const frame = boxes.length ? grabCtx.getImageData(0, 0, w, h) : { width: w, height: h };
      times.grab = t1 - t0 + (performance.now() - t2); times.detect = t2 - t1;
      const faces = await classifyFaces(frame, boxes, times);
      const t3 = performance.now();
      draw(faces);
      const now = performance.now();
      times.draw = now - t3;
      api.frames += 1; api.latencies.push(now - t0); api.frameTimes.push(now); api.lastFaces = faces;
      for (const s of STAGES) if (times[s] !== undefined) api.stages[s].push(times[s]);
      if (api.latencies.length > 300) { api.latencies.shift(); api.frameTimes.shift(); }
      for (const s of STAGES) if (api.stages[s].length > 300) api.stages[s].shift();
      const s = api.stats();
      $('stats').textContent = `${s.fps.toFixed(1)} frames/s · ${s.p50_ms.toFixed(1)} ms per frame (p50), `
        + `${s.p95_ms.toFixed(1)} ms (p95) · ${faces.length} face${faces.length === 1 ? '' : 's'} · ${rt.label}`;
    }
    if ('requestVideoFrameCallback' in video) video.requestVideoFrameCallback(step); else requestAnimationFrame(step);
  }

  api.start = async () => {
    videoDetector = videoDetector || await openDetector(manifest, rule, 'VIDEO');
    stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
    video.srcObject = stream; await video.play();
    running = true; $('start').disabled = true; $('stop').disabled = false; $('status').textContent = 'running';
    step();
  };
  api.stop = () => {
    running = false; if (stream) stream.getTracks().forEach(t => t.stop());
    $('start').disabled = false; $('stop').disabled = true; $('status').textContent = 'stopped';
  };
  $('start').onclick = () => api.start().catch(e => { $('error').textContent = `camera: ${e.message || e}`; });
  $('stop').onclick = api.stop;
  $('start').disabled = false;
  $('status').textContent = `ready · ${rt.label}`;
  $('about').textContent = `model: ${contract.arch}, ${size}×${size} ${contract.precision}, threshold `
    + `${contract.threshold.toFixed(3)}; face detector: MediaPipe ${rule.detector.replace('_', '-')}.`;
  return true;
})().catch(e => { $('error').textContent = `could not start: ${e.message || e}`; $('status').textContent = 'failed'; throw e; });
