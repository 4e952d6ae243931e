"""Each speed lever of gpt_ft.speed alone, before and after, on the tiny shape (4 layers, 256 wide, GPT-2's vocabulary).

    python benchmarks/levers.py            # every lever, median of 3 rounds (about 20 minutes on 2 cores)
    python benchmarks/levers.py --quick    # allocator, loss and optimizer, one round, few steps (under 2 minutes)

Every measurement runs in a fresh process: a plain PyTorch loop (forward, backward, AdamW step) on random tokens,
batch 32 x 128 unless the table says otherwise, the first step left out as warm-up. `sys s` is the system CPU time of
the timed steps, `peak MB` the process's peak resident memory. The allocator rows differ only in how glibc is
tuned: not at all, by environment variables at process start, or by `tune_malloc()` (mallopt) once running. The last
line is the speed ratio of all default levers on (tuned allocator, chunked loss, fused AdamW) over all off.
"""
from __future__ import annotations
import os, sys, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import busy, median, peak_rss_mb, run_worker, start, table, worker_env

TINY = dict(n_layer=4, n_embd=256, n_head=4)

def worker(job:dict)->dict:
    import torch
    from gpt_ft.model import tiny_gpt2
    from gpt_ft.speed import chunked_lm_loss, tune_malloc
    if job.get('runtime_malloc'): assert tune_malloc(True)
    if job['kind'] == 'optimizer':  # optimizer step alone, on the GPT-2 124M shape's parameters
        model = tiny_gpt2(n_layer=12, n_embd=768, n_head=12, n_positions=1024)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=job['fused'], foreach=None if job['fused'] else True)
        for p in model.parameters(): p.grad = torch.randn_like(p) * 1e-3
        times = []
        for _ in range(job['steps'] + 1):
            t = time.perf_counter(); opt.step(); times.append(time.perf_counter() - t)
        return dict(step_s=median(times[1:]), peak_mb=peak_rss_mb())
    if job['kind'] == 'collate':  # building one batch of 32 blocks of 128 tokens
        from gpt_ft.data import LMCollator
        blocks = [{'input_ids': list(range(i, i + 128))} for i in range(32)]
        c, times = LMCollator(50256), []
        for _ in range(50):
            t = time.perf_counter(); c(blocks); times.append(time.perf_counter() - t)
        return dict(step_s=median(times), peak_mb=peak_rss_mb())
    torch.manual_seed(0)
    model = tiny_gpt2(**TINY, n_positions=1024).train()
    if job.get('compile'): model = torch.compile(model)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=job.get('fused', True))
    ids = torch.randint(0, 50257, (job.get('batch', 32), 128), generator=torch.Generator().manual_seed(0))
    dtype = dict(bf16=torch.bfloat16, fp32=torch.float32)[job.get('precision', 'fp32')]
    times, cpu, losses = [], [], []
    for _ in range(job['steps'] + 1):
        t, c = time.perf_counter(), os.times()
        with torch.autocast('cpu', dtype=dtype, enabled=dtype != torch.float32):
            if job.get('chunk'):
                inner = getattr(model, '_orig_mod', model)
                loss = chunked_lm_loss(inner.transformer(input_ids=ids).last_hidden_state, inner.lm_head.weight, ids,
                                       chunk=job['chunk'])
            else: loss = model(input_ids=ids, labels=ids).loss
        loss.backward(); opt.step(); opt.zero_grad()
        times.append(time.perf_counter() - t); cpu.append(os.times().system - c.system); losses.append(loss.item())
    return dict(step_s=median(times[1:]), sys_s=sum(cpu[1:]), first_s=times[0], peak_mb=peak_rss_mb(),
                tok_s=ids.numel() / median(times[1:]), loss=losses[-1])

def main():
    a = start(__doc__, worker, quick='allocator, loss and optimizer only; one round, 3 steps',
              options=lambda p: p.add_argument('--steps', type=int, default=4))
    rounds, steps = a.rounds, (3 if a.quick else a.steps)
    s = dict(kind='train', steps=steps)
    # (lever, setting, job, allocator from the environment)
    cases = [('allocator', 'glibc default', dict(s), 'default'),
             ('allocator', 'env vars at start', dict(s), 'env'),
             ('allocator', 'tune_malloc() at runtime', dict(s, runtime_malloc=True), 'default'),
             ('loss', 'full logits', dict(s, runtime_malloc=True), 'default'),
             *[('loss', f'chunked, {c} tokens', dict(s, runtime_malloc=True, chunk=c), 'default')
               for c in ((1024,) if a.quick else (256, 1024, 4096))],
             ('optimizer (124M params)', 'AdamW foreach', dict(kind='optimizer', fused=False, steps=5), 'default'),
             ('optimizer (124M params)', 'AdamW fused', dict(kind='optimizer', fused=True, steps=5), 'default'),
             ('all off / all on', 'default malloc, full logits, foreach', dict(s, fused=False), 'default'),
             ('all off / all on', 'tune_malloc, chunked 1024, fused', dict(s, runtime_malloc=True, chunk=1024), 'default')]
    if not a.quick:
        cases += [('collate (32 x 128)', 'LMCollator, one batch', dict(kind='collate'), 'default'),
                  ('precision (batch 4)', 'fp32', dict(s, runtime_malloc=True, chunk=1024, batch=4, steps=2), 'default'),
                  ('precision (batch 4)', 'bf16 autocast', dict(s, runtime_malloc=True, chunk=1024, batch=4, steps=2,
                                                                precision='bf16'), 'default'),
                  ('torch.compile', 'eager', dict(s, runtime_malloc=True), 'default'),
                  ('torch.compile', 'compiled', dict(s, runtime_malloc=True, compile=True), 'default')]
    res = {i: [] for i in range(len(cases))}
    for _ in range(rounds):
        for i, (_, _, job, malloc) in enumerate(cases): res[i].append(run_worker(__file__, job, env=worker_env(malloc)))
    rows, first = [], {}
    for i, (lever, setting, job, _) in enumerate(cases):
        m = {k: median([r[k] for r in res[i]]) for k in res[i][0]}
        base = first.setdefault(lever, m)
        rows.append({'lever': lever, 'setting': setting, 'step s': m['step_s'], 'tok/s': m.get('tok_s', ''),
                     'sys s': m.get('sys_s', ''), 'first step s': m.get('first_s', ''), 'peak MB': m['peak_mb'],
                     'loss': round(m['loss'], 4) if 'loss' in m else '', 'speed vs first': f"{base['step_s'] / m['step_s']:.2f}x"})
    print(table(rows, list(rows[0])))
    print(f'rounds: {rounds} (medians), {steps} timed steps' + (f'; {busy()}' if busy() else ''))
    off, on = [r for r in rows if r['lever'] == 'all off / all on']
    print(f"speed ratio all on / all off: {off['step s'] / on['step s']:.2f}x")

if __name__ == '__main__': main()
