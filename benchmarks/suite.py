"""Wall time of the notebook test suite (`nbdev_test`) and of README's main job (its first `gpt_ft train ...` line).

    python benchmarks/suite.py            # both, median of 3 rounds
    python benchmarks/suite.py --quick    # README's job only, one round
    python benchmarks/suite.py --skip-nbdev-test

README's job runs twice per round in a fresh output folder, offline: once with gpt_ft's speed levers switched off
from the environment (`GPT_FT_NO_MALLOC_TUNING=1` and `GPT_FT_NO_FAST=1`, the baseline) and once as shipped. The
suite runs once per round, as shipped, the way README runs it (a notebook per core, one math thread each:
`OMP_NUM_THREADS=1`; two threads per process on two cores took twice as long). The last line is the speed
ratio of README's job, shipped over baseline.
"""
from __future__ import annotations
import os, re, shlex, shutil, subprocess, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, busy, median, start, table, worker_env

OFF = dict(GPT_FT_NO_MALLOC_TUNING='1', GPT_FT_NO_FAST='1')

def readme_job()->list[str]|None:
    "The arguments of README's first `gpt_ft train ...` line, or None when there is none."
    for line in (ROOT/'README.md').read_text().splitlines():
        if line.startswith('gpt_ft train '): return shlex.split(line)[1:]
    return None

def timed(cmd:list, env:dict, cwd:Path)->tuple[float, subprocess.CompletedProcess]:
    t = time.perf_counter()
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    return time.perf_counter() - t, r

def run_job(args:list, off:bool)->float:
    "Seconds for `gpt_ft ARGS` in a scratch copy of the output folder's parent, offline."
    args = list(args)
    with tempfile.TemporaryDirectory() as tmp:
        if '--output' in args:  # write the run somewhere disposable
            i = args.index('--output') + 1
            args[i] = str(Path(tmp)/Path(args[i]).name)
        if '--overwrite' not in args: args.append('--overwrite')
        s, r = timed([sys.executable, '-m', 'gpt_ft', *args], worker_env('default', **(OFF if off else {})), ROOT)
    if r.returncode:
        why = (r.stderr.strip().splitlines() or ['no message'])[-1]
        raise SystemExit(f"README's job `gpt_ft {' '.join(args)}` failed (exit {r.returncode}): {why}")
    return s

def main():
    a = start(__doc__, quick="README's job only, one round",
              options=lambda p: p.add_argument('--skip-nbdev-test', action='store_true'))
    rounds = a.rounds
    rows, ratio = [], None
    job = readme_job()
    if job is None:
        print("README.md has no line starting with `gpt_ft train `: nothing to time for README's main job. "
              "Add the command (for example `gpt_ft train examples/tech_news.txt --model bundled --output runs/news`) "
              "to README.md and run this again.")
    else:
        base, fast = [], []
        for _ in range(rounds): base.append(run_job(job, off=True)); fast.append(run_job(job, off=False))
        rows += [{'what': 'gpt_ft ' + ' '.join(job), 'setting': 'speed levers off', 'wall s': median(base)},
                 {'what': 'gpt_ft ' + ' '.join(job), 'setting': 'as shipped', 'wall s': median(fast)}]
        ratio = median(base) / median(fast)
    if not (a.quick or a.skip_nbdev_test):
        times = []
        for _ in range(rounds):
            s, r = timed(['nbdev_test'], worker_env('default', OMP_NUM_THREADS=1), ROOT)  # as README runs it
            if r.returncode: raise SystemExit(f'nbdev_test failed:\n{r.stderr[-3000:]}')
            times.append(s)
        rows.append({'what': 'nbdev_test (notebook suite)', 'setting': 'as shipped', 'wall s': median(times)})
    if rows: print(table(rows, list(rows[0])))
    print(f'rounds: {rounds} (medians)' + (f'; {busy()}' if busy() else ''))
    print(f"speed ratio README job, shipped/levers off: {ratio:.2f}x" if ratio else
          "speed ratio README job: n/a (README.md has no `gpt_ft train` line)")

if __name__ == '__main__': main()
