"Shared pieces of the benchmarks: run a measurement in a fresh process, medians, tables, the machine."
import json, os, platform, statistics, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(__file__).resolve().parent/'.cache'
OFFLINE = dict(HF_HUB_OFFLINE='1', HF_DATASETS_OFFLINE='1', TQDM_DISABLE='1', TRANSFORMERS_VERBOSITY='error',
               HF_DATASETS_DISABLE_PROGRESS_BARS='1', TOKENIZERS_PARALLELISM='true')
MALLOC_ENV = ('MALLOC_MMAP_MAX_', 'MALLOC_TRIM_THRESHOLD_', 'MALLOC_TOP_PAD_', 'MALLOC_MMAP_THRESHOLD_')
MALLOC_TUNED_ENV = dict(MALLOC_MMAP_MAX_='0', MALLOC_TRIM_THRESHOLD_='17179869184', MALLOC_TOP_PAD_='1073741824')

def worker_env(malloc:str='default', **extra)->dict:
    "The environment of a measured process: offline, and glibc's allocator as asked ('default', 'env')."
    env = {k: v for k, v in os.environ.items() if k not in MALLOC_ENV and k != 'GPT_FT_NO_MALLOC_TUNING'}
    env.update(OFFLINE, PYTHONPATH=str(ROOT) + os.pathsep + env.get('PYTHONPATH', ''))
    if malloc == 'env': env.update(MALLOC_TUNED_ENV)
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

def machine()->str:
    "CPU model, cores, and library versions, in one line."
    cpu = next((l.split(':', 1)[1].strip() for l in Path('/proc/cpuinfo').read_text().splitlines()
                if l.startswith('model name')), platform.processor()) if Path('/proc/cpuinfo').exists() else platform.processor()
    import torch, transformers
    return (f'{cpu}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads), '
            f'transformers {transformers.__version__}, Python {platform.python_version()}')

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
