"""Training speed: the seed recipe against gpt_ft's defaults, same model, data and number of tokens.

    python benchmarks/train_speed.py                   # both shapes, median of 3 rounds (about 30 minutes on 2 cores)
    python benchmarks/train_speed.py --quick           # the tiny shape, one round, 4 steps (under 2 minutes)
    python benchmarks/train_speed.py --each-lever-off  # also gpt_ft with each speed lever off alone, one row each
    python benchmarks/train_speed.py --each-lever-off compiled_loss   # the same for some levers only
    python benchmarks/train_speed.py --no-bf16 --no-chunked-loss ...   # gpt_ft's row with those levers off
    python benchmarks/train_speed.py --as-avx2         # a CPU with AVX-512 measured as one with AVX2 only (no bf16)

The seed recipe, as the article had it: transformers 4's `TextDataset` (re-implemented in `common.py`),
`DataCollatorForLanguageModeling(mlm=False)`, `TrainingArguments` with the seed's numbers (1 epoch, batch 32, save
every 10,000 steps, at most 2 kept; everything else default), the plain `Trainer` and the model's own loss, fp32,
glibc's default allocator. gpt_ft: `build_datasets`, `training_args`, `make_trainer` and `speed_kwargs` as
`finetune` uses them, every default left on: chunked loss, fused GELU, fast dropout (and its attention), tuned
allocator, fused AdamW, the precision gpt_ft picks for this CPU (bf16 where it has avx512_bf16 or amx_bf16, else fp32), the loss's arithmetic compiled in bf16 (the default
in bf16 CPU runs of 2M tokens or more, switched on here for these short ones; the compile falls in the first step,
which the speed leaves out), evaluation on the held-out file four times per run. Each side runs in its own process from the
same saved random-init weights and the same text (examples/tech_news.txt repeated), blocks of 128 tokens, batch 32.

Levers (each switch turns one off on gpt_ft's side): `--no-bf16` (fp32), `--no-chunked-loss` (the model's own loss
over the full logits), `--no-compiled-loss` (the chunked loss uncompiled), `--no-fused-gelu` (GPT-2's own `gelu_new`),
`--no-fast-dropout` (PyTorch's dropout, and SDPA's attention in training steps too),
`--no-malloc-tuning` (`GPT_FT_NO_MALLOC_TUNING=1`), `--no-fused-adamw` (`adamw_torch`).

Tokens/s is the batch's tokens over the median time of a training step (forward, backward, optimizer), the first
two steps left out as warm-up (the first compiles; in both the process's heap grows to its working size); `run s`
is the whole `train()` call, gpt_ft's evaluations included. `precision` is the dtype the first block's MLP matrix
product really ran in during training (a forward hook on `transformer.h[0].mlp.c_fc`), with what the Trainer was
asked for where that differs. `of peak` divides the achieved FLOP/s (6 x parameters + attention per token) by the
matmul peak of that precision (the median GFLOP/s of a 2048 x 2048 x 2048 product, measured in the same run): the
bf16 peak for a bf16 run, the fp32 peak for an fp32 one. The ceilings are the fastest a run could be against the
seed, were every FLOP done at that peak. Validation loss: every model scored the same way (fp32, no autocast) on
examples/tech_news_heldout.txt after the same number of tokens. The last lines are the speed ratio gpt_ft/seed
(median tok/s over rounds) for each shape, and the target for this kind of CPU: at least 3x on a CPU with native
bf16, at least 1.8x on one without.

`--as-avx2` keeps oneDNN, ATen's kernels and MKL to AVX2 in every measured process (`ONEDNN_MAX_CPU_ISA=AVX2`,
`ATEN_CPU_CAPABILITY=avx2`, `MKL_ENABLE_INSTRUCTIONS=AVX2`): the CPU counts as one without native bf16 and gpt_ft
trains in fp32, as it would there. It approximates such a CPU (vector width and instructions), not its caches or
clock: a measurement on a real one wins.
"""
from __future__ import annotations
import os, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (CACHE, ROOT, TextDataset, avx2_capped, bf16_flags, busy, cpu_kind, median, peak_rss_mb, run_worker, start, table,
                    worker_env)

SHAPES = {'tiny': dict(n_layer=4, n_embd=256, n_head=4), 'gpt2': dict(n_layer=12, n_embd=768, n_head=12)}
BLOCK, BATCH = 128, 32
WARMUP = 2  # training steps left out of tokens/s
MATMUL_N, MATMUL_REPS = 2048, 10
# gpt_ft's speed levers, each of which a switch turns off: name -> (switch, what gpt_ft does instead)
LEVERS = {'bf16': ('--no-bf16', 'fp32 instead of the precision gpt_ft picks'),
          'chunked_loss': ('--no-chunked-loss', "the model's own loss over the full logits"),
          'compiled_loss': ('--no-compiled-loss', "the chunked loss's arithmetic uncompiled"),
          'fused_gelu': ('--no-fused-gelu', "GPT-2's own gelu_new activation instead of its one-kernel equal"),
          'fast_dropout': ('--no-fast-dropout', "PyTorch's dropout, and attention by SDPA, in training too"),
          'malloc': ('--no-malloc-tuning', "glibc's default allocator (GPT_FT_NO_MALLOC_TUNING=1)"),
          'fused_adamw': ('--no-fused-adamw', "the Trainer's AdamW (adamw_torch)")}
TARGETS = {'native bf16': 3.0, 'no native bf16': 1.8}  # gpt_ft/seed tok/s at least this, by `cpu_kind()`
DTYPES = {'torch.float32': 'fp32', 'torch.bfloat16': 'bf16', 'torch.float16': 'fp16'}

# ---------------------------------------------------------------- measured in the worker processes
def matmul_gflops(dtype:str, n:int=MATMUL_N, reps:int=MATMUL_REPS)->float:
    "GFLOP/s of an n x n x n matrix product in `dtype` on this CPU (median of `reps`, after two warm-up products)."
    import torch
    dt = dict(fp32=torch.float32, bf16=torch.bfloat16)[dtype]
    a, b = torch.randn(n, n).to(dt), torch.randn(n, n).to(dt)
    for _ in range(2): a @ b
    times = []
    for _ in range(reps):
        t = time.perf_counter(); a @ b; times.append(time.perf_counter() - t)
    return 2 * n**3 / median(times) / 1e9

def val_loss(model, tok, file:Path)->float:
    "Mean loss over the full 128-token blocks of `file`, the same way for both sides."
    import torch
    ids = tok(file.read_text(), add_special_tokens=False, verbose=False)['input_ids']
    blocks = torch.tensor(ids[:len(ids) // BLOCK * BLOCK]).view(-1, BLOCK)
    model.eval()
    with torch.no_grad():
        losses = [model(input_ids=b, labels=b).loss.item() for b in blocks.split(4)]
    sizes = [len(b) for b in blocks.split(4)]
    return sum(l * s for l, s in zip(losses, sizes)) / sum(sizes)

def step_timer():
    from transformers import TrainerCallback
    class StepTimer(TrainerCallback):
        "Wall time of every training step."
        def __init__(self): self.times = []
        def on_step_begin(self, args, state, control, **kw): self.t = time.perf_counter()
        def on_step_end(self, args, state, control, **kw): self.times.append(time.perf_counter() - self.t)
    return StepTimer()

def dtype_probe(model)->set:
    "The dtypes the first block's MLP matrix product outputs while the model trains (a forward hook fills the set)."
    seen = set()
    def hook(mod, inp, out):
        if mod.training: seen.add(DTYPES.get(str(out.dtype), str(out.dtype)))
    model.transformer.h[0].mlp.c_fc.register_forward_hook(hook)
    return seen

def train_seed(job:dict, out:str):
    from transformers import AutoTokenizer, AutoModelForCausalLM, DataCollatorForLanguageModeling, Trainer, TrainingArguments
    tok = AutoTokenizer.from_pretrained(job['model'])
    tok.pad_token = None  # the seed recipe's tokenizer had none
    model = AutoModelForCausalLM.from_pretrained(job['model'])
    ds = TextDataset(tok, job['data'], BLOCK, overwrite_cache=True)
    args = TrainingArguments(output_dir=out, num_train_epochs=1, per_device_train_batch_size=BATCH, save_steps=10_000,
                             save_total_limit=2, max_steps=job['steps'], report_to='none', use_cpu=True,
                             disable_tqdm=True, save_strategy='no')
    timer = step_timer()
    trainer = Trainer(model=model, args=args, data_collator=DataCollatorForLanguageModeling(tok, mlm=False),
                      train_dataset=ds, callbacks=[timer])
    return trainer, tok, timer

def train_gpt_ft(job:dict, out:str):
    "gpt_ft as `finetune` runs it: its datasets, its arguments and its trainer, every default on but the levers in `off`."
    from gpt_ft.core import load_tokenizer
    from gpt_ft.data import build_datasets
    from gpt_ft.model import load_model
    from gpt_ft.speed import COMPILE_MIN_TOKENS, LMTrainer, compile_loss_wanted
    from gpt_ft.train import default_lr, make_trainer, training_args
    off = set(job.get('off', ()))
    tok, model = load_tokenizer(job['model']), load_model(job['model'], device=None)
    dsets = build_datasets(job['data'], tok, eval=job['heldout'], block_size=BLOCK)
    # else gpt_ft's default ('auto'), which reads the CPU's flags: under --as-avx2 bf16 would be emulated
    kw = dict(precision='fp32') if 'bf16' in off or avx2_capped() else {}
    if 'fused_adamw' in off: kw['optim'] = 'adamw_torch'
    args = training_args(out, batch_size=BATCH, lr=default_lr(model), device='cpu', max_steps=job['steps'],
                         save_strategy='no', **kw)
    timer = step_timer()
    trainer = make_trainer(model, tok, dsets, args, callbacks=[timer], fused_gelu='fused_gelu' not in off,
                           fast_dropout='fast_dropout' not in off)
    assert isinstance(trainer, LMTrainer), 'gpt_ft trains with LMTrainer by default'
    if 'chunked_loss' in off:
        assert hasattr(trainer, 'chunk_tokens'), "LMTrainer has no chunk_tokens: update train_speed.py's chunked-loss switch"
        trainer.chunk_tokens = 0  # LMTrainer's own switch: 0 is the model's own loss
    assert hasattr(trainer, 'compile_loss'), "LMTrainer has no compile_loss: update train_speed.py's compiled-loss switch"
    # as gpt_ft decides for a CPU run of COMPILE_MIN_TOKENS or more (in bf16: on; in fp32: off)
    trainer.compile_loss = 'compiled_loss' not in off and compile_loss_wanted(None, 'cpu', COMPILE_MIN_TOKENS, trainer.args.bf16)
    return trainer, tok, timer

def worker(job:dict)->dict:
    if job['side'] == 'matmul':  # bf16 only where the CPU does it natively: emulated, it takes minutes and means nothing
        return {d: matmul_gflops(d) for d in ('fp32', 'bf16') if d == 'fp32' or bf16_flags()}
    with tempfile.TemporaryDirectory() as out:
        trainer, tok, timer = (train_seed if job['side'] == 'seed' else train_gpt_ft)(job, out)
        seen = dtype_probe(trainer.model)
        t0, c0 = time.perf_counter(), os.times()
        trainer.train()
        wall, c1 = time.perf_counter() - t0, os.times()
    peak = peak_rss_mb()  # before scoring, which is the same for both
    steps = timer.times[WARMUP:]
    assert steps, f'{len(timer.times)} training steps: more than {WARMUP} are needed (--steps)'
    model, args = trainer.model, trainer.args
    # FLOPs per token: 6 per weight used in a matrix product (the tied output layer once, position embeddings never)
    # plus attention's 12 x layers x width x context
    n_matmul = sum(p.numel() for p in model.parameters()) - model.transformer.wpe.weight.numel()
    flops_tok = 6 * n_matmul + 12 * model.config.n_layer * model.config.n_embd * BLOCK
    speed = sys.modules.get('gpt_ft.speed')  # the seed's process never imports gpt_ft
    chunk = getattr(trainer, 'chunk_tokens', 0)
    compiled = chunk and getattr(speed, '_compiled', {}).get('cpu') is not None
    act = type(model.transformer.h[0].mlp.act).__name__
    levers = ', '.join([(f'chunked {chunk}' + (' compiled' if compiled else '')) if chunk else 'own loss',
                        {'NewGELUActivation': 'gelu_new', 'GELUTanh': 'gelu fused'}.get(act, act),
                        'dropout fast' if getattr(trainer, 'fast_dropout', False) else 'dropout torch',
                        str(getattr(args.optim, 'value', args.optim)),
                        'malloc tuned' if getattr(speed, '_malloc_tuned', False) else 'malloc default'])
    return dict(tok_s=BATCH * BLOCK / median(steps), run_s=wall, user_s=c1.user - c0.user,
                sys_s=c1.system - c0.system, peak_mb=peak, val_loss=val_loss(model, tok, Path(job['heldout'])),
                flops_tok=flops_tok, asked='bf16' if args.bf16 else 'fp16' if args.fp16 else 'fp32',
                ran='+'.join(sorted(seen)) or 'unseen', levers=levers)

# ---------------------------------------------------------------- the driver
def prepare(shape:str, steps:int)->dict:
    "Save the shape's random-init model and the training text once; return the job fields pointing at them."
    from gpt_ft.core import load_tokenizer
    from gpt_ft.model import tiny_gpt2
    mdir = CACHE/'models'/shape
    if not (mdir/'config.json').exists():
        from transformers.utils import logging
        logging.disable_progress_bar()  # no 'Writing model shards' bar in the table's output
        tiny_gpt2(**SHAPES[shape], n_positions=1024).save_pretrained(mdir)
        load_tokenizer('gpt2').save_pretrained(mdir)
    news = (ROOT/'examples'/'tech_news.txt').read_text()
    reps = max(1, -(-(steps + 1) * BATCH * BLOCK * 5 // 4 // 33_000))  # the file is about 33,000 tokens
    data = CACHE/f'news_x{reps}.txt'
    if not data.exists(): data.write_text(news * reps)
    return dict(model=str(mdir), data=str(data), heldout=str(ROOT/'examples'/'tech_news_heldout.txt'), steps=steps)

def options(p):
    p.add_argument('--shapes', default='tiny,gpt2', help='comma-separated: tiny, gpt2')
    p.add_argument('--steps', default='tiny:12,gpt2:5', help=f'training steps per shape, the first {WARMUP} not timed')
    for name, (switch, instead) in LEVERS.items():
        p.add_argument(switch, dest=f'off_{name}', action='store_true', help=f"gpt_ft's row: {instead}")
    p.add_argument('--each-lever-off', nargs='?', const=','.join(LEVERS), default='', metavar='LEVERS',
                   help=f"add a gpt_ft row per lever, with that lever alone off (all, or some of: {', '.join(LEVERS)})")

def main():
    a = start(__doc__, worker, quick='tiny shape, one round, 4 steps', options=options)
    shapes = ['tiny'] if a.quick else a.shapes.split(',')
    steps = dict(s.split(':') for s in a.steps.split(','))
    if a.quick: steps['tiny'] = 4
    os.environ.update(TQDM_DISABLE='1', TRANSFORMERS_VERBOSITY='error')
    CACHE.mkdir(exist_ok=True)
    kind, flags = cpu_kind(), bf16_flags()
    peaks = run_worker(__file__, dict(side='matmul'))
    bf16 = f"{peaks['bf16']:.3g} GFLOP/s" if 'bf16' in peaks else 'not measured (not native on this CPU)'
    print(f"matmul peak ({MATMUL_N} x {MATMUL_N} x {MATMUL_N}, median of {MATMUL_REPS}): fp32 {peaks['fp32']:.3g} "
          f"GFLOP/s, bf16 {bf16}")
    off = [n for n in LEVERS if getattr(a, f'off_{n}')]
    # (recipe, levers off): the seed, gpt_ft as asked, then each lever off alone
    sides = [('seed', None), ('gpt_ft' + ''.join(f' -{n}' for n in off), off)]
    alone = [n for n in a.each_lever_off.split(',') if n]
    if unknown := [n for n in alone if n not in LEVERS]: sys.exit(f"unknown lever {unknown[0]}. Fix: one of {', '.join(LEVERS)}")
    sides += [(f'gpt_ft -{n}', [n]) for n in alone if n not in off]
    rows, ratios, ceilings = [], [], []
    for shape in shapes:
        base = prepare(shape, int(steps[shape]))
        res = {name: [] for name, _ in sides}
        for r in range(a.rounds):
            for name, lever_off in sides:  # the seed without any allocator tuning, gpt_ft with its own unless switched off
                env = worker_env('default', **({'GPT_FT_NO_MALLOC_TUNING': 1} if 'malloc' in (lever_off or ()) else {}))
                job = dict(base, side='seed' if lever_off is None else 'gpt_ft', off=lever_off or [])
                res[name].append(run_worker(__file__, job, env=env))
        seed_tok_s = None
        for name, rs in res.items():
            m = {k: median([x[k] for x in rs]) for k in rs[0] if not isinstance(rs[0][k], str)}
            ran, asked = rs[0]['ran'], rs[0]['asked']
            gf = m['tok_s'] * m['flops_tok'] / 1e9
            seed_tok_s = seed_tok_s or m['tok_s']
            rows.append({'shape': shape, 'recipe': name, 'precision': ran if ran == asked else f'{ran} (asked {asked})',
                         'tokens': base['steps'] * BATCH * BLOCK, 'tok/s': m['tok_s'], 'vs seed': f"{m['tok_s'] / seed_tok_s:.2f}x",
                         'run s': m['run_s'], 'sys s': m['sys_s'], 'peak MB': m['peak_mb'], 'GFLOP/s': gf,
                         'of peak': f'{gf / peaks[ran]:.0%} of {ran}' if ran in peaks else f'n/a ({ran})',
                         'val loss': round(m['val_loss'], 4), 'levers': rs[0]['levers']})
        seed, ours = rows[-len(res)], rows[-len(res) + 1]
        ratios.append((shape, ours['tok/s'] / seed['tok/s']))
        ceilings.append((shape, {d: g / seed['GFLOP/s'] for d, g in peaks.items()}))
    print(table(rows, list(rows[0])))
    for r in rows:
        if '(asked' in r['precision']: print(f"NOTE: {r['shape']} {r['recipe']}: the Trainer was asked for "
                                             f"{r['precision'].split('asked ')[1][:-1]} but the matrix products ran in "
                                             f"{r['precision'].split()[0]}")
    # The seed trains in fp32: at a matmul peak a run does the same FLOPs at most this much faster than the seed
    for d in peaks: print(f'{d} ceiling ({d} matmul peak / seed GFLOP/s): ' + ', '.join(f'{s} {c[d]:.2f}x' for s, c in ceilings))
    print(f'rounds: {a.rounds} (medians)' + (f'; {busy()}' if busy() else ''))
    target = TARGETS[kind]
    print(f"CPU kind: {kind}" + (f" ({', '.join(flags)})" if flags else '') + f"; target gpt_ft/seed: at least {target:g}x "
          f"(at least {TARGETS['native bf16']:g}x on CPUs with native bf16, {TARGETS['no native bf16']:g}x without)"
          + (f"; NOTE: levers switched off ({', '.join(off)}), the target is for gpt_ft's defaults" if off else ''))
    print('speed ratio gpt_ft/seed: ' + ', '.join(f"{s} {r:.2f}x ({'met' if r >= target else 'MISSED'})" for s, r in ratios))

if __name__ == '__main__': main()
