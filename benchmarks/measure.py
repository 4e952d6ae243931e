"""Measuring instruments that check gpt_ft's memory planner against real training: not part of the package.

    python benchmarks/measure.py < runs.json   # one peak (bytes) per line, for runs as `measure_peak` writes them

`saved_bytes` counts what a forward pass leaves for the backward pass (the memory gradient checkpointing saves);
`measure_peak` runs a few real training steps on this machine's CPU for each run, each in a forked child of a
process that has already loaded the code a step needs, and reads the child's peak resident memory. Used by
`nbs/02_model.ipynb`, `nbs/08_planner.ipynb`, `tests/test_plan.py` and `tests/test_memory.py`.
"""
from __future__ import annotations
import json, os, resource, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

def saved_bytes(
    model,     # A causal language model
    input_ids, # `(batch, tokens)` token ids; the labels are the same ids
)->int:        # Bytes of the tensors autograd keeps for the backward pass, weights excluded
    "Bytes that one training forward pass of `model` leaves for its backward pass."
    import torch
    weights = {p.untyped_storage().data_ptr() for p in model.parameters()}
    kept = {}
    def pack(t):
        s = t.untyped_storage()
        if s.data_ptr() not in weights: kept[s.data_ptr()] = s.nbytes()
        return t
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t): model(input_ids=input_ids, labels=input_ids)
    return sum(kept.values())

def _maxrss()->int: return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == 'darwin' else 1024)

def train_peak(
    run:dict, # config (a GPT2Config dict), batch_size, block_size, lora, lora_targets, grad_ckpt, freeze_..., chunk,
              # fused_gelu, fast_dropout, steps
)->int:       # Bytes the process's peak resident memory grew by
    """Train as gpt_ft does (AdamW, fused; clipping; the chunked loss when `chunk`; the one-kernel GELU when
    `fused_gelu`; dropout and attention as `LMTrainer` on a CPU when `fast_dropout`) for `steps` steps, from a fresh
    model."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel
    from gpt_ft.model import add_lora, freeze
    from gpt_ft.speed import chunked_lm_loss, lmtrainer_setup
    torch.manual_seed(0)
    x = torch.randint(0, run['config']['vocab_size'], (run['batch_size'], run['block_size']))
    base = _maxrss()
    model = GPT2LMHeadModel(GPT2Config.from_dict(run['config']))
    if run['lora']: model = add_lora(model, run['lora'], targets=run['lora_targets'])
    lmtrainer_setup(model, run.get('fused_gelu', True), run.get('fast_dropout', True))  # as LMTrainer, given the adapters
    if run['freeze_embeddings'] or run['freeze_layers']: freeze(model, run['freeze_embeddings'], run['freeze_layers'])
    if run['grad_ckpt']: (model.get_base_model() if run['lora'] else model).activation_checkpointing_enable()
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4, fused=True)
    for _ in range(run['steps']):
        if run['chunk']:  # as LMTrainer computes it
            m = model.get_base_model() if run['lora'] else model
            loss = chunked_lm_loss(m.transformer(input_ids=x).last_hidden_state, m.lm_head.weight, x, chunk=run['chunk'])
        else: loss = model(input_ids=x, labels=x).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad()
    return _maxrss() - base

def _warm_up(run:dict):
    "Load the code and libraries every kind of step needs, on a tiny model, so that the children measure only the run."
    from transformers import GPT2Config
    tiny = GPT2Config(n_layer=2, n_embd=32, n_head=2, vocab_size=512, bos_token_id=0, eos_token_id=0).to_dict()
    for lora in (0, 4):
        for ckpt in (False, True):
            for chunk in (0, 8):
                train_peak(dict(run, config=tiny, batch_size=2, block_size=16, lora=lora, lora_targets=None,
                                grad_ckpt=ckpt, freeze_embeddings=True, freeze_layers=1, chunk=chunk))

def _forked(run:dict)->str:
    "The run's peak, measured in a forked child: its bytes, or 'failed'."
    r, w = os.pipe()
    if (pid := os.fork()) == 0:
        os.close(r)
        os.write(w, str(train_peak(run)).encode())
        os._exit(0)
    os.close(w)
    status, out = os.waitpid(pid, 0)[1], os.read(r, 100).decode()
    os.close(r)
    return out if status == 0 and out else 'failed'

def measure_peak(
    runs:list,          # Dicts of `plan` arguments: model, block_size, batch_size, lora, grad_ckpt, freeze_..., chunk, fused_gelu,
                        #   fast_dropout
    steps:int=2,        # Training steps per run
    trim:bool=True,     # Give freed memory back to the system at once, so that RSS follows the bytes in tensors
    timeout:float=900,  # Seconds for all the runs
)->list:                # Peak bytes of each run
    "Measure the peak memory of a few training steps on this machine's CPU, for each run, in a fresh process."
    from gpt_ft.core import CHUNK_TOKENS
    from gpt_ft.planner import model_config
    if not hasattr(os, 'fork'): raise RuntimeError("measure_peak needs Linux or macOS")
    if not runs: return []
    specs = []
    for run in runs:
        run = dict(dict(model='gpt2', block_size=128, batch_size=1, lora=0, lora_targets=None, grad_ckpt=False,
                        freeze_embeddings=False, freeze_layers=0, chunk=CHUNK_TOKENS, fused_gelu=True, fast_dropout=True), **run)
        specs.append(dict(run, config=model_config(run.pop('model')).to_dict(), steps=steps))
    env = {k: v for k, v in os.environ.items() if not k.startswith('MALLOC_')}  # glibc's tunables would change RSS
    env.update(TRANSFORMERS_VERBOSITY='error', PYTHONPATH=os.pathsep.join([str(ROOT), env.get('PYTHONPATH', '')]),
               **({'MALLOC_MMAP_THRESHOLD_': '65536'} if trim else {}))
    out = subprocess.run([sys.executable, __file__], input=json.dumps(specs), capture_output=True, text=True, env=env,
                         timeout=timeout)
    if out.returncode or 'failed' in out.stdout.split(): raise RuntimeError(
        f"a measuring process failed (out of memory?):\n{out.stderr[-3000:]}")
    return [int(line) for line in out.stdout.split()]

if __name__ == '__main__':
    import torch
    torch.set_num_threads(1)
    runs = json.loads(sys.stdin.read())
    _warm_up(runs[0])
    for run in runs: print(_forked(run), flush=True)
