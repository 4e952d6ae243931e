"""Training speed: the seed recipe against gpt_ft's defaults, same model, data and number of tokens.

    python benchmarks/train_speed.py            # both shapes, median of 3 rounds (about 25 minutes on 2 cores)
    python benchmarks/train_speed.py --quick    # the tiny shape, one round, 4 steps (under 2 minutes)

The seed recipe: transformers 4's `TextDataset` (re-implemented in `common.py`), `DataCollatorForLanguageModeling(
mlm=False)`, `TrainingArguments` with the seed's numbers (1 epoch, batch 32, save every 10,000 steps, at most 2 kept;
everything else default), fp32, glibc's default allocator. gpt_ft: `build_datasets`, `training_args`,
`make_trainer` and `speed_kwargs` as `finetune` uses them (chunked loss, tuned allocator, the precision this CPU does
natively, evaluation on the held-out file four times per run). Each side runs in its own process from the same saved
random-init weights and the same text (examples/tech_news.txt repeated), blocks of 128 tokens, batch 32.

Tokens/s counts the training steps only (forward, backward, optimizer), the first step left out as warm-up; `run s`
is the whole `train()` call, gpt_ft's evaluations included. `of fp32 peak` and `of bf16 peak` divide the achieved
FLOP/s (6 x parameters + attention per token) by matmul GFLOP/s measured in the same run; `fp32 ceiling` is the
fastest an fp32 run could be against the seed, were every FLOP done at the fp32 peak. Validation loss: both
models scored the same way on examples/tech_news_heldout.txt after the same number of tokens. The last line is the
speed ratio (gpt_ft over seed) for each shape.
"""
from __future__ import annotations
import argparse, json, os, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CACHE, ROOT, TextDataset, busy, machine, median, peak_rss_mb, run_worker, table, worker_env

SHAPES = {'tiny': dict(n_layer=4, n_embd=256, n_head=4), 'gpt2': dict(n_layer=12, n_embd=768, n_head=12)}
BLOCK, BATCH = 128, 32

# ---------------------------------------------------------------- measured in the worker processes
def matmul_gflops(dtype:str, n:int=2048, reps:int=5)->float:
    "GFLOP/s of an n x n matrix product in `dtype` on this CPU (best of `reps`)."
    import torch
    dt = dict(fp32=torch.float32, bf16=torch.bfloat16)[dtype]
    a, b = torch.randn(n, n).to(dt), torch.randn(n, n).to(dt)
    a @ b
    best = float('inf')
    for _ in range(reps):
        t = time.perf_counter(); a @ b; best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9

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
    return trainer, tok, timer, 'fp32'

def train_gpt_ft(job:dict, out:str):
    "gpt_ft as `finetune` runs it: its datasets, its arguments and its trainer, with every default left on."
    from gpt_ft.core import load_tokenizer
    from gpt_ft.data import build_datasets
    from gpt_ft.model import load_model
    from gpt_ft.speed import LMTrainer
    from gpt_ft.train import default_lr, make_trainer, training_args
    tok, model = load_tokenizer(job['model']), load_model(job['model'], device=None)
    dsets = build_datasets(job['data'], tok, eval=job['heldout'], block_size=BLOCK)
    args = training_args(out, batch_size=BATCH, lr=default_lr(model), device='cpu', max_steps=job['steps'],
                         save_strategy='no')
    timer = step_timer()
    trainer = make_trainer(model, tok, dsets, args, callbacks=[timer])
    assert isinstance(trainer, LMTrainer), 'gpt_ft trains with LMTrainer by default'
    return trainer, tok, timer, 'bf16' if args.bf16 else 'fp16' if args.fp16 else 'fp32'

def worker(job:dict)->dict:
    if job['side'] == 'matmul':  # bf16 only where the CPU does it natively: emulated, it takes minutes and means nothing
        from gpt_ft.speed import cpu_bf16
        return {d: matmul_gflops(d) for d in ('fp32', 'bf16') if d == 'fp32' or cpu_bf16()}
    import torch
    with tempfile.TemporaryDirectory() as out:
        trainer, tok, timer, precision = (train_seed if job['side'] == 'seed' else train_gpt_ft)(job, out)
        t0, c0 = time.perf_counter(), os.times()
        trainer.train()
        wall, c1 = time.perf_counter() - t0, os.times()
    peak = peak_rss_mb()  # before scoring, which is the same for both
    steps = timer.times[1:]
    model = trainer.model
    # FLOPs per token: 6 per weight used in a matrix product (the tied output layer once, position embeddings never)
    # plus attention's 12 x layers x width x context
    n_matmul = sum(p.numel() for p in model.parameters()) - model.transformer.wpe.weight.numel()
    flops_tok = 6 * n_matmul + 12 * model.config.n_layer * model.config.n_embd * BLOCK
    return dict(tok_s=len(steps) * BATCH * BLOCK / sum(steps), run_s=wall, user_s=c1.user - c0.user,
                sys_s=c1.system - c0.system, peak_mb=peak, val_loss=val_loss(model, tok, Path(job['heldout'])),
                flops_tok=flops_tok, precision=precision)

# ---------------------------------------------------------------- the driver
def prepare(shape:str, steps:int)->dict:
    "Save the shape's random-init model and the training text once; return the job fields pointing at them."
    from gpt_ft.core import load_tokenizer
    from gpt_ft.model import tiny_gpt2
    mdir = CACHE/'models'/shape
    if not (mdir/'config.json').exists():
        tiny_gpt2(**SHAPES[shape], n_positions=1024).save_pretrained(mdir)
        load_tokenizer('gpt2').save_pretrained(mdir)
    news = (ROOT/'examples'/'tech_news.txt').read_text()
    reps = max(1, -(-(steps + 1) * BATCH * BLOCK * 5 // 4 // 33_000))  # the file is about 33,000 tokens
    data = CACHE/f'news_x{reps}.txt'
    if not data.exists(): data.write_text(news * reps)
    return dict(model=str(mdir), data=str(data), heldout=str(ROOT/'examples'/'tech_news_heldout.txt'), steps=steps)

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--quick', action='store_true', help='tiny shape, one round, 5 steps')
    p.add_argument('--rounds', type=int, default=3, help='rounds (medians are reported)')
    p.add_argument('--shapes', default='tiny,gpt2', help='comma-separated: tiny, gpt2')
    p.add_argument('--steps', default='tiny:12,gpt2:4', help='training steps per shape')
    p.add_argument('--worker', help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker: return print(json.dumps(worker(json.loads(a.worker))))
    shapes, rounds = (['tiny'], 1) if a.quick else (a.shapes.split(','), a.rounds)
    steps = dict(s.split(':') for s in a.steps.split(','))
    if a.quick: steps['tiny'] = 4
    os.environ.update(TQDM_DISABLE='1', TRANSFORMERS_VERBOSITY='error')
    print(machine())
    if busy(): print(busy())
    CACHE.mkdir(exist_ok=True)
    peaks = run_worker(__file__, dict(side='matmul'))
    bf16 = f"{peaks['bf16']:.3g} GFLOP/s" if 'bf16' in peaks else 'not native on this CPU'
    print(f"matmul peak (2048 x 2048, best of 5): fp32 {peaks['fp32']:.3g} GFLOP/s, bf16 {bf16}")
    rows, ratios, ceilings = [], [], []
    for shape in shapes:
        base = prepare(shape, int(steps[shape]))
        res = {'seed': [], 'gpt_ft': []}
        for r in range(rounds):
            for side in ('seed', 'gpt_ft'):  # the seed without any allocator tuning, gpt_ft with its own
                res[side].append(run_worker(__file__, dict(base, side=side), env=worker_env('default')))
        for side, rs in res.items():
            m = {k: median([x[k] for x in rs]) for k in rs[0] if k != 'precision'}
            gf = m['tok_s'] * m['flops_tok'] / 1e9
            rows.append({'shape': shape, 'recipe': side, 'precision': rs[0]['precision'], 'tokens': base['steps'] * BATCH * BLOCK,
                         'tok/s': m['tok_s'], 'run s': m['run_s'], 'sys s': m['sys_s'], 'peak MB': m['peak_mb'],
                         'GFLOP/s': gf, 'of fp32 peak': f"{gf / peaks['fp32']:.0%}", 'of bf16 peak': f"{gf / peaks['bf16']:.0%}" if 'bf16' in peaks else 'n/a',
                         'val loss': round(m['val_loss'], 4)})
        ratios.append((shape, rows[-1]['tok/s'] / rows[-2]['tok/s']))
        ceilings.append((shape, peaks['fp32'] / rows[-2]['GFLOP/s']))
    print(table(rows, list(rows[0])))
    # The seed trains in fp32: at the fp32 matmul peak an fp32 run does the same FLOPs at most this much faster
    print('fp32 ceiling (fp32 matmul peak / seed GFLOP/s): ' + ', '.join(f'{s} {c:.2f}x' for s, c in ceilings))
    print(f'rounds: {rounds} (medians)' + (f'; {busy()}' if busy() else ''))
    print('speed ratio gpt_ft/seed: ' + ', '.join(f'{s} {r:.2f}x' for s, r in ratios))

if __name__ == '__main__': main()
