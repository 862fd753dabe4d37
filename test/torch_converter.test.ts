/**
 * tools/torch_checkpoint.py against real PyTorch: a simd-adam checkpoint becomes a torch.optim
 * state dict that torch.optim.Adam loads and steps on, and what torch saves comes back as a
 * checkpoint that resumes here. Runs where a Python with torch is found (SIMD_ADAM_PYTHON,
 * python3, /usr/bin/python3); CI installs Debian's python3-torch.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

import { Adam, Parameter, readStateDict, writeStateDict } from '../src/index.js';
import { firstMismatch } from './support/compare.js';
import { fillValues, rng, SPECIALS } from './support/random.js';
import { buildFile, f32Data, i64Data, parseSpec } from './support/safetensors.js';
import { f32State } from './support/float32_state.js';

const TOOL = join(dirname(fileURLToPath(import.meta.url)), '..', 'tools', 'torch_checkpoint.py');
const python = [process.env.SIMD_ADAM_PYTHON, 'python3', '/usr/bin/python3'].find(
  (exe) => exe !== undefined && spawnSync(exe, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0,
);
/** torch before 2.0 cannot load floats with weights_only=True. */
const TRUSTED = python !== undefined && Number(spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' }).stdout.split('.')[0]) < 2 ? ['--trusted'] : [];
const work = mkdtempSync(join(tmpdir(), 'simd-adam-torch-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function run(args: string[], input?: string): string {
  const out = spawnSync(python!, args, { encoding: 'utf8', input, env: { ...process.env, TOOL } });
  if (out.status !== 0) throw new Error(`python ${args.join(' ')} exited with ${out.status}:\n${out.stderr}`);
  return out.stdout;
}

const SIZES = [[3, 4], [5], [2, 2, 2]];
function model(seed: number): Parameter[] {
  return SIZES.map((shape, i) => new Parameter(fillValues(new Float32Array(shape.reduce((a, b) => a * b, 1)), rng(seed + i)), { name: `layer${i}`, shape }));
}
const groups = (ps: Parameter[]) => [{ params: ps.slice(0, 2), weightDecay: 0.01 }, { params: ps.slice(2), amsgrad: true, lr: 0.05 }];
const grads = (s: number) => SIZES.map((_, i) => fillValues(new Float32Array(SIZES[i]!.reduce((a, b) => a * b, 1)), rng(1000 * s + i)));

/** Loads a .pt the converter wrote into torch.optim.Adam, steps once with the grads in
 * grads.safetensors (param.<name>), and saves { optimizer, model } with torch.save. */
const STEP_IN_TORCH = `
import importlib.util, os, sys, torch
spec = importlib.util.spec_from_file_location("tc", os.environ["TOOL"]); tc = importlib.util.module_from_spec(spec); spec.loader.exec_module(tc)
pt, grads_path, out = sys.argv[1:4]
ck = torch.load(pt)
names = [n for g in ck["optimizer"]["param_groups"] for n in g["param_names"]]
params = [torch.nn.Parameter(ck["model"][n].clone()) for n in names]
opt = torch.optim.Adam([{"params": params[:2]}, {"params": params[2:]}])
opt.load_state_dict(ck["optimizer"])
assert opt.param_groups[1]["amsgrad"] and opt.param_groups[0]["weight_decay"] == 0.01
grads = tc.read_checkpoint(grads_path)["model"]
for n, p in zip(names, params):
    p.grad = grads[n].clone().reshape(p.shape)
opt.step()
torch.save({"optimizer": opt.state_dict(), "model": {n: p.detach() for n, p in zip(names, params)}, "metadata": ck["metadata"]}, out)
`;

describe.skipIf(python === undefined)('tools/torch_checkpoint.py with PyTorch', () => {
  it('to-torch gives a state dict torch.optim.Adam steps on as we do; from-torch brings its result back to resume here', async () => {
    const ours = model(1);
    const opt = new Adam(groups(ours), { lr: 0.01 });
    for (let s = 0; s < 3; s++) {
      ours.forEach((p, i) => (p.grad = grads(s)[i]!));
      opt.step();
    }
    const ckpt = join(work, 'run.safetensors');
    await writeStateDict(ckpt, opt, { params: ours, metadata: { epoch: 3 } });
    const g = join(work, 'grads.safetensors');
    await writeStateDict(g, { state: {}, param_groups: [] }, { params: Object.fromEntries(ours.map((p, i) => [p.name!, grads(3)[i]!])) });

    run([TOOL, 'to-torch', ckpt, join(work, 'run.pt')]);
    run(['-c', STEP_IN_TORCH, join(work, 'run.pt'), g, join(work, 'stepped.pt')]);
    run([TOOL, 'from-torch', join(work, 'stepped.pt'), join(work, 'stepped.safetensors'), ...TRUSTED]);

    ours.forEach((p, i) => (p.grad = grads(3)[i]!));
    opt.step();
    const back = await readStateDict(join(work, 'stepped.safetensors'));
    expect(back.metadata).toEqual({ epoch: 3 });
    ours.forEach((p, i) => {
      expect(firstMismatch(back.params![p.name!]!.data, p.data), `param ${i}`).toBeNull();
      const state = f32State(opt.state.get(p));
      expect(back.state[i]!.step).toBe(4);
      expect(firstMismatch(back.state[i]!.exp_avg as Float32Array, state.expAvg), `exp_avg ${i}`).toBeNull();
      expect(firstMismatch(back.state[i]!.exp_avg_sq as Float32Array, state.expAvgSq), `exp_avg_sq ${i}`).toBeNull();
    });
    // What torch stepped resumes here.
    const resumed = SIZES.map((shape, i) => new Parameter(back.params![`layer${i}`]!.data, { name: `layer${i}`, shape }));
    const again = new Adam(groups(resumed));
    again.loadStateDict(back);
    expect(again.paramGroups[1]).toMatchObject({ amsgrad: true, lr: 0.05 });
  });

  it('to-torch then from-torch gives back every bit, NaN payloads and steps beyond 2^24 included', async () => {
    const ps = model(7);
    const opt = new Adam(groups(ps));
    for (let s = 0; s < 2; s++) {
      ps.forEach((p, i) => (p.grad = fillValues(new Float32Array(p.numel), rng(50 + 10 * s + i), SPECIALS)));
      opt.step();
    }
    new Uint32Array(f32State(opt.state.get(ps[0]!)).expAvg.buffer, f32State(opt.state.get(ps[0]!)).expAvg.byteOffset, 1)[0] = 0x7fc0abcd;
    f32State(opt.state.get(ps[2]!)).step = 2 ** 40 + 3;
    const a = join(work, 'a.safetensors');
    await writeStateDict(a, opt, { params: ps, scheduler: { last_epoch: 9 }, metadata: [1, 'two'] });
    run([TOOL, 'to-torch', a, join(work, 'a.pt')]);
    run([TOOL, 'from-torch', join(work, 'a.pt'), join(work, 'b.safetensors'), ...TRUSTED]);
    const [x, y] = [parseSpec(readFileSync(a)), parseSpec(readFileSync(join(work, 'b.safetensors')))];
    expect([...y.tensors.keys()].sort()).toEqual([...x.tensors.keys()].sort());
    for (const [name, t] of x.tensors) {
      expect(y.tensors.get(name)!.dtype, name).toBe(t.dtype);
      expect(y.tensors.get(name)!.shape, name).toEqual(t.shape);
      expect(Buffer.from(y.tensors.get(name)!.bytes).equals(Buffer.from(t.bytes)), name).toBe(true);
    }
    expect(JSON.parse(y.metadata!.param_groups!)).toEqual(JSON.parse(x.metadata!.param_groups!));
    const back = await readStateDict(join(work, 'b.safetensors'));
    expect(back.state[2]!.step).toBe(2 ** 40 + 3);
    expect([back.scheduler, back.metadata]).toEqual([{ last_epoch: 9 }, [1, 'two']]);
  });

  it('to-torch turns bfloat16 and 8-bit moments into float32: bits << 16, and qmap[code] · scale per block of 256', () => {
    const n = 300;
    const codes = new Uint8Array(n).map((_, i) => (i * 7) % 256);
    const qmap = new Float32Array(256).map((_, i) => (i - 128) / 128);
    const scale = new Float32Array([0.5, 4]);
    const bf16 = new Uint16Array(n).map((_, i) => 0x3f80 + i); // 1.0, then the next bf16 values up
    const tensors: Array<[string, string, number[], Uint8Array]> = [
      ['state.0.step', 'I64', [], i64Data(5n)],
      ['state.0.exp_avg.scale', 'F32', [2], new Uint8Array(scale.buffer)],
      ['state.0.exp_avg.qmap', 'F32', [256], new Uint8Array(qmap.buffer)],
      ['state.0.exp_avg_sq', 'BF16', [n], new Uint8Array(bf16.buffer)],
      ['state.0.exp_avg.codes', 'U8', [n], codes],
      ['param.w', 'F32', [1], f32Data([1])],
    ];
    const header: Record<string, unknown> = { __metadata__: { param_groups: '[{"params":[0]}]' } };
    let at = 0;
    for (const [name, dtype, shape, bytes] of tensors) {
      header[name] = { dtype, shape, data_offsets: [at, at + bytes.byteLength] };
      at += bytes.byteLength;
    }
    const file = join(work, 'lowbit.safetensors');
    writeFileSync(file, buildFile(header, Buffer.concat(tensors.map((t) => t[3]))));
    const out = run(['-c', `
import importlib.util, json, os, sys
spec = importlib.util.spec_from_file_location("tc", os.environ["TOOL"]); tc = importlib.util.module_from_spec(spec); spec.loader.exec_module(tc)
e = tc.read_checkpoint(sys.argv[1])["optimizer"]["state"][0]
print(json.dumps({k: (v.tolist() if v.dim() else v.item()) for k, v in e.items()} | {"dtypes": [str(v.dtype) for v in e.values()]}))
`, file]);
    const entry = JSON.parse(out) as { step: number; exp_avg: number[]; exp_avg_sq: number[]; dtypes: string[] };
    expect(entry.step).toBe(5);
    expect(entry.dtypes).toEqual(['torch.float32', 'torch.float32', 'torch.float32']);
    expect(entry.exp_avg).toEqual(Array.from(codes, (c, i) => Math.fround(qmap[c]! * scale[Math.floor(i / 256)]!)));
    expect(entry.exp_avg_sq).toEqual(Array.from(bf16, (b) => new Float32Array(new Uint32Array([b << 16]).buffer)[0]!));
  });
});
