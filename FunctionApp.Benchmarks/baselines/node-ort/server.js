'use strict';
// Baseline "node-ort": Node.js http server + sharp (decode/resize) + onnxruntime-node (inference).
//
// Usage: node server.js --port 5201 --model /path/model.onnx --mode squeezenet|resnet [--labels imagenet_labels.txt]
//   squeezenet: BGR, 0..255 raw, NCHW (SqueezeNet 1.0 from the ONNX model zoo; output = probabilities)
//   resnet:     RGB/255 normalized with ImageNet mean/std, NCHW (output = 512 features; "labels" are feature_i)
// Resize: 224x224, keep aspect, centre crop (sharp fit 'cover'), Mitchell cubic: like ML.NET ResizeImages' default
// (IsoCrop + Center anchor, which MLImage/SkiaSharp draws with SKCubicResampler.Mitchell).

const http = require('http');
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');
const sharp = require('sharp');

function parseArgs(argv) {
  const o = { port: 5201, model: null, mode: 'squeezenet', labels: null };
  for (let i = 0; i < argv.length; i++) {
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`missing value for ${argv[i]}`);
      return argv[++i];
    };
    switch (argv[i]) {
      case '--port': o.port = parseInt(next(), 10); break;
      case '--model': o.model = next(); break;
      case '--mode': o.mode = next(); break;
      case '--labels': o.labels = next(); break;
      default: throw new Error(`unknown argument ${argv[i]}`);
    }
  }
  if (!o.model) throw new Error('--model is required');
  if (o.mode !== 'squeezenet' && o.mode !== 'resnet') throw new Error('--mode must be squeezenet or resnet');
  return o;
}

const SIZE = 224;
const PLANE = SIZE * SIZE;
const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];

// raw interleaved HWC uint8 (1..4 channels) -> Float32Array NCHW [1,3,224,224]
function toTensorData(raw, channels, mode) {
  const out = new Float32Array(3 * PLANE);
  const grey = channels < 3;
  if (mode === 'squeezenet') {
    // BGR, 0..255
    for (let i = 0, p = 0; i < PLANE; i++, p += channels) {
      const r = raw[p], g = grey ? r : raw[p + 1], b = grey ? r : raw[p + 2];
      out[i] = b; out[PLANE + i] = g; out[2 * PLANE + i] = r;
    }
  } else {
    // RGB/255, (x - mean) / std per channel
    const s0 = 1 / (255 * STD[0]), s1 = 1 / (255 * STD[1]), s2 = 1 / (255 * STD[2]);
    const o0 = MEAN[0] / STD[0], o1 = MEAN[1] / STD[1], o2 = MEAN[2] / STD[2];
    for (let i = 0, p = 0; i < PLANE; i++, p += channels) {
      const r = raw[p], g = grey ? r : raw[p + 1], b = grey ? r : raw[p + 2];
      out[i] = r * s0 - o0; out[PLANE + i] = g * s1 - o1; out[2 * PLANE + i] = b * s2 - o2;
    }
  }
  return out;
}

function topK(scores, k, labelOf) {
  const idx = [], best = [];
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i];
    if (idx.length === k && s <= best[k - 1]) continue;
    let pos = Math.min(idx.length, k - 1);
    if (idx.length < k) { idx.push(-1); best.push(-Infinity); }
    while (pos > 0 && s > best[pos - 1]) { best[pos] = best[pos - 1]; idx[pos] = idx[pos - 1]; pos--; }
    best[pos] = s; idx[pos] = i;
  }
  return idx.map((i, j) => ({ index: i, label: labelOf(i), score: best[j] }));
}

function send(res, status, obj) {
  const body = JSON.stringify(obj);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const labels = opts.labels ? fs.readFileSync(opts.labels, 'utf8').split(/\r?\n/).filter((l, i, a) => l.length > 0 || i < a.length - 1) : [];
  const useLabels = opts.mode === 'squeezenet' && labels.length > 0;
  const labelOf = (i) => (useLabels && i < labels.length ? labels[i] : `feature_${i}`);

  const session = await ort.InferenceSession.create(opts.model); // default session options
  const inputName = session.inputNames[0];
  const outputName = session.outputNames[0];

  async function predict(buf) {
    const { data, info } = await sharp(buf)
      .resize(SIZE, SIZE, { fit: 'cover', position: 'centre', kernel: 'mitchell' })
      .raw()
      .toBuffer({ resolveWithObject: true });
    const input = new ort.Tensor('float32', toTensorData(data, info.channels, opts.mode), [1, 3, SIZE, SIZE]);
    const out = await session.run({ [inputName]: input });
    return topK(out[outputName].data, 5, labelOf);
  }

  // warm-up on a synthetic image
  const blank = await sharp({ create: { width: 256, height: 256, channels: 3, background: { r: 0, g: 0, b: 0 } } }).png().toBuffer();
  await predict(blank);

  const server = http.createServer((req, res) => {
    const url = req.url.split('?')[0];
    if (req.method === 'GET' && url === '/health') {
      return send(res, 200, { status: 'ok', mode: opts.mode, model: path.basename(opts.model) });
    }
    if (req.method === 'POST' && url === '/predict') {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', async () => {
        const buf = Buffer.concat(chunks);
        if (buf.length === 0) return send(res, 400, { error: 'empty body' });
        try {
          send(res, 200, { top: await predict(buf) });
        } catch (e) {
          send(res, 400, { error: `cannot process image: ${e.message}` });
        }
      });
      req.on('error', () => send(res, 400, { error: 'request error' }));
      return;
    }
    send(res, 404, { error: 'not found' });
  });
  server.keepAliveTimeout = 65000;
  server.listen(opts.port, '127.0.0.1', () => {
    console.log(`node-ort listening on http://127.0.0.1:${opts.port} mode=${opts.mode} model=${opts.model} input=${inputName} output=${outputName}`);
  });
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e) => { console.error(e); process.exit(1); });
