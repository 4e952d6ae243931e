"""Compiling the model's body: gpt_ft's training step with `torch.compile` over the transformer blocks, against eager.

    python benchmarks/compile_body.py                 # both shapes, fp32 and (where native) bf16, median of 3 rounds
    python benchmarks/compile_body.py --quick         # the tiny shape, one round
    python benchmarks/compile_body.py --as-avx2       # this CPU measured as one with AVX2 only (fp32)

gpt_ft's step as `LMTrainer` computes it, without the Trainer around it: the body (`model.transformer`) to hidden
states, `chunked_lm_loss` over the output layer (its arithmetic compiled in bf16, as a long bf16 CPU run has it),
backward, fused AdamW; GPT-2's activation fused (`fuse_gelu`), glibc's allocator tuned, dropout on. Random-init
models of the tiny (4 layers x 256) and GPT-2 124M shapes, batch 32 x 128. The compiled side wraps the body alone
in `torch.compile` (Inductor, default mode), so the loss stays gpt_ft's; its first step holds the compiling.

Printed: tokens/s (the batch over the median step time, the first two steps left out), the first step's seconds
(eager: warm-up; compiled: warm-up and compiling) and the loss after the last step (dropout's masks come from a
different generator when compiled, so it differs a little). The last line is the ratio compiled/eager per shape
and precision: above 1.00x, compiling the body would pay once its compiling time is made up.
"""
from __future__ import annotations
import sys, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import bf16_flags, median, run_worker, start, table, worker_env

SHAPES = {'tiny': dict(n_layer=4, n_embd=256, n_head=4), 'gpt2': dict(n_layer=12, n_embd=768, n_head=12)}
BATCH, BLOCK, WARMUP = 32, 128, 2

def worker(job:dict)->dict:
    import torch
    from gpt_ft.model import tiny_gpt2
    from gpt_ft.speed import chunked_lm_loss, fuse_gelu, tune_malloc
    tune_malloc(True)
    torch.manual_seed(0)
    model = tiny_gpt2(**SHAPES[job['shape']], n_positions=1024).train()
    fuse_gelu(model)
    body = torch.compile(model.transformer) if job['compiled'] else model.transformer
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
    ids = torch.randint(0, 50257, (BATCH, BLOCK), generator=torch.Generator().manual_seed(0))
    bf16, times = job['precision'] == 'bf16', []
    for _ in range(WARMUP + job['steps']):
        t = time.perf_counter()
        with torch.autocast('cpu', dtype=torch.bfloat16, enabled=bf16):
            hidden = body(input_ids=ids, use_cache=False).last_hidden_state
            loss = chunked_lm_loss(hidden, model.lm_head.weight, ids, fused=bf16)
        loss.backward(); opt.step(); opt.zero_grad()
        times.append(time.perf_counter() - t)
    return dict(tok_s=BATCH * BLOCK / median(times[WARMUP:]), first_s=times[0], loss=loss.item())

def options(p):
    p.add_argument('--shapes', default='tiny,gpt2', help='comma-separated: tiny, gpt2')
    p.add_argument('--steps', type=int, default=4, help='timed steps per run (after two warm-up steps)')

def main():
    a = start(__doc__, worker, quick='the tiny shape, one round', options=options)
    shapes = ['tiny'] if a.quick else a.shapes.split(',')
    precisions = ['fp32'] + (['bf16'] if bf16_flags() else [])
    cases = [(s, p, c) for s in shapes for p in precisions for c in (False, True)]
    res = {k: [] for k in cases}
    for _ in range(a.rounds):
        for s, p, c in cases:
            res[s, p, c].append(run_worker(__file__, dict(shape=s, precision=p, compiled=c, steps=a.steps),
                                           env=worker_env('default', TQDM_DISABLE=1)))
    rows, ratios = [], []
    for s, p, c in cases:
        m = {k: median([r[k] for r in res[s, p, c]]) for k in res[s, p, c][0]}
        rows.append({'shape': s, 'precision': p, 'body': 'compiled' if c else 'eager', 'tok/s': m['tok_s'],
                     'first step s': m['first_s'], 'loss': round(m['loss'], 4)})
        if c: ratios.append(f"{s} {p} {m['tok_s'] / rows[-2]['tok/s']:.2f}x")
    print(table(rows, list(rows[0])))
    print(f'rounds: {a.rounds} (medians), {a.steps} timed steps')
    print('speed ratio compiled/eager: ' + ', '.join(ratios))

if __name__ == '__main__': main()
