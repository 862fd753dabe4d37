"""PyTorch's Adam on the training loops `npm run bench` times (bench/loops.ts), one step per
request so that the two can be interleaved: reads a mode per line ('fresh', 'zero', 'cached'),
runs one loop iteration and prints its time in ns. Usage: torch_loop.py COUNT SIZE."""
import sys
import time

import torch

count, size = int(sys.argv[1]), int(sys.argv[2])
torch.manual_seed(0)
params = [torch.nn.Parameter(torch.randn(size) * 0.01) for _ in range(count)]
# Two pre-allocated grad sets, handed over alternately: a new tensor every step, as after a
# backward pass, without timing the allocation.
sets = [[torch.randn(size) * 0.01 for _ in range(count)] for _ in range(2)]
opt = torch.optim.Adam(params, lr=1e-3)
for p, g in zip(params, sets[0]):
    p.grad = g
opt.step()
k = 0
print(f"ready torch {torch.__version__}", flush=True)
for line in sys.stdin:
    mode = line.strip()
    start = time.perf_counter_ns()
    if mode != "cached":
        k ^= 1
        if mode == "zero":
            opt.zero_grad(set_to_none=True)
        for p, g in zip(params, sets[k]):
            p.grad = g
    opt.step()
    print(time.perf_counter_ns() - start, flush=True)
