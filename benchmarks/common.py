"Shared pieces of the benchmarks: one command-line opening, a measurement in a fresh process, medians, tables, the machine."
import argparse, ctypes, json, os, platform, statistics, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(__file__).resolve().parent/'.cache'
OFFLINE = dict(HF_HUB_OFFLINE='1', HF_DATASETS_OFFLINE='1', TQDM_DISABLE='1', TRANSFORMERS_VERBOSITY='error',
               HF_DATASETS_DISABLE_PROGRESS_BARS='1', TOKENIZERS_PARALLELISM='true')
MALLOC_ENV = ('MALLOC_MMAP_MAX_', 'MALLOC_TRIM_THRESHOLD_', 'MALLOC_TOP_PAD_', 'MALLOC_MMAP_THRESHOLD_')
BF16_FLAGS = ('avx512_bf16', 'amx_bf16')  # CPU flags of native bfloat16 matrix products
# A newer CPU measured as an AVX2 one: oneDNN, ATen's kernels and MKL kept to AVX2 (no AVX-512, no bf16 instructions)
AVX2_CAP = dict(ONEDNN_MAX_CPU_ISA='AVX2', ATEN_CPU_CAPABILITY='avx2', MKL_ENABLE_INSTRUCTIONS='AVX2')

def avx2_capped()->bool:
    "Is this process's instruction set capped at AVX2 by `AVX2_CAP`'s variables?"
    return all(os.environ.get(k, '').lower() == v.lower() for k, v in AVX2_CAP.items())

def malloc_env()->dict:
    """gpt_ft's allocator settings as glibc's environment variables: the very values `gpt_ft.speed.tune_malloc` passes
    to `mallopt` (its `MALLOC_SETTINGS`), so that tuning at process start and at runtime cannot drift apart."""
    from gpt_ft import speed
    names = {speed._M_MMAP_MAX: ('MALLOC_MMAP_MAX_', ctypes.c_int), speed._M_TRIM_THRESHOLD: ('MALLOC_TRIM_THRESHOLD_', ctypes.c_size_t),
             speed._M_TOP_PAD: ('MALLOC_TOP_PAD_', ctypes.c_size_t)}  # mallopt's int as glibc stores it: -1 -> SIZE_MAX
    unknown = [k for k, _ in speed.MALLOC_SETTINGS if k not in names]
    if unknown: raise RuntimeError(f'gpt_ft.speed.MALLOC_SETTINGS sets mallopt parameter(s) {unknown}, which '
                                   'benchmarks/common.py cannot write as environment variables: add them to malloc_env')
    return {names[k][0]: str(names[k][1](v).value) for k, v in speed.MALLOC_SETTINGS}

def worker_env(malloc:str='default', **extra)->dict:
    "The environment of a measured process: offline, and glibc's allocator as asked ('default', 'env': gpt_ft's settings)."
    env = {k: v for k, v in os.environ.items() if k not in MALLOC_ENV and k != 'GPT_FT_NO_MALLOC_TUNING'}
    env.update(OFFLINE, PYTHONPATH=str(ROOT) + os.pathsep + env.get('PYTHONPATH', ''))
    if malloc == 'env': env.update(malloc_env())
    return {**env, **{k: str(v) for k, v in extra.items()}}

def run_worker(script:str, job:dict, env:dict=None, timeout:int=3600)->dict:
    "Run `python script --worker JOB` in a fresh process; return the JSON object it prints last."
    r = subprocess.run([sys.executable, script, '--worker', json.dumps(job)], capture_output=True, text=True,
                       env=env or worker_env(), timeout=timeout, cwd=ROOT)
    if r.returncode: raise RuntimeError(f"{job} failed:\n{r.stderr[-4000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])

def median(xs): return statistics.median(xs)

def table(rows:list[dict], cols:list[str])->str:
    "A plain-text table with a header; floats to 3 significant digits."
    fmt = lambda v: (f'{v:,.3g}' if abs(v) < 100 else f'{v:,.0f}') if isinstance(v, float) else str(v)
    cells = [[c for c in cols]] + [[fmt(r.get(c, '')) for c in cols] for r in rows]
    w = [max(len(row[i]) for row in cells) for i in range(len(cols))]
    lines = ['  '.join(s.rjust(w[i]) if i else s.ljust(w[i]) for i, s in enumerate(row)) for row in cells]
    return '\n'.join([lines[0], '  '.join('-' * x for x in w), *lines[1:]])

def busy()->str:
    "A warning when another heavy job (the bundled-model build) is running on this machine, else ''."
    try: r = subprocess.run(['pgrep', '-f', 'build_bundled'], capture_output=True, text=True)
    except OSError: return ''
    pids = [p for p in r.stdout.split() if p != str(os.getpid())]
    return f'WARNING: build_bundled is running (pid {", ".join(pids)}): timings are contaminated' if pids else ''

def cpu_name()->str:
    "The CPU's model name, from /proc/cpuinfo where there is one."
    try: info = Path('/proc/cpuinfo').read_text()
    except OSError: return platform.processor() or platform.machine()
    return next((l.split(':', 1)[1].strip() for l in info.splitlines() if l.startswith('model name')),
                platform.processor() or platform.machine())

def bf16_flags()->list[str]:
    "This CPU's flags for native bfloat16 matrix products (avx512_bf16, amx_bf16); empty when it has none or is capped at AVX2."
    if avx2_capped(): return []
    try: flags = set(Path('/proc/cpuinfo').read_text().split())
    except OSError: return []
    return [f for f in BF16_FLAGS if f in flags]

def cpu_kind()->str:
    "'native bf16' or 'no native bf16': what the benchmarks' targets depend on."
    return 'native bf16' if bf16_flags() else 'no native bf16'

def gpu_name()->str|None:
    "The first CUDA device's name, or None."
    import torch
    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None

def machine()->str:
    "CPU model, cores, its bf16 instructions, library versions and the GPU, in one line."
    import torch, transformers
    cap = ' (instruction set capped at AVX2: ' + ', '.join(f'{k}={v}' for k, v in AVX2_CAP.items()) + ')' if avx2_capped() else ''
    return (f'{cpu_name()}{cap}, {os.cpu_count()} cores, bf16 instructions: {", ".join(bf16_flags()) or "none"}, '
            f'torch {torch.__version__} ({torch.get_num_threads()} threads), transformers {transformers.__version__}, '
            f'Python {platform.python_version()}, GPU: {gpu_name() or "none"}')

def start(doc:str, worker=None, options=None, quick:str='one round, the quickest settings', rounds:int|None=3,
          argv:list=None)->argparse.Namespace:
    """Every benchmark's opening: the parser with the common options (`--quick`, `--rounds`, `--as-avx2`, the hidden `--worker`)
    plus the script's own (`options(parser)`); in worker mode run `worker(job)`, print its JSON and exit; else print
    the machine line (and a warning when another heavy job is running) and return the arguments. `--quick` means one
    round. `rounds=None`: no `--rounds`; `worker=None`: no worker mode."""
    p = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    p.add_argument('--quick', action='store_true', help=quick)
    if rounds is not None: p.add_argument('--rounds', type=int, default=rounds, help='rounds (medians are reported)')
    if worker is not None: p.add_argument('--worker', help=argparse.SUPPRESS)
    p.add_argument('--as-avx2', action='store_true', help='measure this CPU as one with AVX2 only (no AVX-512, no bf16): '
                   + ', '.join(f'{k}={v}' for k, v in AVX2_CAP.items()) + ' in every measured process')
    if options is not None: options(p)
    a = p.parse_args(argv)
    # this process's children inherit it; Inductor's cache keys kernels without the cap, and a capped process that
    # loads an AVX-512 kernel compiled by an uncapped one (or the other way round) crashes: the capped keep their own
    if a.as_avx2: os.environ.update(AVX2_CAP, TORCHINDUCTOR_CACHE_DIR=str(CACHE/'inductor-avx2'))
    if worker is not None and a.worker:
        print(json.dumps(worker(json.loads(a.worker))), flush=True)
        raise SystemExit(0)
    if rounds is not None and a.quick: a.rounds = 1
    print(machine(), flush=True)
    if busy(): print(busy(), flush=True)
    if loaded(): print(loaded(), flush=True)
    return a

def loaded()->str:
    "A warning when the machine is already busy before this benchmark starts (load average), else ''."
    try: load, cores = os.getloadavg()[0], os.cpu_count() or 1
    except OSError: return ''
    return (f'WARNING: load average {load:.1f} on {cores} cores before the start: other jobs are running, timings are '
            'contaminated' if load >= cores / 2 + 0.5 else '')

class TextDataset:
    """transformers 4's `TextDataset` (removed in transformers 5), algorithm for algorithm: read the whole file,
    tokenize it as one string, cut full blocks (the tail is dropped), pickle the blocks beside the file as a cache."""
    def __init__(self, tokenizer, file_path:str, block_size:int, overwrite_cache:bool=False):
        import pickle
        block_size = block_size - tokenizer.num_special_tokens_to_add(pair=False)
        d, name = os.path.split(file_path)
        cached = os.path.join(d, f'cached_lm_{tokenizer.__class__.__name__}_{block_size}_{name}')
        if os.path.exists(cached) and not overwrite_cache:
            with open(cached, 'rb') as f: self.examples = pickle.load(f)
            return
        with open(file_path, encoding='utf-8') as f: text = f.read()
        ids = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(text))
        special = getattr(tokenizer, 'build_inputs_with_special_tokens', lambda x: x)  # GPT-2 adds none
        self.examples = [special(ids[i:i + block_size]) for i in range(0, len(ids) - block_size + 1, block_size)]
        with open(cached, 'wb') as f: pickle.dump(self.examples, f, protocol=pickle.HIGHEST_PROTOCOL)

    def __len__(self): return len(self.examples)
    def __getitem__(self, i):
        import torch
        return torch.tensor(self.examples[i], dtype=torch.long)

def peak_rss_mb()->float:
    "This process's peak resident memory so far, in MB."
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
