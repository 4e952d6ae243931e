"""Helpers of the misuse tests (test_misuse.py, test_faults.py): every mistake ends the same way, and nothing is lost.

On the command line a misuse exits with code 2 (130 for Ctrl-C), prints at most 3 non-empty lines (stdout and stderr
together), never a traceback, names the problem, and changes no file outside the run folder; an earlier run in that
folder is left byte for byte as it was. Through the Python API the same mistakes raise a `GptFtError` (an `InputError`
or `InputNotFound`) naming the same problem, with the same files left alone.

The matrix (`CASES`) runs each case both ways where an API form exists; the stateful cases (overwrite, containment,
lock, resume, faults) have tests of their own. tests/test_bad_inputs.py holds the older bad-input matrix."""
import hashlib, os, re, subprocess, sys, time
from pathlib import Path
import pytest

TIMEOUT = 300  # seconds; a misuse is caught long before, a tiny training run takes well under a minute
MANIFEST = 'gpt_ft_run.json'
LOCKS = r'(^|/)[^/]*lock[^/]*$'  # lock files in a run folder: written and removed by a run, not part of the run

# Every training run is tiny: the `tiny_model` fixture, a fifth of an epoch of 120 short lines.
SHORT = ['--line-by-line', '--epochs', '0.2', '--batch-size', '8', '--block-size', '64', '--no-report']
API_SHORT = dict(line_by_line=True, epochs=0.2, batch_size=8, block_size=64)

# ---------------------------------------------------------------------------------------------------------------------
# Helpers: a content snapshot, a CLI runner that checks the universal contract, and its API counterpart

def _sha(p: Path) -> str:
    h = hashlib.sha256()
    with open(p, 'rb') as f:
        for b in iter(lambda: f.read(1 << 20), b''): h.update(b)
    return h.hexdigest()

def tree(*roots: Path, ignore: str = None) -> dict:
    "Every folder and file under `roots`: {path: 'dir'} or {path: (size, sha256)}; paths matching `ignore` left out."
    out = {}
    for root in roots:
        if not root.exists(): continue
        for p in root.rglob('*'):
            if ignore and re.search(ignore, str(p)): continue
            out[str(p)] = 'dir' if p.is_dir() and not p.is_symlink() else \
                ('link', os.readlink(p)) if p.is_symlink() else (p.stat().st_size, _sha(p))
    return out

def _inside(path: str, folder: Path) -> bool:
    return path == str(folder) or path.startswith(str(folder) + os.sep)

def assert_unchanged(before: dict, after: dict, run: Path = None):
    """Nothing changed outside `run`; if `run` existed before, nothing changed inside it either (byte-identical)."""
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    existed = run is not None and str(run) in before
    allowed = [] if run is None or existed else [k for k in changed if _inside(k, run)]
    bad = [k for k in changed if k not in allowed]
    assert not bad, f"files changed by a failed command: {bad[:10]}"

def lines(text: str) -> list:
    return [l for l in text.splitlines() if l.strip()]

def assert_short_error(rc: int, text: str, keyword: str = None, code: int = 2):
    "The universal contract for one finished command: exit code, at most 3 lines, no traceback, the problem named."
    assert rc == code, f"exit code {rc}, expected {code}:\n{text[-3000:]}"
    assert 'Traceback' not in text, text[-3000:]
    assert len(lines(text)) <= 3, f"{len(lines(text))} lines of output, at most 3 expected:\n{text[-3000:]}"
    if keyword: assert re.search(keyword, text, re.I), f"the message does not name the problem ({keyword!r}):\n{text}"

def gpt_ft(*args, cwd=None, env=None, timeout=TIMEOUT) -> subprocess.CompletedProcess:
    """Run `gpt_ft ARGS`: in this process through `gpt_ft.cli.main` (what the console script runs, minus the
    interpreter's start-up), or, when `env` is given, as `python -m gpt_ft` in a subprocess with that environment."""
    if env is None: return _in_process(args, cwd)
    try: return subprocess.run([sys.executable, '-m', 'gpt_ft', *map(str, args)], capture_output=True, text=True,
                               cwd=cwd, env=env, timeout=timeout)
    except subprocess.TimeoutExpired: pytest.fail(f"`gpt_ft {' '.join(map(str, args))}` still ran after {timeout} s")

def _in_process(args, cwd=None) -> subprocess.CompletedProcess:
    "`gpt_ft.cli.main(args)` with its output captured; an uncaught exception is exit code 1 with its traceback."
    import contextlib, io, traceback
    from gpt_ft.cli import main
    out, err, here = io.StringIO(), io.StringIO(), os.getcwd()
    try:
        if cwd: os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try: code = main([str(a) for a in args])
            except SystemExit as e: code = e.code if isinstance(e.code, int) else 1
            except BaseException: code = 1; err.write(traceback.format_exc())
    finally: os.chdir(here)
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())

def run_cli(*args, watch: list, run: Path = None, keyword: str = None, code: int = 2, cwd=None, env=None,
            ignore: str = None, timeout=TIMEOUT) -> subprocess.CompletedProcess:
    "Run a misuse on the command line and check the universal contract, files included."
    before = tree(*watch, ignore=ignore)
    t0 = time.monotonic()
    r = gpt_ft(*args, cwd=cwd, env=env, timeout=timeout)
    r.seconds = time.monotonic() - t0
    assert_short_error(r.returncode, r.stdout + r.stderr, keyword, code)
    assert_unchanged(before, tree(*watch, ignore=ignore), run)
    return r

def run_api(fn, kwargs: dict, *, watch: list, run: Path = None, keyword: str = None, ignore: str = None):
    "Call `fn(**kwargs)`, expecting a `GptFtError` that names the problem and leaves the files alone."
    from gpt_ft.core import GptFtError, InputError, InputNotFound
    before = tree(*watch, ignore=ignore)
    with pytest.raises(GptFtError) as e: fn(**kwargs)
    assert isinstance(e.value, (InputError, InputNotFound)), type(e.value)
    if keyword: assert re.search(keyword, str(e.value), re.I), f"the message does not name {keyword!r}: {e.value}"
    assert_unchanged(before, tree(*watch, ignore=ignore), run)
    return e.value

def _api(command: str):
    "The Python function behind a command."
    if command == 'train': from gpt_ft.train import finetune as f
    elif command == 'evaluate': from gpt_ft.metrics import evaluate as f
    elif command == 'generate': from gpt_ft.sampling import generate as f
    elif command == 'prepare': from gpt_ft.data_preview import preview as f
    else: from gpt_ft.planner import plan as f
    return f

def base_cli(command: str, model: Path, data: Path, out: Path) -> list:
    "The command line of a valid, tiny run of `command`; a case's options come after and win."
    return {'train':    ['train', data, '--model', model, '--output', out, *SHORT],
            'evaluate': ['evaluate', model, data, '--line-by-line'],
            'generate': ['generate', model, '--prompt', 'Version 2.0 of', '--max-new-tokens', '5'],
            'prepare':  ['prepare', data, '--line-by-line', '--tokenizer', model],
            'plan':     ['plan', '--model', 'gpt2', '--gpu', 'T4']}[command]

def base_api(command: str, model: Path, data: Path, out: Path) -> dict:
    return {'train':    dict(train=str(data), model=str(model), output_dir=str(out), **API_SHORT),
            'evaluate': dict(model=str(model), data=str(data), line_by_line=True),
            'generate': dict(model=str(model), prompts='Version 2.0 of', max_new_tokens=5),
            'prepare':  dict(data=str(data), tokenizer=str(model), line_by_line=True),
            'plan':     dict(model='gpt2', gpu='T4')}[command]


def _have(module: str) -> bool:
    import importlib.util
    return importlib.util.find_spec(module) is not None

