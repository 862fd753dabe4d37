#!/usr/bin/env python3
"""Records what PyTorch 1.13 does in the corners that issue 13 found, as the project's own fixtures.

Writes, next to nothing else:
  test/fixtures/recorded/lr_scheduler_added_group.json
      For every scheduler class (SequentialLR and ChainedScheduler included): two param groups,
      a third added with `optimizer.add_param_group` before optimizer step `add_at`, then
      `optimizer.step(); scheduler.step()` for `steps` steps. `lrs[i]` holds every group's lr and
      `last_lrs[i]` what `get_last_lr()` returned, after construction (i = 0) and after step i.
      When torch raises, `error` is `{ step, type, message }` and the lists stop before that step.
      Also `warnings`: how many "`lr_scheduler.step()` before `optimizer.step()`" warnings each
      class gives for `scheduler.step(); optimizer.step(); scheduler.step()` (`scheduler_first`)
      and for the same after one `optimizer.step()` (`optimizer_first`), every warning shown.
  test/fixtures/recorded/clip_grad_norm_corners.json
      `torch.nn.utils.clip_grad_norm_` on float32 grads where float32 arithmetic decides the
      result: overflow to inf (per grad and in the total only), underflow to 0, non-finite grads.
      `total_norm` and `clipped` as returned and left by `error_if_nonfinite=False`;
      `error_if_nonfinite_raises` whether `error_if_nonfinite=True` raised. Non-finite numbers are
      written as the strings "inf", "-inf" and "nan" (JSON has no such numbers).

Numbers are written with Python's repr of the float64 value, which for a float32 value is that
value exactly. The scheduler options use PyTorch's keyword names; `lr_lambda` is described as
`{"pow": b}`, meaning `lambda epoch: b ** epoch`.

Run from the repository root with a python3 that has torch 1.13 (on Debian 12:
`apt-get install python3-torch`, then `/usr/bin/python3 scripts/record/pytorch_corners.py`).
"""
import json
import math
import os
import warnings

import torch
from torch.optim import lr_scheduler as S

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, 'test', 'fixtures', 'recorded')
REFERENCE = f'torch {torch.__version__}'


def num(x):
    x = float(x)
    if math.isnan(x):
        return 'nan'
    if math.isinf(x):
        return 'inf' if x > 0 else '-inf'
    return x


def optimizer(lrs):
    groups = [{'params': [torch.nn.Parameter(torch.zeros(2))], 'lr': lr} for lr in lrs]
    return torch.optim.Adam(groups)


def build(name, opt, kwargs):
    if name == 'SequentialLR' or name == 'ChainedScheduler':
        children = [build(c['scheduler'], opt, c['kwargs']) for c in kwargs['schedulers']]
        if name == 'ChainedScheduler':
            return S.ChainedScheduler(children)
        return S.SequentialLR(opt, schedulers=children, milestones=kwargs['milestones'])
    if name == 'LambdaLR':
        base = kwargs['lr_lambda']['pow']
        return S.LambdaLR(opt, lr_lambda=lambda epoch: base ** epoch)
    return getattr(S, name)(opt, **kwargs)


SCHEDULERS = [
    ('lambda_lr', 'LambdaLR', {'lr_lambda': {'pow': 0.95}}, 3),
    ('step_lr', 'StepLR', {'step_size': 7, 'gamma': 0.5}, 3),
    ('multistep_lr', 'MultiStepLR', {'milestones': [5, 12, 20], 'gamma': 0.3}, 3),
    ('constant_lr', 'ConstantLR', {'factor': 0.5, 'total_iters': 4}, 2),
    ('linear_lr', 'LinearLR', {'start_factor': 0.25, 'end_factor': 1.0, 'total_iters': 8}, 3),
    ('exponential_lr', 'ExponentialLR', {'gamma': 0.9}, 3),
    ('polynomial_lr', 'PolynomialLR', {'total_iters': 20, 'power': 2.0}, 3),
    ('cosine_annealing_lr', 'CosineAnnealingLR', {'T_max': 10, 'eta_min': 0.001}, 3),
    ('cosine_warm_restarts', 'CosineAnnealingWarmRestarts', {'T_0': 5, 'T_mult': 2, 'eta_min': 0.0}, 3),
    ('one_cycle_lr', 'OneCycleLR', {'max_lr': 0.5, 'total_steps': 31, 'cycle_momentum': False}, 3),
    ('one_cycle_lr_momentum', 'OneCycleLR', {'max_lr': 0.5, 'total_steps': 31}, 3),
    ('sequential_added_before_milestone', 'SequentialLR', {
        'schedulers': [
            {'scheduler': 'LinearLR', 'kwargs': {'start_factor': 0.1, 'end_factor': 1.0, 'total_iters': 5}},
            {'scheduler': 'CosineAnnealingLR', 'kwargs': {'T_max': 25, 'eta_min': 0.001}},
        ],
        'milestones': [5],
    }, 3),
    ('sequential_added_after_milestone', 'SequentialLR', {
        'schedulers': [
            {'scheduler': 'LinearLR', 'kwargs': {'start_factor': 0.1, 'end_factor': 1.0, 'total_iters': 5}},
            {'scheduler': 'ExponentialLR', 'kwargs': {'gamma': 0.9}},
        ],
        'milestones': [5],
    }, 8),
    ('chained', 'ChainedScheduler', {
        'schedulers': [
            {'scheduler': 'ConstantLR', 'kwargs': {'factor': 0.1, 'total_iters': 2}},
            {'scheduler': 'ExponentialLR', 'kwargs': {'gamma': 0.9}},
        ],
    }, 1),
]

PLATEAU_METRICS = [1.0, 0.9, 0.85, 0.85, 0.86, 0.86, 0.87, 0.8, 0.8, 0.8, 0.8, 0.8, 0.79, 0.79, 0.79, 0.79, 0.79, 0.79, 0.79, 0.79]
PLATEAU = [
    ('reduce_on_plateau_scalar_min_lr', {'mode': 'min', 'factor': 0.5, 'patience': 2, 'cooldown': 1, 'min_lr': 0.01}),
    ('reduce_on_plateau_per_group_min_lr', {'mode': 'min', 'factor': 0.5, 'patience': 2, 'cooldown': 1, 'min_lr': [0.01, 0.001]}),
]

BASE_LRS = [0.1, 0.01]
ADDED_LR = 0.05
STEPS = 30


def run_case(name, scheduler, kwargs, add_at, metrics=None):
    opt = optimizer(BASE_LRS)
    sched = S.ReduceLROnPlateau(opt, **kwargs) if metrics else build(scheduler, opt, kwargs)
    lrs = [[g['lr'] for g in opt.param_groups]]
    last_lrs = [list(sched._last_lr)] if hasattr(sched, '_last_lr') else [None]
    error = None
    steps = len(metrics) if metrics else STEPS
    for i in range(1, steps + 1):
        if i == add_at:
            opt.add_param_group({'params': [torch.nn.Parameter(torch.zeros(2))], 'lr': ADDED_LR})
        opt.step()
        try:
            if metrics:
                sched.step(metrics[i - 1])
            else:
                sched.step()
        except Exception as e:  # noqa: BLE001 - what torch raises is the point
            error = {'step': i, 'type': type(e).__name__, 'message': str(e)}
            break
        lrs.append([g['lr'] for g in opt.param_groups])
        last_lrs.append(list(sched._last_lr) if hasattr(sched, '_last_lr') else None)
    case = {
        'name': name,
        'scheduler': 'ReduceLROnPlateau' if metrics else scheduler,
        'kwargs': kwargs,
        'base_lrs': BASE_LRS,
        'added_lr': ADDED_LR,
        'add_at': add_at,
        'steps': steps,
        'lrs': lrs,
        'last_lrs': last_lrs,
        'reference': f'{REFERENCE} torch.optim.lr_scheduler',
    }
    if metrics:
        case['metrics'] = metrics
    if error:
        case['error'] = error
    return case


def warning_count(scheduler, kwargs, optimizer_first):
    opt = optimizer(BASE_LRS)
    sched = build(scheduler, opt, kwargs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        if optimizer_first:
            opt.step()
        sched.step()
        opt.step()
        sched.step()
    return sum('before `optimizer.step()`' in str(w.message) for w in caught)


def schedulers_fixture():
    cases = [run_case(n, s, k, a) for n, s, k, a in SCHEDULERS]
    cases += [run_case(n, None, k, 5, PLATEAU_METRICS) for n, k in PLATEAU]
    counts = {}
    for _, s, k, _ in SCHEDULERS:
        counts.setdefault(s, {'scheduler_first': warning_count(s, k, False), 'optimizer_first': warning_count(s, k, True)})
    return {'reference': REFERENCE, 'cases': cases, 'warnings': counts}


def clip(grads, max_norm, norm_type, error_if_nonfinite):
    params = []
    for g in grads:
        p = torch.nn.Parameter(torch.zeros(len(g) if g is not None else 3))
        p.grad = None if g is None else torch.tensor(g, dtype=torch.float32)
        params.append(p)
    total = torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type=norm_type, error_if_nonfinite=error_if_nonfinite)
    return total, [None if p.grad is None else p.grad.tolist() for p in params]


INF = float('inf')
NAN = float('nan')
CLIPS = [
    ('l2_overflow_one_element', 1.0, 2.0, [[2e19]]),
    ('l2_overflow_in_one_grad', 1.0, 2.0, [[1e19, 1e19, 1e19, 1e19], [0.5]]),
    ('l2_overflow_in_total_only', 1.0, 2.0, [[1.5e19], [1.5e19]]),
    ('l2_just_below_overflow', 1.0, 2.0, [[1.8e19]]),
    ('l2_underflow', 1.0, 2.0, [[1e-30, -2e-30], [3e-25]]),
    ('l1_overflow_in_one_grad', 1.0, 1.0, [[3e38, 3e38]]),
    ('l1_overflow_in_total_only', 1.0, 1.0, [[3e38], [3e38]]),
    ('l3_overflow', 1.0, 3.0, [[1e13, 1.0]]),
    ('l3_underflow', 1.0, 3.0, [[1e-20, 2e-20]]),
    ('l0_5_overflow_in_root', 1.0, 0.5, [[1e38, 1e38]]),
    ('inf_norm_near_max', 1.0, INF, [[3e38, -3.3e38], [1.0]]),
    ('l2_nan_grad', 1.0, 2.0, [[1.0, NAN], [2.0]]),
    ('l2_inf_grad', 1.0, 2.0, [[INF, 1.0], [2.0]]),
    ('inf_norm_nan_grad', 1.0, INF, [[1.0, NAN], [2.0]]),
]


def clip_fixture():
    out = []
    for name, max_norm, norm_type, grads in CLIPS:
        total, clipped = clip(grads, max_norm, norm_type, False)
        try:
            clip(grads, max_norm, norm_type, True)
            raises = False
        except RuntimeError:
            raises = True
        out.append({
            'name': name,
            'max_norm': max_norm,
            'norm_type': 'inf' if norm_type == INF else norm_type,
            'grads': [[num(torch.tensor(x, dtype=torch.float32).item()) for x in g] for g in grads],
            'total_norm': num(total.item()),
            'clipped': [None if c is None else [num(x) for x in c] for c in clipped],
            'error_if_nonfinite_raises': raises,
            'reference': f'{REFERENCE} torch.nn.utils.clip_grad_norm_',
        })
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in [('lr_scheduler_added_group.json', schedulers_fixture()), ('clip_grad_norm_corners.json', clip_fixture())]:
        with open(os.path.join(OUT, name), 'w') as f:
            json.dump(data, f, indent=1, allow_nan=False)
            f.write('\n')


if __name__ == '__main__':
    main()
