"""Several processes train one model: `torchrun` and `accelerate launch` on CPU (gloo) complete, write one output
folder from the first process only, and reach the loss of one process with the same global batch."""
import json, os, shutil, subprocess, sys
from pathlib import Path
import pytest
from conftest import OFFLINE, REFERENCE_ARGS

def _without(args: list, *options) -> list:
    "`args` less each of `options` and the value after it."
    drop = {i + d for i, a in enumerate(args) if a in options for d in (0, 1)}
    return [a for i, a in enumerate(args) if i not in drop]

# the reference run's options, less its batch (4 per process here) and its checkpoints (not what is tested here)
ARGS = _without(REFERENCE_ARGS, '--batch-size', '--save-steps')

def _run(cmd, **env) -> subprocess.CompletedProcess:
    r = subprocess.run(list(map(str, cmd)), capture_output=True, text=True, timeout=600,
                       env={**os.environ, **OFFLINE, 'OMP_NUM_THREADS': '1', **env})
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r

def _result(out: Path) -> dict:
    m = json.loads((out/'gpt_ft_run.json').read_text())
    assert m['status'] == 'completed'
    return m

@pytest.fixture(scope='module')
def single(reference_run):
    "One process, global batch 8 (conftest's reference run)."
    return _result(reference_run)

def _check_two(out: Path, r: subprocess.CompletedProcess, single: dict):
    m = _result(out)
    assert m['environment']['processes'] == 2
    assert m['steps'] == single['steps']  # 2 x 4 blocks per step is the same global batch as 1 x 8
    assert m['metrics']['eval_loss'] == pytest.approx(single['metrics']['eval_loss'], rel=0.03)
    assert r.stdout.count('saved to') == 1  # one report, from the first process
    assert not [p for p in out.iterdir() if p.name.startswith('.saving')]
    assert (out/'model.safetensors').exists() and (out/'config.json').exists()
    from transformers import AutoModelForCausalLM
    assert AutoModelForCausalLM.from_pretrained(out).num_parameters() > 0

def test_torchrun(tmp_path, tiny_model, news, single):
    out = tmp_path/'run'
    r = _run([sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', 2, '--master_port', 29517,
              '-m', 'gpt_ft', 'train', news, '--model', tiny_model, '--output', out, '--batch-size', 4, *ARGS])
    _check_two(out, r, single)

def test_accelerate_launch(tmp_path, tiny_model, news, single):
    out = tmp_path/'run'
    launcher = shutil.which('accelerate', path=str(Path(sys.executable).parent))
    r = _run([launcher, 'launch', '--multi_gpu', '--num_processes', 2, '--num_machines', 1, '--mixed_precision', 'no',
              '--dynamo_backend', 'no', '--main_process_port', 29519, '-m', 'gpt_ft', 'train', news,
              '--model', tiny_model, '--output', out, '--batch-size', 4, *ARGS])
    _check_two(out, r, single)
