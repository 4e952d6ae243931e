"""Fixtures shared by the tests: a tiny local GPT-2 with the real tokenizer, small data, finished runs made once per
session for every test process (`shared`), and CLI runners in this process and in a real one."""
import os, shutil, subprocess, sys
from pathlib import Path
import pytest

# Everything runs offline: no hub look-ups (and no minute of retries when there is no network).
OFFLINE = dict(HF_HUB_OFFLINE='1', HF_DATASETS_OFFLINE='1', TQDM_DISABLE='1', TRANSFORMERS_VERBOSITY='error')
os.environ.update(OFFLINE)
EXAMPLES = Path(__file__).resolve().parent.parent/'examples'
# The measuring instruments that check the memory planner live in benchmarks/ (`from measure import ...`).
sys.path.insert(0, str(EXAMPLES.parent/'benchmarks'))

def shared(tmp_path_factory, name: str, make) -> Path:
    """The folder `make(folder)` fills, made once for the whole test session: the first test process (xdist worker)
    to ask makes it, the others wait on a lock and reuse it. For runs that tests only read, in several test files."""
    from filelock import FileLock
    root = tmp_path_factory.getbasetemp()
    if os.environ.get('PYTEST_XDIST_WORKER'): root = root.parent  # the session's folder, above each worker's own
    d, done = root/f'shared-{name}', root/f'shared-{name}.done'
    with FileLock(f'{d}.lock'):
        if not done.exists():
            if d.exists(): shutil.rmtree(d)  # a make that failed half-way, in another worker
            make(d)
            done.touch()
    return d

@pytest.fixture(scope='session')
def tiny_model(tmp_path_factory) -> Path:
    "A folder with a randomly initialised tiny GPT-2 and GPT-2's tokenizer, as save_pretrained writes it."
    from gpt_ft.core import load_tokenizer
    from gpt_ft.model import tiny_gpt2
    def make(d):
        tiny_gpt2().save_pretrained(d)
        load_tokenizer('gpt2').save_pretrained(d)
    return shared(tmp_path_factory, 'tiny', make)

@pytest.fixture(scope='session')
def news(tmp_path_factory) -> Path:
    "The first 120 example news items, one per line."
    make = lambda d: d.mkdir() or (d/'news.txt').write_text(
        ''.join((EXAMPLES/'tech_news.txt').read_text().splitlines(keepends=True)[:120]))
    return shared(tmp_path_factory, 'data', make)/'news.txt'

@pytest.fixture(scope='session')
def heldout() -> Path: return EXAMPLES/'tech_news_heldout.txt'

def gpt_ft(*args, cwd=None) -> subprocess.CompletedProcess:
    "Run `python -m gpt_ft ARGS` in a subprocess and capture its output."
    return subprocess.run([sys.executable, '-m', 'gpt_ft', *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env={**os.environ, **OFFLINE}, timeout=600)

@pytest.fixture
def cli():
    """Run `gpt_ft ARGS` through `gpt_ft.cli.main` in this process, output captured: what the console script runs,
    without starting an interpreter and importing torch again for each command. `gpt_ft` above starts a real process
    (the `trained` run below, and the tests of what only a process shows: exit on a signal, stderr, start-up time)."""
    from misuse import gpt_ft as in_process
    return in_process

def snapshot(folder: Path) -> dict:
    "Every file under `folder` with its size and modification time (empty if the folder does not exist)."
    if not folder.exists(): return {}
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob('*')}

@pytest.fixture(scope='session')
def trained(tmp_path_factory, tiny_model, news) -> Path:
    "An output folder of `gpt_ft train` on the tiny model (two quick epochs)."
    out = tmp_path_factory.mktemp('runs')/'news'
    r = gpt_ft('train', news, '--model', tiny_model, '--output', out, '--line-by-line', '--epochs', 2,
               '--batch-size', 8, '--lr', 3e-3)
    assert r.returncode == 0, r.stderr
    return out

# A tiny run with a checkpoint every 4 steps, in fp32 on every CPU: the resume tests' uninterrupted reference and the
# distributed tests' one-process run
REFERENCE_ARGS = ['--line-by-line', '--epochs', 2, '--batch-size', 8, '--block-size', 64, '--lr', 3e-3,
                  '--save-steps', 4, '--seed', 0, '--precision', 'fp32', '--no-report']

@pytest.fixture(scope='session')
def reference_run(tmp_path_factory, tiny_model, news) -> Path:
    "The output folder of `gpt_ft train NEWS --model TINY REFERENCE_ARGS`, run once (a real process)."
    def make(out):
        r = gpt_ft('train', news, '--model', tiny_model, '--output', out, *REFERENCE_ARGS)
        assert r.returncode == 0, r.stderr
    return shared(tmp_path_factory, 'reference', make)

@pytest.fixture
def watch(tmp_path, tiny_model, news) -> list:
    "The folders a failed command must leave alone: the test's own, the model's and the data's."
    return [tmp_path, tiny_model, news.parent]
