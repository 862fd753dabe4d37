// Run by prove.cjs inside the Debian roots, from a project that installed the packed tarball:
// loads simd-adam both ways a user can (require and import), which loads the prebuilt addon
// through the package's own loader, then replays a PyTorch conformance case through the public
// API on every backend the addon offers here, and prints one JSON line. Exit 1 on any mismatch.
//
// Usage: node smoke.cjs <case.json>   (a file of test/fixtures/pytorch/)
'use strict';
const fs = require('node:fs');

/** The numerics contract: |ours − ref| ≤ 1e-6 + 1e-5·|ref| + 1e-6·max|ref|; NaN and ±Inf exact. */
function mismatch(ours, ref) {
  if (ours.length !== ref.length) return `length ${ours.length}, expected ${ref.length}`;
  const scale = ref.reduce((m, r) => (Number.isFinite(r) ? Math.max(m, Math.abs(r)) : m), 0);
  for (let i = 0; i < ref.length; i++) {
    const [o, r] = [ours[i], ref[i]];
    if (Number.isNaN(r) || Number.isNaN(o) || !Number.isFinite(r) || !Number.isFinite(o)) {
      if (!Object.is(o, r) && !(Number.isNaN(o) && Number.isNaN(r))) return `[${i}]: ${o}, expected ${r}`;
    } else if (Math.abs(o - r) > 1e-6 + 1e-5 * Math.abs(r) + 1e-6 * scale) {
      return `[${i}]: ${o}, expected ${r}`;
    }
  }
  return null;
}

function replay(m, c) {
  const params = c.params_init.map((t, i) => new m.Parameter(Float32Array.from(t.data), { name: `p${i}`, shape: t.shape }));
  const groups = c.param_groups.map((g) => ({
    params: g.params.map((i) => params[i]),
    lr: g.lr,
    betas: g.betas,
    eps: g.eps,
    weightDecay: g.weight_decay,
    amsgrad: g.amsgrad,
    maximize: g.maximize,
  }));
  const opt = c.optimizer === 'AdamW' ? new m.AdamW(groups) : new m.Adam(groups);
  const problems = [];
  c.steps.forEach((step, s) => {
    for (const [group, lr] of Object.entries(step.set_lr || {})) opt.paramGroups[Number(group)].lr = lr;
    params.forEach((p, i) => {
      const g = step.grads[i];
      p.grad = g === null || g === undefined ? null : Float32Array.from(g);
    });
    opt.step();
    if (!step.expected) return;
    step.expected.params.forEach((ref, i) => {
      const bad = mismatch(params[i].data, ref);
      if (bad) problems.push(`step ${s} param ${i} ${bad}`);
    });
    step.expected.state.forEach((ref, i) => {
      const ours = opt.state.get(params[i]);
      if (!ref || !ours) return void (!ref !== !ours && problems.push(`step ${s} param ${i}: state presence differs`));
      const bad = mismatch(ours.expAvg, ref.exp_avg) || mismatch(ours.expAvgSq, ref.exp_avg_sq);
      if (bad) problems.push(`step ${s} param ${i} state ${bad}`);
    });
  });
  return { problems };
}

async function main() {
  const c = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const viaRequire = require('simd-adam');
  const viaImport = await import('simd-adam');
  if (viaRequire.Adam !== viaImport.Adam) throw new Error('require and import gave two copies of simd-adam');
  const m = viaImport;
  const results = {};
  let failed = false;
  for (const name of m.availableBackends()) {
    m.setBackend(name);
    const { problems } = replay(m, c);
    results[name] = problems.length ? problems.slice(0, 3) : 'ok';
    failed ||= problems.length > 0;
  }
  const report = process.report.getReport().header;
  console.log(
    JSON.stringify({
      simdAdam: m.version,
      node: process.version,
      arch: process.arch,
      glibc: report.glibcVersionRuntime,
      case: c.name,
      steps: c.steps.length,
      backends: results,
    }),
  );
  process.exit(failed ? 1 : 0);
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : err);
  process.exit(1);
});
