// Sloppy-mode CommonJS (no 'use strict'), where assigning a getter-only or non-writable property
// is silently ignored: each PyTorch habit below must still throw. Run by
// test/pytorch_habits.test.ts as `node --import tsx test/sloppy/pytorch_habits.cjs <module>`;
// prints one JSON object with what each attempt threw and what it left behind.
const m = require(process.argv[2]);

function attempt(fn) {
  try {
    fn();
    return { threw: false };
  } catch (e) {
    return { threw: true, name: e.name, code: e.code, message: e.message };
  }
}

const sloppy = (function () {
  return this !== undefined;
})();

const data = new Float32Array([1, 2, 3]);
const p = new m.Parameter(data, { name: 'w' });
const opt = new m.Adam([p], { lr: 0.1 });
const results = { sloppy };

// 1. Replacing data, and the other members fixed at construction.
results.data = attempt(() => {
  p.data = new Float32Array([7, 7, 7]);
});
results.dataKept = p.data === data;
for (const member of ['name', 'shape', 'numel', 'label']) results[member] = attempt(() => (p[member] = 1));
results.paramGroups = attempt(() => (opt.paramGroups = []));
results.defaults = attempt(() => (opt.defaults = {}));
results.nonFinite = attempt(() => (opt.nonFinite = 'throw'));

// 2. PyTorch spellings of members, assigned and read.
results.requires_grad = attempt(() => (p.requires_grad = false));
results.requiresGradKept = p.requiresGrad;
for (const member of ['param_groups', 'zero_grad', 'state_dict', 'load_state_dict', 'add_param_group']) {
  results[`read ${member}`] = attempt(() => opt[member]);
  results[`assign ${member}`] = attempt(() => (opt[member] = 1));
}

// 3. A group key spelled the PyTorch way.
opt.paramGroups[0].weight_decay = 0.5;
p.grad = new Float32Array([1, 1, 1]);
results.weight_decay = attempt(() => opt.step());
results.dataAfterStep = Array.from(p.data);
results.savedWeightDecay = opt.stateDict().param_groups[0].weight_decay;

console.log(JSON.stringify(results));
