"Fixtures shared by the tests: a tiny local GPT-2 with the real tokenizer, small data, and a CLI runner."
import os, subprocess, sys
from pathlib import Path
import pytest

# Everything runs offline: no hub look-ups (and no minute of retries when there is no network).
OFFLINE = dict(HF_HUB_OFFLINE='1', HF_DATASETS_OFFLINE='1', TQDM_DISABLE='1', TRANSFORMERS_VERBOSITY='error')
os.environ.update(OFFLINE)
EXAMPLES = Path(__file__).resolve().parent.parent/'examples'
# The measuring instruments that check the memory planner live in benchmarks/ (`from measure import ...`).
sys.path.insert(0, str(EXAMPLES.parent/'benchmarks'))

@pytest.fixture(scope='session')
def tiny_model(tmp_path_factory) -> Path:
    "A folder with a randomly initialised tiny GPT-2 and GPT-2's tokenizer, as save_pretrained writes it."
    from gpt_ft.core import load_tokenizer
    from gpt_ft.model import tiny_gpt2
    d = tmp_path_factory.mktemp('tiny')
    tiny_gpt2().save_pretrained(d)
    load_tokenizer('gpt2').save_pretrained(d)
    return d

@pytest.fixture(scope='session')
def news(tmp_path_factory) -> Path:
    "The first 120 example news items, one per line."
    f = tmp_path_factory.mktemp('data')/'news.txt'
    f.write_text(''.join((EXAMPLES/'tech_news.txt').read_text().splitlines(keepends=True)[:120]))
    return f

@pytest.fixture(scope='session')
def heldout() -> Path: return EXAMPLES/'tech_news_heldout.txt'

def gpt_ft(*args, cwd=None) -> subprocess.CompletedProcess:
    "Run `python -m gpt_ft ARGS` in a subprocess and capture its output."
    return subprocess.run([sys.executable, '-m', 'gpt_ft', *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env={**os.environ, **OFFLINE}, timeout=600)

@pytest.fixture
def cli(): return gpt_ft

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

@pytest.fixture
def watch(tmp_path, tiny_model, news) -> list:
    "The folders a failed command must leave alone: the test's own, the model's and the data's."
    return [tmp_path, tiny_model, news.parent]
