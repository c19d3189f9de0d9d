#!/usr/bin/env node
// What Dawn sees: the adapter WebGPU would use (vendor, architecture, device, limits, features), as one JSON line.
// Usage: node scripts/gpu/adapter.mjs [--app DIR]   (DIR holds node_modules/webgpu; default: the repo root)
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const app = path.resolve(args.includes('--app') ? args[args.indexOf('--app') + 1] : (process.env.SSL3D_APP ?? repo));
const require = createRequire(path.join(app, 'package.json'));
const { create, globals } = require('webgpu');
Object.assign(globalThis, globals);
const opts = (process.env.SSL3D_DAWN_OPTIONS ?? '').split(';').map((o) => o.trim()).filter(Boolean);
const gpu = create(opts);
const out = { adapter: null };
for (const powerPreference of ['high-performance', 'low-power']) {
  const a = await gpu.requestAdapter({ powerPreference });
  if (!a) continue;
  const i = a.info;
  const l = a.limits;
  out[powerPreference] = { vendor: i.vendor, architecture: i.architecture, device: i.device, description: i.description, isFallbackAdapter: i.isFallbackAdapter };
  if (!out.adapter) {
    out.adapter = out[powerPreference];
    out.limits = Object.fromEntries(['maxBufferSize', 'maxStorageBufferBindingSize', 'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupsPerDimension'].map((k) => [k, l[k]]));
    out.features = [...a.features].sort();
  }
}
console.log(JSON.stringify({ step: 'adapter', dawn_options: opts, ...out }));
process.exit(out.adapter ? 0 : 2);
