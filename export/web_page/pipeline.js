// The detector's per-frame steps, ported from the Python runtime for the in-browser bundle.
//
// Every constant (crop margin, minimum confidence and face size, input size, colour order,
// normalisation, temperature, threshold, class order) comes from the model's contract,
// passed in as `contract` (contract.json, the same file `deepfake-edge detect` reads): this
// file holds the algorithms only. Each function names the Python function it mirrors;
// `deepfake-edge verify` and tests/test_web_bundle.py check the page against them
// (face boxes, crop regions, the preprocessed tensor, the probabilities).

// Python's round(): halves go to the even neighbour (Math.round sends them up).
export function roundHalfEven(v) {
  const r = Math.round(v);
  return (Math.abs(v % 1) === 0.5 && r % 2 !== 0) ? r - 1 : r;
}

// runtime.faces.clip_box: the part of a detector box inside the image.
export function clipBox(b, imgW, imgH) {
  const x0 = Math.max(0, b.x), y0 = Math.max(0, b.y);
  const x1 = Math.min(imgW, b.x + b.w), y1 = Math.min(imgH, b.y + b.h);
  return { x: x0, y: y0, w: Math.max(0, x1 - x0), h: Math.max(0, y1 - y0), score: b.score };
}

// runtime.faces.keep_faces: confident, large enough, largest first.
export function keepFaces(boxes, rule) {
  return boxes.filter(b => b.score >= rule.min_confidence && Math.min(b.w, b.h) >= rule.min_face_px)
    .sort((a, b) => b.w * b.h - a.w * a.h);
}

function fitInterval(center, length, limit) {
  length = Math.max(1, roundHalfEven(length));
  if (length >= limit) return [0, limit];
  let start = roundHalfEven(center - length / 2);
  start = Math.min(Math.max(start, 0), limit - length);
  return [start, start + length];
}

// runtime.faces.crop_box: THE crop rule, [x0, y0, x1, y1) half-open, inside the image.
export function cropBox(b, imgW, imgH, rule) {
  const grow = rule.margin * Math.max(b.w, b.h);
  let sw, sh;
  if (rule.square) { sw = sh = Math.max(b.w, b.h) + 2 * grow; } else { sw = b.w + 2 * grow; sh = b.h + 2 * grow; }
  const [x0, x1] = fitInterval(b.x + b.w / 2, sw, imgW);
  const [y0, y1] = fitInterval(b.y + b.h / 2, sh, imgH);
  return [x0, y0, x1, y1];
}

// Pixels [x0, y0, x1, y1) of an RGBA ImageData-like {data, width} as packed RGB uint8.
export function cutRGB(image, region) {
  const [x0, y0, x1, y1] = region, w = x1 - x0, h = y1 - y0;
  const out = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    let src = ((y0 + y) * image.width + x0) * 4, dst = y * w * 3;
    for (let x = 0; x < w; x++, src += 4, dst += 3) {
      out[dst] = image.data[src]; out[dst + 1] = image.data[src + 1]; out[dst + 2] = image.data[src + 2];
    }
  }
  return { data: out, width: w, height: h };
}

// One axis of OpenCV's INTER_AREA: each output cell averages the source cells it covers,
// weighted by overlap (when the axis grows, a cell covers part of one or two sources).
function areaTaps(src, dst) {
  const scale = src / dst, taps = [];
  for (let i = 0; i < dst; i++) {
    const a = i * scale, b = Math.min(src, (i + 1) * scale), list = [];
    for (let s = Math.floor(a); s < b; s++) {
      const w = Math.min(b, s + 1) - Math.max(a, s);
      if (w > 1e-9) list.push([s, w / (b - a)]);
    }
    taps.push(list);
  }
  return taps;
}

// One axis of OpenCV's INTER_LINEAR: half-pixel centres, clamped at the border.
function linearTaps(src, dst) {
  const scale = src / dst, taps = [];
  for (let i = 0; i < dst; i++) {
    let f = (i + 0.5) * scale - 0.5, s = Math.floor(f), t = f - s;
    if (s < 0) { s = 0; t = 0; }
    if (s >= src - 1) { s = src - 1; t = 0; }
    taps.push(t > 0 ? [[s, 1 - t], [s + 1, t]] : [[s, 1]]);
  }
  return taps;
}

// runtime.preprocess.resize_crop: area averaging to shrink, bilinear to grow (float
// arithmetic, rounded to uint8 like OpenCV; OpenCV's fixed-point bilinear may differ by one
// level, the bound verify states).
export function resizeCrop(crop, size) {
  const { width: w, height: h, data } = crop;
  if (w === size && h === size) return data;
  const shrinking = h * w > size * size;
  const tx = shrinking ? areaTaps(w, size) : linearTaps(w, size);
  const ty = shrinking ? areaTaps(h, size) : linearTaps(h, size);
  const rows = new Float32Array(h * size * 3);  // horizontal pass
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < size; x++) {
      let r = 0, g = 0, b = 0;
      for (const [s, wt] of tx[x]) { const k = (y * w + s) * 3; r += wt * data[k]; g += wt * data[k + 1]; b += wt * data[k + 2]; }
      const o = (y * size + x) * 3; rows[o] = r; rows[o + 1] = g; rows[o + 2] = b;
    }
  }
  const out = new Uint8Array(size * size * 3);  // vertical pass
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let r = 0, g = 0, b = 0;
      for (const [s, wt] of ty[y]) { const k = (s * size + x) * 3; r += wt * rows[k]; g += wt * rows[k + 1]; b += wt * rows[k + 2]; }
      const o = (y * size + x) * 3;
      out[o] = Math.min(255, Math.max(0, roundHalfEven(r)));
      out[o + 1] = Math.min(255, Math.max(0, roundHalfEven(g)));
      out[o + 2] = Math.min(255, Math.max(0, roundHalfEven(b)));
    }
  }
  return out;
}

// runtime.preprocess.normalize: pixel * scale + offset per channel, in the contract's colour order.
export function normalizeInto(rgb, contract, target, at) {
  const { scale, offset } = contract.normalization, bgr = contract.color_order === 'BGR';
  for (let i = 0; i < rgb.length; i += 3) {
    for (let c = 0; c < 3; c++) {
      const v = rgb[i + (bgr ? 2 - c : c)];
      target[at + i + c] = v * scale[c] + offset[c];
    }
  }
}

// runtime.preprocess.preprocess_batch: crops -> one float32 NHWC batch.
export function preprocessBatch(crops, contract) {
  const s = contract.input_size, n = s * s * 3, batch = new Float32Array(crops.length * n);
  crops.forEach((crop, i) => normalizeInto(resizeCrop(crop, s), contract, batch, i * n));
  return batch;
}

// runtime.preprocess.fake_probability: softmax(log p / T), the Fake column.
export function fakeProbabilities(probs, rows, contract) {
  const k = contract.class_names.length, fake = contract.class_names.indexOf('Fake'), T = contract.temperature;
  const out = [];
  for (let r = 0; r < rows; r++) {
    const p = Array.from(probs.slice(r * k, (r + 1) * k));
    if (T === 1) { out.push(p[fake]); continue; }
    const logits = p.map(v => Math.log(Math.min(1, Math.max(1e-12, v))) / T);
    const m = Math.max(...logits), e = logits.map(v => Math.exp(v - m)), sum = e.reduce((a, b) => a + b, 0);
    out.push(e[fake] / sum);
  }
  return out;
}

// runtime.preprocess.labels_for
export function labelFor(fakeProbability, contract) {
  return fakeProbability >= contract.threshold ? 'Fake' : 'Real';
}
