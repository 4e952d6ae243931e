"""GPU check: gpt_ft's CUDA paths on the machine at hand, in under 8 minutes, as one table.

    python benchmarks/gpu_check.py                 # on a CUDA machine; without one it prints "no CUDA device", exit 0
    python benchmarks/gpu_check.py --out DIR       # the table also goes to DIR/gpu_check.md and .json (default benchmarks/_out/)
    python benchmarks/gpu_check.py --quick         # fewer steps

Nothing comes from the hub: the bundled model (which ships in the package) and random-init GPT-2 shapes.

(a) precision: a short `finetune(..., precision='fp16')` of the bundled model on examples/tech_news.txt, the fp16
    path exactly as a T4 takes it (loss scaling included), then the same in bf16 where the device has it. Each must
    bring the training loss down, and a forward hook on `transformer.h[0].mlp.c_fc` must see the matrix products
    run in that dtype during training.
(b) speed: the GPT-2 124M shape (random init), gpt_ft's defaults (`make_trainer`, the device's precision), tokens/s
    of the training steps and MFU: training FLOPs (`gpt_ft.planner.train_flops`) per second over the device's dense
    fp16/bf16 peak (from the table below by device name, else a measured 8192^3 matmul, which is printed too); once
    with gpt_ft's chunked loss (`chunk_tokens=CHUNK_TOKENS`), once with the model's own loss (`chunk_tokens=0`).
(c) memory: the gpt2-medium shape (random init, 24 blocks, width 1024), blocks of 512, batch 8: peak CUDA memory
    of a few training steps (allocated and reserved) against `gpt_ft.planner.plan(...)`'s estimate; FAIL when the
    planner underestimates the allocated peak by more than 10%.
(d) kill and resume: `python -m gpt_ft train ... --save-steps N` in a subprocess, SIGKILLed once a checkpoint is
    complete, then the same command with `--resume`, which must complete from that checkpoint on the GPU.

Each part runs in its own process (a CUDA error cannot spoil the others), and a failure prints FAIL in its row; the
exit status is 1 when any row failed. Worker logs go to OUT/gpu_check_logs/.
"""
from __future__ import annotations
import argparse, json, os, signal, subprocess, sys, tempfile, time, traceback
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, bf16_flags, gpu_name, machine, median, start, worker_env

OUT = Path(__file__).resolve().parent/'_out'
NEWS, HELDOUT = ROOT/'examples'/'tech_news.txt', ROOT/'examples'/'tech_news_heldout.txt'
BUDGET_S = 450  # all parts together on a GPU: 7.5 minutes (the CPU dry run gets three times that: 2 shared cores)
# Dense (no sparsity) tensor-core TFLOP/s in fp16 and bf16, from NVIDIA's data sheets, by a substring of
# `torch.cuda.get_device_name()`; the first match counts, so more specific names come first. Unknown devices
# (the A10G among them: AWS's variant has its own, lower tensor rate than the A10) use the measured matmul.
PEAKS = [('T4', {'fp16': 65}), ('V100', {'fp16': 125}), ('A100', {'fp16': 312, 'bf16': 312}),
         ('A10G', {}), ('A10', {'fp16': 125, 'bf16': 125}), ('L40S', {'fp16': 362, 'bf16': 362}),
         ('L40', {'fp16': 181, 'bf16': 181}), ('L4', {'fp16': 121, 'bf16': 121}),
         ('H100 PCIe', {'fp16': 756, 'bf16': 756}), ('H100 NVL', {'fp16': 835, 'bf16': 835}),
         ('H100', {'fp16': 989, 'bf16': 989}), ('H200 NVL', {'fp16': 835, 'bf16': 835}),
         ('H200', {'fp16': 989, 'bf16': 989})]  # GH200 matches H200: the same 989
COLS = ['part', 'check', 'precision', 'tok/s', 'MFU', 'GiB', 'status', 'result']
DTYPES = {'torch.float32': 'fp32', 'torch.bfloat16': 'bf16', 'torch.float16': 'fp16'}
GiB = 2**30

def spec_peak(name:str, precision:str)->float|None:
    "The data-sheet dense TFLOP/s of device `name` in `precision`, or None when unknown."
    for key, peaks in PEAKS:
        if key.lower() in name.lower(): return peaks.get(precision)
    return None

# ---------------------------------------------------------------- helpers of the worker processes
def row(part, check, status='ok', **kw)->dict: return dict(part=part, check=check, status=status, **kw)

def fail(part, check, e:BaseException)->dict:
    traceback.print_exc()
    msg = (str(e).strip().splitlines() or [''])[0][:160]
    return row(part, check, 'FAIL', result=f'{type(e).__name__}: {msg}')

def dtype_probe(model)->set:
    "The dtypes the first block's MLP matrix product outputs while the model trains (a forward hook fills the set)."
    seen = set()
    def hook(mod, inp, out):
        if mod.training: seen.add(DTYPES.get(str(out.dtype), str(out.dtype)))
    model.transformer.h[0].mlp.c_fc.register_forward_hook(hook)
    return seen

def sync(dev:str):
    import torch
    if dev.startswith('cuda'): torch.cuda.synchronize()

def step_timer(dev:str):
    from transformers import TrainerCallback
    class StepTimer(TrainerCallback):
        "Wall time of every training step, the device's queue drained at both ends."
        def __init__(self): self.times = []
        def on_step_begin(self, args, state, control, **kw): sync(dev); self.t = time.perf_counter()
        def on_step_end(self, args, state, control, **kw): sync(dev); self.times.append(time.perf_counter() - self.t)
    return StepTimer()

def precision_of(args)->str: return 'bf16' if args.bf16 else 'fp16' if args.fp16 else 'fp32'

def random_blocks(n:int, block:int, vocab:int=50257, seed:int=0):
    "A `Dataset` of `n` blocks of random token ids, as `build_datasets` makes them."
    import torch
    from datasets import Dataset
    ids = torch.randint(0, vocab, (n, block), generator=torch.Generator().manual_seed(seed))
    return Dataset.from_dict({'input_ids': ids.tolist()})

def matmul_tflops(dev:str, precision:str, n:int)->float:
    "TFLOP/s of an n x n x n matrix product in `precision` on `dev` (median of 10, after 3 warm-up products)."
    import torch
    dt = dict(fp32=torch.float32, fp16=torch.float16, bf16=torch.bfloat16)[precision]
    a, b = torch.randn(n, n, device=dev).to(dt), torch.randn(n, n, device=dev).to(dt)
    for _ in range(3): a @ b
    times = []
    for _ in range(10):
        sync(dev); t = time.perf_counter(); a @ b; sync(dev); times.append(time.perf_counter() - t)
    return 2 * n**3 / median(times) / 1e12

def device_memory(dev:str)->int:
    import torch
    if dev.startswith('cuda'): return torch.cuda.get_device_properties(0).total_memory
    return os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES')

# ---------------------------------------------------------------- the parts, each in its own process
def part_a(job:dict)->list:
    "Short fine-tunes of the bundled model in fp16 and bf16: the loss falls and the matmuls run in that dtype."
    import torch
    from gpt_ft.model import load_model
    from gpt_ft.train import finetune
    dev, rows = job['device'], []
    for prec in ('fp16', 'bf16'):
        check = f'fine-tune bundled, {prec}' + (' (as on a T4)' if prec == 'fp16' else '')
        if dev == 'cpu' and prec == 'fp16':
            rows.append(row('a', check, 'skipped', result='fp16 training needs a GPU')); continue
        # native bf16: compute capability 8 on (not is_bf16_supported(), which says yes to a T4's emulated bf16)
        native = torch.cuda.get_device_capability()[0] >= 8 if dev.startswith('cuda') else job['cpu_bf16']
        if prec == 'bf16' and not native:
            rows.append(row('a', check, 'skipped', result=f'no native bf16 on this {dev}')); continue
        try:
            model = load_model('bundled', device=None).float()  # fp32 weights: the Trainer's autocast does the rest
            seen = dtype_probe(model)
            with tempfile.TemporaryDirectory() as tmp:
                t = time.perf_counter()
                tr = finetune(str(NEWS), model=model, tokenizer='bundled', output_dir=Path(tmp)/'run', eval=str(HELDOUT),
                              precision=prec, device=dev, max_steps=job['steps'], logging_steps=1, save_strategy='no')
                wall = time.perf_counter() - t
            losses = [h['loss'] for h in tr.state.log_history if 'loss' in h]
            assert len(losses) >= 4, f'only {len(losses)} training losses logged'
            k = max(1, len(losses) // 4)
            first, last = sum(losses[:k]) / k, sum(losses[-k:]) / k
            scaler = getattr(tr.accelerator, 'scaler', None)
            res = (f"loss {first:.3f} -> {last:.3f} (mean of first/last {k} of {len(losses)} steps), c_fc out "
                   f"{'+'.join(sorted(seen)) or 'never seen'}, trainer {precision_of(tr.args)}"
                   + (f", scaler {type(scaler).__name__}" if prec == 'fp16' else '') + f', on {tr.args.device}, {wall:.0f} s')
            problems = []
            if not last < first: problems.append('training loss did not go down')
            if seen != {prec}: problems.append(f"matmuls ran in {'+'.join(sorted(seen)) or 'nothing seen'}, not {prec}")
            if not str(tr.args.device).startswith(dev): problems.append(f'trained on {tr.args.device}')
            if precision_of(tr.args) != prec: problems.append(f'the Trainer was set to {precision_of(tr.args)}')
            if prec == 'fp16' and dev.startswith('cuda') and scaler is None: problems.append('no loss scaler in fp16')
            rows.append(row('a', check, 'FAIL: ' + '; '.join(problems) if problems else 'ok',
                            precision='+'.join(sorted(seen)) or '?', result=res))
            del tr, model
        except Exception as e: rows.append(fail('a', check, e))
        if dev.startswith('cuda'): torch.cuda.empty_cache()
    return rows

def part_b(job:dict)->list:
    "GPT-2 124M shape: tokens/s and MFU of gpt_ft's defaults, with the chunked loss or the model's own."
    import torch
    from gpt_ft.core import CHUNK_TOKENS, load_tokenizer
    from gpt_ft.model import tiny_gpt2
    from gpt_ft.planner import train_flops
    from gpt_ft.train import make_trainer, training_args
    dev, shape, block, batch, steps = job['device'], job['shape'], job['block'], job['batch'], job['steps']
    if batch == 'auto': batch = 8 if device_memory(dev) >= 30 * GiB else 4  # 124M at 8 x 1024, own loss: ~20 GiB
    chunk = CHUNK_TOKENS if job['loss'] == 'chunked' else 0
    check = f"{job['label']}, {'chunked loss' if chunk else 'own loss'} ({chunk})"
    try:
        model = tiny_gpt2(**shape, n_positions=max(block, 128))
        seen, timer = dtype_probe(model), step_timer(dev)
        with tempfile.TemporaryDirectory() as tmp:
            args = training_args(tmp, batch_size=batch, lr=1e-4, device=dev, has_eval=False, max_steps=steps,
                                 save_strategy='no', logging_steps=steps)
            tr = make_trainer(model, load_tokenizer('gpt2'), {'train': random_blocks(batch * steps, block)}, args,
                              callbacks=[timer])
            assert hasattr(tr, 'chunk_tokens'), f'{type(tr).__name__} has no chunk_tokens: is it an LMTrainer?'
            tr.chunk_tokens = chunk
            if dev.startswith('cuda'): torch.cuda.reset_peak_memory_stats()
            tr.train()
        warm = min(3, len(timer.times) - 1)
        times = timer.times[warm:]
        tok_s = batch * block * len(times) / sum(times)
        prec, ran = precision_of(tr.args), '+'.join(sorted(seen)) or '?'
        flops = tok_s * train_flops(model.config, block)
        name = gpu_name() if dev.startswith('cuda') else 'CPU'
        spec = spec_peak(name, ran) if dev.startswith('cuda') else None
        measured = matmul_tflops(dev, ran if ran in ('fp32', 'fp16', 'bf16') else prec, job['matmul_n'])
        peak, of = (spec, f'{spec:g} TFLOP/s data sheet') if spec else (measured, f'measured matmul {measured:.3g} TFLOP/s')
        mem = torch.cuda.max_memory_allocated() / GiB if dev.startswith('cuda') else None
        loss = next((h['train_loss'] for h in reversed(tr.state.log_history) if 'train_loss' in h), float('nan'))
        res = (f"{flops / 1e12:.3g} TFLOP/s of {of}" + (f" (matmul measured {measured:.3g})" if spec else '')
               + f"; batch {batch} x {block}, {len(times)} timed steps; train loss {loss:.3f}")
        status = 'ok' if ran == prec else f'FAIL: matmuls ran in {ran}, not {prec}'
        return [row('b', check, status, precision=ran if ran == prec else f'{ran} (asked {prec})', **{
            'tok/s': round(tok_s), 'MFU': f'{flops / 1e12 / peak:.1%}', 'GiB': round(mem, 2) if mem else '',
            'result': res})]
    except Exception as e: return [fail('b', check, e)]

def part_c(job:dict)->list:
    "gpt2-medium shape, blocks of 512, batch 8: measured peak memory of a few training steps against the planner."
    import resource, torch
    from gpt_ft.planner import Device, plan  # not `from gpt_ft import plan`: that is the function, not the module
    from gpt_ft.core import load_tokenizer
    from gpt_ft.model import tiny_gpt2
    from gpt_ft.train import make_trainer, training_args
    dev, shape, block, batch, steps = job['device'], job['shape'], job['block'], job['batch'], job['steps']
    check = f"{job['label']}, batch {batch} x {block}: memory vs plan"
    try:
        model = tiny_gpt2(**shape, n_positions=max(block, 128))
        seen = dtype_probe(model)
        with tempfile.TemporaryDirectory() as tmp:
            args = training_args(tmp, batch_size=batch, lr=1e-4, device=dev, has_eval=False, max_steps=steps,
                                 save_strategy='no', logging_steps=steps)
            if dev.startswith('cuda'): torch.cuda.reset_peak_memory_stats()
            tr = make_trainer(model, load_tokenizer('gpt2'), {'train': random_blocks(batch * steps, block)}, args)
            tr.train()
        prec, chunk = precision_of(tr.args), getattr(tr, 'chunk_tokens', 0)
        if dev.startswith('cuda'):
            alloc, reserved = torch.cuda.max_memory_allocated(), torch.cuda.max_memory_reserved()
            free, total = torch.cuda.mem_get_info()
            outside = total - free - torch.cuda.memory_reserved()  # CUDA context, and any other process on the device
            device = Device(name=gpu_name(), memory=total, tflops={'fp32': 1.0, prec: 1.0}, cuda=True)
        else:
            alloc = reserved = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # the process's, libraries and all
            free = total = outside = None
            device = 'CPU'
        p = plan(model.config, device, block_size=block, batch_size=batch, precision=prec, chunk=chunk)
        tensors = p.total - p.parts.get('workspace', 0)
        # on CUDA the allocator's peak against the planned tensors; on a CPU the process's peak RSS against the total
        ratio = alloc / tensors if dev.startswith('cuda') else alloc / p.total
        res = (f"plan {p.total / GiB:.2f} GiB at '{p.peak_at}' ({tensors / GiB:.2f} tensors + "
               f"{(p.total - tensors) / GiB:.2f} workspace); measured peak allocated {alloc / GiB:.2f}, reserved "
               f"{reserved / GiB:.2f}" + (f", outside torch {outside / GiB:.2f}" if total else ' (peak RSS)')
               + f"; {'allocated/planned tensors' if total else 'RSS/planned total'} {ratio:.2f}; chunk {chunk}")
        status = 'ok'
        if dev.startswith('cuda') and ratio > 1.10: status = 'FAIL: the planner underestimates the peak by more than 10%'
        elif not dev.startswith('cuda'): status = 'ok (CPU: not judged)'
        ran = '+'.join(sorted(seen)) or '?'
        return [row('c', check, status, precision=ran if ran == prec else f'{ran} (asked {prec})',
                    GiB=round(alloc / GiB, 2), result=res)]
    except Exception as e: return [fail('c', check, e)]

def worker(job:dict)->list:
    return {'a': part_a, 'b': part_b, 'c': part_c}[job['part']](job)

# ---------------------------------------------------------------- the driver
def run_part(job:dict, log:Path, timeout:float, env:dict)->list:
    "Run one part in a fresh process; its rows, or one FAIL row that says why the process gave none."
    t = time.perf_counter()
    try:
        r = subprocess.run([sys.executable, __file__, '--worker', json.dumps(job)], capture_output=True, text=True,
                           env=env, timeout=timeout, cwd=ROOT)
        out, err, code = r.stdout, r.stderr, r.returncode
    except subprocess.TimeoutExpired as e:
        text = lambda x: (x.decode(errors='replace') if isinstance(x, bytes) else x) or ''
        out, err, code = text(e.stdout), text(e.stderr) + f'\ntimed out after {timeout:.0f} s', 'timeout'
    log.write_text(f'$ {job}\n--- stdout\n{out}\n--- stderr\n{err}')
    lines = out.strip().splitlines()
    if code == 0 and lines:
        try: return json.loads(lines[-1])
        except json.JSONDecodeError: pass
    why = next((l for l in reversed(err.strip().splitlines()) if l.strip()), f'exit {code}')
    return [row(job['part'], job.get('label', job['part']), 'FAIL', result=f'process failed ({code}, '
                f'{time.perf_counter() - t:.0f} s): {why[:160]} (log: {log.name})')]

def part_d(dev:str, quick:bool, timeout:float, env:dict, logs:Path)->list:
    "Kill `gpt_ft train` with SIGKILL once a checkpoint is complete; `--resume` must then complete the run."
    from gpt_ft.checkpoint import MANIFEST, latest_checkpoint
    check = 'kill -9 after a checkpoint, then --resume'
    t0 = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp)/'run'
            epochs, save = ('3', '20') if quick else ('30', '50')
            cmd = [sys.executable, '-m', 'gpt_ft', 'train', str(NEWS), '--model', 'bundled', '--output', str(out),
                   '--eval', str(HELDOUT), '--batch-size', '8', '--epochs', epochs, '--save-steps', save,
                   '--no-report', '--progress', 'off']
            with open(logs/'d_first.log', 'w') as f:
                p = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=f, stderr=subprocess.STDOUT)
                try:
                    while latest_checkpoint(out) is None and p.poll() is None and time.perf_counter() - t0 < timeout / 2:
                        time.sleep(0.05)
                    alive = p.poll() is None
                finally:
                    if p.poll() is None: os.kill(p.pid, signal.SIGKILL)
                    p.wait()
            ckpt = latest_checkpoint(out)  # after the kill: the one --resume will take
            if ckpt is None: raise AssertionError('no complete checkpoint ' + (
                f'before the run ended (exit {p.returncode}; log d_first.log)' if not alive else 'in time'))
            if not alive: raise AssertionError(f'the run ended (exit {p.returncode}) before it could be killed: '
                                               'make it longer (more --epochs)')
            killed = json.loads((out/MANIFEST).read_text())
            assert killed.get('status') == 'running', f"manifest says {killed.get('status')!r} after the kill"
            step = int(ckpt.name.split('-')[-1])
            left = max(timeout - (time.perf_counter() - t0), 10)
            with open(logs/'d_resume.log', 'w') as f:
                r = subprocess.run(cmd + ['--resume'], cwd=ROOT, env=env, stdout=f, stderr=subprocess.STDOUT, timeout=left)
            assert r.returncode == 0, f'--resume exited {r.returncode} (log d_resume.log)'
            m = json.loads((out/MANIFEST).read_text())
            resumed = [x.get('checkpoint') for x in m.get('resumed', [])]
            where = m.get('environment', {}).get('device', '?')
            problems = [s for s, bad in [(f"status {m.get('status')!r}", m.get('status') != 'completed'),
                                         (f'resumed from {resumed}, not {ckpt.name}', resumed[-1:] != [ckpt.name]),
                                         (f"ended at step {m.get('steps')}", not (m.get('steps') or 0) > step),
                                         (f'trained on {where}', not where.startswith(dev))] if bad]
            res = (f"killed with {ckpt.name} complete; resumed from {', '.join(map(str, resumed)) or 'nothing'} on "
                   f"{where}, completed at step {m.get('steps')}; val loss "
                   f"{m.get('metrics', {}).get('eval_loss', float('nan')):.3f}; {time.perf_counter() - t0:.0f} s")
            return [row('d', check, 'FAIL: ' + '; '.join(problems) if problems else 'ok',
                        precision=m.get('environment', {}).get('precision', ''), result=res)]
    except Exception as e: return [fail('d', check, e)]

def markdown(rows:list, cols:list)->str:
    cell = lambda v: str(v).replace('|', '\\|')
    return '\n'.join(['| ' + ' | '.join(cols) + ' |', '|' + '---|' * len(cols)] +
                     ['| ' + ' | '.join(cell(r.get(c, '')) for c in cols) + ' |' for r in rows])

def plain(rows:list, cols:list)->str:
    "The table for the terminal: columns aligned, `result` last (it is long)."
    cols = [c for c in cols if c != 'result'] + ['result']
    cells = [cols] + [[str(r.get(c, '')) for c in cols] for r in rows]
    w = [max(len(x[i]) for x in cells) for i in range(len(cols))]
    lines = ['  '.join(s.ljust(w[i]) if i < len(cols) - 1 else s for i, s in enumerate(x)).rstrip() for x in cells]
    return '\n'.join([lines[0], '  '.join('-' * x for x in w[:-1]) + '  ------', *lines[1:]])

def options(p):
    p.add_argument('--out', type=Path, default=OUT, help='folder for gpu_check.md, gpu_check.json and the logs (default: %(default)s)')
    p.add_argument('--device', default='cuda', help=argparse.SUPPRESS)  # debug: `--device cpu --quick` runs the parts on this CPU

def main():
    a = start(__doc__, worker, quick='fewer steps (with the hidden --device cpu: tiny sizes)', rounds=None, options=options)
    import torch
    dev = a.device
    if dev.startswith('cuda') and not torch.cuda.is_available():
        print('no CUDA device: nothing to check'); return 0
    a.out.mkdir(parents=True, exist_ok=True)
    logs = a.out/'gpu_check_logs'; logs.mkdir(exist_ok=True)
    env = worker_env('default')
    cuda = dev.startswith('cuda')
    t0, deadline = time.perf_counter(), time.perf_counter() + BUDGET_S * (1 if cuda else 3)
    small = dict(n_layer=2, n_embd=64, n_head=2)  # the CPU dry run's stand-in for every shape
    gpt2, medium = dict(n_layer=12, n_embd=768, n_head=12), dict(n_layer=24, n_embd=1024, n_head=16)
    jobs = [dict(part='a', label='fine-tune bundled', device=dev, steps=12 if a.quick else 30, cpu_bf16=bool(bf16_flags()))]
    for loss in ('chunked', 'own'):
        jobs.append(dict(part='b', label='GPT-2 124M shape' if cuda else 'tiny shape (CPU)', device=dev, loss=loss,
                         shape=gpt2 if cuda else small, block=1024 if cuda else 128, batch='auto' if cuda else 4,
                         steps=(12 if a.quick else 25) if cuda else 6, matmul_n=8192 if cuda else 1024))
    jobs.append(dict(part='c', label='gpt2-medium shape' if cuda else 'tiny shape (CPU)', device=dev,
                     shape=medium if cuda else small, block=512 if cuda else 64, batch=8 if cuda else 2, steps=3))
    rows = []
    for i, job in enumerate(jobs):
        left = deadline - time.perf_counter()
        if left < 20: rows.append(row(job['part'], job['label'], 'FAIL', result='skipped: out of time')); continue
        rows += run_part(job, logs/f"{job['part']}{i}.log", min(left, 240 if cuda else 600), env)
        print(f"  part {job['part']} done at {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    left = deadline - time.perf_counter()
    rows += part_d(dev, a.quick or not cuda, min(left, 240 if cuda else 600), env, logs) if left >= 30 else \
        [row('d', 'kill -9 after a checkpoint, then --resume', 'FAIL', result='skipped: out of time')]
    elapsed = time.perf_counter() - t0
    failed = [r for r in rows if str(r['status']).startswith('FAIL')]
    head = f"{machine()}\ndevice: {gpu_name() if cuda else 'CPU (debug dry run)'}; {elapsed:.0f} s; " \
           f"{'all passed' if not failed else f'{len(failed)} FAILED'}"
    print(plain(rows, COLS))
    print(f'{elapsed:.0f} s; ' + ('all parts passed' if not failed else f"FAILED: {', '.join(r['part'] + ' ' + r['check'] for r in failed)}"))
    (a.out/'gpu_check.md').write_text(f"# gpu_check\n\n{head}\n\n{markdown(rows, COLS)}\n")
    (a.out/'gpu_check.json').write_text(json.dumps(dict(machine=machine(), device=gpu_name() if cuda else 'cpu',
                                                        elapsed_s=round(elapsed, 1), passed=not failed, rows=rows), indent=2))
    print(f"table: {a.out/'gpu_check.md'}, {a.out/'gpu_check.json'}")
    return 1 if failed else 0

if __name__ == '__main__': sys.exit(main())
