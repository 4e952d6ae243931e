"""Where a training step's time goes: gpt_ft's trainer, as `train_speed.py` builds it, one step under torch's profiler.

    python benchmarks/profile_step.py                      # the GPT-2 124M shape, batch 32 x 128, gpt_ft's defaults
    python benchmarks/profile_step.py --shape tiny         # 4 layers x 256
    python benchmarks/profile_step.py --as-avx2            # this CPU measured as one with AVX2 only (fp32)
    python benchmarks/profile_step.py --off fast_dropout   # with levers off (train_speed.py's names, comma-separated)

The fourth training step is profiled (the first three hold the warm-up: any compiling, and the allocator growing
to the step's size: page faults, counted and printed with the step's time in the kernel). Printed: the machine, the
share of the step's CPU time (operators' self time) by kind of work, then the operators that took the most. Kinds:
matrix products (`mm`, `addmm`, `addmm_`, `bmm`, `baddbmm`), dropout's random masks (`bernoulli_`; gpt_ft's
`keep_mask`: `random_` and the comparison `ge`), casts and copies
(`copy_`, autocast's casts to and from bf16 among them), the optimizer step (`_fused_adamw_`), everything else
(elementwise work: GELU, layer norm, softmax, the dropout multiply, additions).
"""
from __future__ import annotations
import os, resource, sys, tempfile
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CACHE, start, table
from train_speed import LEVERS, prepare, train_gpt_ft

KINDS = {'matrix products': ('aten::mm', 'aten::addmm', 'aten::addmm_', 'aten::bmm', 'aten::baddbmm'),
         "dropout's random masks": ('aten::bernoulli_', 'aten::random_', 'aten::ge'),  # PyTorch's; `keep_mask`'s
         'casts and copies': ('aten::copy_',),
         'optimizer step': ('aten::_fused_adamw_', 'aten::_foreach_add_', 'aten::_foreach_mul_')}
PROFILED_STEP = 4

def options(p):
    p.add_argument('--shape', default='gpt2', choices=['tiny', 'gpt2'], help="the model's shape")
    p.add_argument('--top', type=int, default=12, help='operators to list')
    p.add_argument('--off', default='', help=f"levers off, comma-separated: {', '.join(LEVERS)}")

def kind(name:str)->str:
    return next((k for k, ops in KINDS.items() if name in ops), 'everything else')

def main():
    os.environ.update(TQDM_DISABLE='1', TRANSFORMERS_VERBOSITY='error')  # before transformers is imported
    a = start(__doc__, options=options, rounds=None)
    import torch
    from torch.profiler import ProfilerActivity, profile
    from transformers import PrinterCallback, ProgressCallback, TrainerCallback
    CACHE.mkdir(exist_ok=True)
    off = [n for n in a.off.split(',') if n]
    if unknown := set(off) - set(LEVERS): sys.exit(f"unknown lever(s) {', '.join(sorted(unknown))}. Fix: use some of {', '.join(LEVERS)}")
    job = dict(prepare(a.shape, PROFILED_STEP), side='gpt_ft', off=off)

    class Profile(TrainerCallback):
        "Profile training step PROFILED_STEP, from before its forward pass to after its optimizer step."
        prof, faults, system = None, 0, 0.0
        def on_step_begin(self, args, state, control, **kw):
            if state.global_step == PROFILED_STEP - 1:
                self.prof = profile(activities=[ProfilerActivity.CPU]); self.prof.__enter__()
                r = resource.getrusage(resource.RUSAGE_SELF)
                self.faults, self.system = -r.ru_minflt, -r.ru_stime
        def on_step_end(self, args, state, control, **kw):
            if state.global_step == PROFILED_STEP and self.prof:
                r = resource.getrusage(resource.RUSAGE_SELF)  # the step's own, not the profiler's summing up
                self.faults, self.system = self.faults + r.ru_minflt, self.system + r.ru_stime
                self.prof.__exit__(None, None, None)

    cb = Profile()
    with tempfile.TemporaryDirectory() as out:
        trainer, _, _ = train_gpt_ft(job, out)
        for c in (PrinterCallback, ProgressCallback): trainer.remove_callback(c)
        trainer.add_callback(cb)
        trainer.args.eval_strategy = 'no'
        trainer.train()
    ops = [e for e in cb.prof.key_averages() if e.self_cpu_time_total > 0]
    total = sum(e.self_cpu_time_total for e in ops)
    by_kind = {}
    for e in ops: by_kind[kind(e.key)] = by_kind.get(kind(e.key), 0) + e.self_cpu_time_total
    prec = 'bf16' if trainer.args.bf16 else 'fp32'
    print(f"shape {a.shape}, batch 32 x 128, {prec}, step {PROFILED_STEP}: {total / 1e6:.2f} s of operator time "
          f"({torch.get_num_threads()} threads); {cb.faults:,} page faults, {cb.system:.2f} s in the kernel" + (f"; levers off: {', '.join(off)}" if off else ''))
    rows = [{'kind of work': k, 'seconds': v / 1e6, 'share': f'{v / total:.0%}'}
            for k, v in sorted(by_kind.items(), key=lambda kv: -kv[1])]
    print(table(rows, ['kind of work', 'seconds', 'share']))
    top = sorted(ops, key=lambda e: -e.self_cpu_time_total)[:a.top]
    print(table([{'operator': e.key, 'calls': str(e.count), 'seconds': e.self_cpu_time_total / 1e6,
                  'share': f'{e.self_cpu_time_total / total:.0%}', 'kind': kind(e.key)} for e in top],
                ['operator', 'calls', 'seconds', 'share', 'kind']))

if __name__ == '__main__': main()
