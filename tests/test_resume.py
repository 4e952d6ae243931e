"""A run survives being killed: resume continues from the newest complete checkpoint and ends where an uninterrupted
run ends; a kill in the middle of a save leaves no checkpoint that looks complete."""
import json, os, random, signal, subprocess, sys, time
from pathlib import Path
import pytest
from conftest import OFFLINE, REFERENCE_ARGS as ARGS
from misuse import gpt_ft  # in this process; the runs that are killed are real processes
from gpt_ft.checkpoint import MARKER, checkpoints, latest_checkpoint

def _train_cmd(news, model, out, *extra):
    return [sys.executable, '-m', 'gpt_ft', 'train', news, '--model', model, '--output', out, *ARGS, *extra]

# Makes every save from step 8 on slow: the optimizer state is written, then the process sleeps before the rest.
SLOW_SAVE = """
import sys, time, transformers
orig = transformers.Trainer._save_optimizer_and_scheduler
def slow(self, output_dir):
    orig(self, output_dir)
    if self.state.global_step >= 8: time.sleep(120)
transformers.Trainer._save_optimizer_and_scheduler = slow
from gpt_ft.cli import main
sys.exit(main(sys.argv[1:]))
"""

def _final(out: Path) -> tuple:
    "Final training loss and validation loss of a finished run."
    m = json.loads((out/'gpt_ft_run.json').read_text())
    assert m['status'] == 'completed'
    return m['train_loss'], m['metrics']['eval_loss']

@pytest.fixture(scope='module')
def reference(reference_run):
    "The same run, uninterrupted: `_train_cmd` with no extra options."
    return _final(reference_run)

def _start(cmd, out: Path, done) -> subprocess.Popen:
    "Start `cmd`; wait (at most 5 minutes) until `done(out)` is true while the process still runs."
    p = subprocess.Popen(list(map(str, cmd)), env={**os.environ, **OFFLINE}, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    t0 = time.time()
    while not done(out):
        assert p.poll() is None, f"training ended before the kill: {p.stderr.read()}"
        assert time.time() - t0 < 300
        time.sleep(0.05)
    return p

def _kill(p: subprocess.Popen):
    assert p.poll() is None, "the process ended before it could be killed"
    p.send_signal(signal.SIGKILL)
    p.wait()

def test_resume_after_kill_matches_an_uninterrupted_run(tmp_path, tiny_model, news, reference):
    out = tmp_path/'run'
    p = _start(_train_cmd(news, tiny_model, out), out, lambda o: bool(checkpoints(o)))
    time.sleep(random.uniform(0, 2))  # a random step after the first checkpoint
    _kill(p)
    killed_at = latest_checkpoint(out)
    assert killed_at is not None and not (out/'model.safetensors').exists()
    assert json.loads((out/'gpt_ft_run.json').read_text())['status'] == 'running'
    r = gpt_ft('train', news, '--model', tiny_model, '--output', out, *ARGS, '--resume')
    assert r.returncode == 0, r.stderr
    m = json.loads((out/'gpt_ft_run.json').read_text())
    assert m['resumed'][0]['checkpoint'] == killed_at.name
    assert _final(out) == pytest.approx(reference, rel=0.01)

def test_kill_during_save_leaves_no_complete_looking_checkpoint(tmp_path, tiny_model, news, reference):
    out = tmp_path/'run'
    cmd = [sys.executable, '-c', SLOW_SAVE, *_train_cmd(news, tiny_model, out)[3:]]
    p = _start(cmd, out, lambda o: (o/'checkpoint-8'/'optimizer.pt').exists())
    _kill(p)  # in the middle of saving checkpoint-8
    assert (out/'checkpoint-8').is_dir() and not (out/'checkpoint-8'/MARKER).exists()
    assert latest_checkpoint(out).name == 'checkpoint-4'
    r = gpt_ft('train', news, '--model', tiny_model, '--output', out, *ARGS, '--resume')
    assert r.returncode == 0, r.stderr
    assert json.loads((out/'gpt_ft_run.json').read_text())['resumed'][0]['checkpoint'] == 'checkpoint-4'
    assert _final(out) == pytest.approx(reference, rel=0.01)

def test_resume_needs_a_checkpoint_and_the_same_settings(tmp_path, tiny_model, news, heldout):
    out = tmp_path/'run'
    out.mkdir(); (out/'notes.txt').write_text('not a run')
    r = gpt_ft('train', news, '--model', tiny_model, '--output', out, *ARGS, '--resume')
    assert r.returncode == 2 and 'no complete checkpoint' in r.stderr
    r = gpt_ft('train', news, '--model', tiny_model, '--output', tmp_path/'done', *ARGS, '--epochs', 0.2)
    assert r.returncode == 0, r.stderr
    r = gpt_ft('train', heldout, '--model', tiny_model, '--output', tmp_path/'done', *ARGS, '--epochs', 0.2, '--resume')
    assert r.returncode == 2 and 'other settings or data' in r.stderr and 'tech_news_heldout.txt' in r.stderr
