"""The run folder: --overwrite replaces only a run and puts it back when the new one fails, data and output never
contain one another, one writer at a time, --resume checks everything, and faults (Ctrl-C, a full disk, any other
error) leave the truth in the manifest (see misuse.py for the contract)."""
import json, os, re, shutil, signal, subprocess, sys, time
from pathlib import Path
import pytest
from conftest import OFFLINE
from misuse import (API_SHORT, LOCKS, MANIFEST, SHORT, TIMEOUT, _inside, _sha, assert_short_error, gpt_ft, lines, run_cli)
# ---------------------------------------------------------------------------------------------------------------------
# --overwrite replaces only a gpt_ft run, and only once the new run has succeeded

@pytest.fixture(scope='module')
def finished_run(tmp_path_factory, tiny_model, news) -> Path:
    "A finished, tiny run (seed 1), to copy into each test that needs an earlier run."
    out = tmp_path_factory.mktemp('finished')/'run'
    r = gpt_ft('train', news, '--model', tiny_model, '--output', out, *SHORT, '--seed', '1')
    assert r.returncode == 0, r.stderr
    return out

@pytest.fixture
def old_run(tmp_path, finished_run) -> Path:
    r = tmp_path/'R'
    shutil.copytree(finished_run, r)
    return r

def test_overwrite_refuses_a_folder_that_holds_the_data(tmp_path, tiny_model, watch):
    user = tmp_path/'userdir'
    user.mkdir(); (user/'notes.txt').write_text('My notes.\n' * 50); (user/'other.txt').write_text('Other work.\n')
    run_cli('train', user/'notes.txt', '--model', tiny_model, '--output', user, *SHORT, '--overwrite',
            keyword=r'overwrite|not a gpt_ft run|contain|inside', watch=watch, run=user, cwd=tmp_path, ignore=LOCKS)

def test_overwrite_refuses_the_model_folder(tmp_path, tiny_model, news, watch):
    d = tmp_path/'D'
    shutil.copytree(tiny_model, d)
    run_cli('train', news, '--model', d, '--output', d, *SHORT, '--overwrite',
            keyword=r'overwrite|not a gpt_ft run|model', watch=watch, run=d, cwd=tmp_path)

def test_overwrite_refuses_a_run_that_is_also_the_model(old_run, tmp_path, news, watch):
    "Fine-tuning an earlier run further, into the same folder, would delete the model being loaded."
    run_cli('train', news, '--model', old_run, '--output', old_run, *SHORT, '--overwrite',
            keyword=r'overwrite|model|same|contain|inside', watch=watch, run=old_run, cwd=tmp_path)

def test_overwrite_with_a_misuse_keeps_the_old_run(old_run, tmp_path, tiny_model, news, watch):
    run_cli('train', news, '--model', tiny_model, '--output', old_run, *SHORT, '--overwrite', '--patience', '1',
            '--val-split', '0', keyword=r'patience', watch=watch, run=old_run, cwd=tmp_path)

def test_overwrite_with_a_run_that_diverges_puts_the_old_run_back(old_run, tmp_path, tiny_model, news, watch):
    run_cli('train', news, '--model', tiny_model, '--output', old_run, *SHORT, '--epochs', '0.5', '--lr', '1e30',
            '--save-steps', '1', '--overwrite', '--progress', 'off', keyword=r'finite|diverg|\blr\b', watch=watch, run=old_run, cwd=tmp_path)

def test_overwrite_with_a_good_run_replaces_the_old_one(old_run, tmp_path, tiny_model, news):
    before = {p for p in tmp_path.rglob('*') if p.is_dir() and not _inside(str(p), old_run)}
    r = gpt_ft('train', news, '--model', tiny_model, '--output', old_run, *SHORT, '--seed', '7', '--overwrite',
               cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    m = json.loads((old_run/MANIFEST).read_text())
    assert m['status'] == 'completed' and m['config']['seed'] == 7 and (old_run/'model.safetensors').exists()
    after = {p for p in tmp_path.rglob('*') if p.is_dir() and not _inside(str(p), old_run)}
    assert after == before, f"left behind: {after - before}"
    aside = [p for p in tmp_path.rglob('*') if re.search(r'^\.|\.old$|old[-_.]|aside|backup|\.bak$|trash|deleting|saving',
                                                          p.name) and p.name not in ('.complete',) and p.is_dir()]
    assert not aside, f"folders left aside: {aside}"

def test_an_empty_folder_needs_no_overwrite(tmp_path, tiny_model, news):
    out = tmp_path/'empty'
    out.mkdir()
    r = gpt_ft('train', news, '--model', tiny_model, '--output', out, *SHORT, cwd=tmp_path)
    assert r.returncode == 0, r.stderr

# ---------------------------------------------------------------------------------------------------------------------
# The run folder and the data never contain one another

def test_output_inside_the_data_folder(tmp_path, tiny_model, news, watch):
    data = tmp_path/'data_dir'
    data.mkdir(); shutil.copy(news, data/'notes.txt')
    run_cli('train', data, '--model', tiny_model, '--output', data/'run', *SHORT, keyword=r'contain|inside',
            watch=watch, run=data/'run', cwd=tmp_path)

def test_data_inside_the_output_folder(old_run, tmp_path, tiny_model, news, watch):
    shutil.copy(news, old_run/'mine.txt')
    run_cli('train', old_run/'mine.txt', '--model', tiny_model, '--output', old_run, *SHORT, '--overwrite',
            keyword=r'contain|inside', watch=watch, run=old_run, cwd=tmp_path)

def test_eval_data_inside_the_output_folder(old_run, tmp_path, tiny_model, news, heldout, watch):
    shutil.copy(heldout, old_run/'held.txt')
    run_cli('train', news, '--eval', old_run/'held.txt', '--model', tiny_model, '--output', old_run, *SHORT,
            '--overwrite', keyword=r'contain|inside', watch=watch, run=old_run, cwd=tmp_path)

# ---------------------------------------------------------------------------------------------------------------------
# One run at a time in a folder: a lock that names its holder, and that a dead holder does not keep

def _lock_name() -> str:
    "The lock file's name (`gpt_ft.checkpoint.RunLock`): JSON with the holder's pid, left empty once released."
    from gpt_ft import checkpoint
    return getattr(checkpoint, 'LOCK', '.gpt_ft.lock')

def _train_cmd(news, model, out, *extra) -> list:
    return [sys.executable, '-m', 'gpt_ft', 'train', str(news), '--model', str(model), '--output', str(out),
            *SHORT, *map(str, extra)]

def _popen(cmd: list, log: Path, **kw) -> subprocess.Popen:
    "Start `cmd` with its output going to `log` (a file: a pipe nobody reads could block it)."
    return subprocess.Popen(cmd, stdout=open(log, 'w'), stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, **OFFLINE}, **kw)

def test_two_runs_into_one_folder(tmp_path, tiny_model, news):
    out = tmp_path/'run'
    ps = [_popen(_train_cmd(news, tiny_model, out, '--epochs', 3), tmp_path/f'{i}.log') for i in range(2)]
    try:
        t0 = time.monotonic()
        while all(p.poll() is None for p in ps):
            assert time.monotonic() - t0 < TIMEOUT, "neither run ended"
            time.sleep(0.1)
        loser = next(p for p in ps if p.poll() is not None)
        winner = next(p for p in ps if p is not loser)
        assert winner.poll() is None, "both runs ended together: the second did not stop at once"
        winner.wait(TIMEOUT)
    finally:
        for p in ps:
            if p.poll() is None: p.kill(); p.wait()
    text = (tmp_path/f'{ps.index(loser)}.log').read_text()
    assert not re.search(r'^ *step \d', text, re.M), f"the second run trained before it stopped:\n{text}"
    assert winner.returncode == 0, (tmp_path/f'{ps.index(winner)}.log').read_text()
    assert_short_error(loser.returncode, text, rf'\bpid\b|\b{winner.pid}\b')
    assert json.loads((out/MANIFEST).read_text())['status'] == 'completed'

def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, '-c', 'pass'])
    p.wait()
    if Path(f'/proc/{p.pid}').exists(): pytest.skip('the pid was taken again at once')
    return p.pid

def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path, tiny_model, news):
    out = tmp_path/'run'
    out.mkdir()
    dead = _dead_pid()
    (out/_lock_name()).write_text(json.dumps({'pid': dead}))
    r = gpt_ft(*_train_cmd(news, tiny_model, out)[3:], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    notes = [l for l in lines(r.stderr) if re.search(r'lock', l, re.I)]
    assert len(notes) == 1, r.stderr
    assert json.loads((out/MANIFEST).read_text())['status'] == 'completed'

# ---------------------------------------------------------------------------------------------------------------------
# --resume checks the data it resumes on, and compares paths resolved

def _killed_run(cmd: list, out: Path, log: Path, **kw):
    "Start a training run and kill it (SIGKILL) once it has a complete checkpoint."
    from gpt_ft.checkpoint import checkpoints
    p = _popen(cmd, log, **kw)
    t0 = time.monotonic()
    try:
        while not checkpoints(out):
            assert p.poll() is None, f"the run ended before it could be killed:\n{log.read_text()}"
            assert time.monotonic() - t0 < TIMEOUT
            time.sleep(0.05)
    finally:
        p.kill(); p.wait()

def test_resume_names_the_data_file_that_changed(tmp_path, tiny_model, news, watch):
    text = news.read_text().splitlines(keepends=True)
    a, b, out = tmp_path/'a.txt', tmp_path/'b.txt', tmp_path/'R'
    a.write_text(''.join(text[:60])); b.write_text(''.join(text[60:]))
    args = [a, b, '--model', tiny_model, '--output', out, *SHORT, '--epochs', 2, '--save-steps', 2]
    _killed_run([sys.executable, '-m', 'gpt_ft', 'train', *map(str, args)], out, tmp_path/'first.log')
    files = json.loads((out/MANIFEST).read_text())['data_files']
    assert {Path(f['path']).name: f['sha256'] for f in files} == {'a.txt': _sha(a), 'b.txt': _sha(b)}
    b.write_text(b.read_text() + 'One more line of news.\n')
    run_cli('train', *args, '--resume', keyword=r'b\.txt', watch=watch, run=out, cwd=tmp_path, ignore=LOCKS)

def test_resume_compares_paths_resolved(tmp_path, tiny_model, news):
    "The model given as ./tiny at first and as /abs/.../tiny on --resume is the same model: the resume goes ahead."
    out, cwd = tmp_path/'R', tiny_model.parent
    same = [news, '--output', out, *SHORT, '--epochs', 2, '--save-steps', 2]
    first = [sys.executable, '-m', 'gpt_ft', 'train', '--model', f'./{tiny_model.name}', *map(str, same)]
    _killed_run(first, out, tmp_path/'first.log', cwd=cwd)
    r = gpt_ft('train', '--model', tiny_model.resolve(), *same, '--resume', cwd=cwd)
    assert r.returncode == 0, r.stderr
    assert json.loads((out/MANIFEST).read_text())['status'] == 'completed'

# ---------------------------------------------------------------------------------------------------------------------
# Faults: Ctrl-C, a full disk, and any other exception in the middle of a run

def test_ctrl_c_stops_cleanly_and_resume_finishes(tmp_path, tiny_model, news):
    from gpt_ft.checkpoint import checkpoints
    out, log = tmp_path/'run', tmp_path/'train.log'
    extra = ['--epochs', 5, '--save-steps', 2]
    # as from a terminal: a shell without job control starts background jobs with SIGINT ignored, and children inherit it
    p = _popen(_train_cmd(news, tiny_model, out, *extra), log, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        t0 = time.monotonic()
        while not checkpoints(out):
            assert p.poll() is None, f"the run ended before Ctrl-C:\n{log.read_text()}"
            assert time.monotonic() - t0 < TIMEOUT
            time.sleep(0.05)
        p.send_signal(signal.SIGINT)
        p.wait(120)
    finally:
        if p.poll() is None: p.kill(); p.wait()
    text = log.read_text()
    assert_short_error(p.returncode, text, code=130)
    assert any('interrupted at step' in l and '--resume' in l for l in lines(text)), text
    assert json.loads((out/MANIFEST).read_text())['status'] == 'interrupted'
    r = gpt_ft(*_train_cmd(news, tiny_model, out, *extra)[3:], '--resume', cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads((out/MANIFEST).read_text())['status'] == 'completed'

@pytest.fixture
def small_disk(tmp_path):
    "A 3 MB file system: a checkpoint of the tiny model (13 MB of weights alone) cannot fit."
    d = tmp_path/'disk'
    d.mkdir()
    if os.geteuid() != 0 or subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=3M', 'tmpfs', str(d)],
                                           capture_output=True).returncode:
        pytest.skip('cannot mount a small tmpfs here')
    try: yield d
    finally: subprocess.run(['umount', str(d)], capture_output=True)

def test_full_disk(small_disk, tmp_path, tiny_model, news):
    from gpt_ft.checkpoint import MARKER
    out = small_disk/'run'
    r = gpt_ft(*_train_cmd(news, tiny_model, out, '--save-steps', 1)[3:], cwd=tmp_path)
    text = r.stdout + r.stderr
    assert_short_error(r.returncode, text, r'space|MB')
    assert any(str(small_disk) in l and re.search(r'space|MB', l) and re.search(r'\d', l) for l in lines(text)), text
    m = json.loads((out/MANIFEST).read_text())
    assert m['status'] == 'failed' and any(m.get(k) for k in ('reason', 'error', 'message')), m
    from safetensors import safe_open
    for marked in out.glob(f'checkpoint-*/{MARKER}'):  # a checkpoint marked complete must be complete
        with safe_open(str(marked.parent/'model.safetensors'), 'pt') as f: assert list(f.keys())

def test_an_exception_mid_run_marks_the_run_failed(tmp_path, tiny_model, news):
    from transformers import TrainerCallback
    from gpt_ft.train import finetune
    class Boom(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            if state.global_step == 2: raise RuntimeError('boom')
    out = tmp_path/'run'
    with pytest.raises(Exception, match='boom'):
        finetune(str(news), model=str(tiny_model), output_dir=str(out), **{**API_SHORT, 'epochs': 1},
                 callbacks=[Boom()])
    assert json.loads((out/MANIFEST).read_text())['status'] == 'failed'

