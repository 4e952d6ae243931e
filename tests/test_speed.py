"The speed levers give the same results as the plain path, and each can be switched off."
import json, os, subprocess, sys, tempfile, warnings
from pathlib import Path
import pytest, torch
from transformers import AutoConfig, AutoModelForCausalLM, PrinterCallback
from gpt_ft.core import CHUNK_TOKENS, InputError, load_tokenizer
from gpt_ft.data import LMCollator, build_datasets
from gpt_ft.model import add_lora, cpu_bf16, pick_precision, tiny_gpt2
from gpt_ft.speed import CHUNKED_TYPES, LMTrainer, NO_MALLOC_TUNING, chunked_lm_loss, speed_kwargs, tune_malloc
from gpt_ft.train import finetune, training_args

warnings.filterwarnings('ignore', message='.*is_gradient_checkpointing')

def batch(vocab=50257, b=3, t=24, seed=0):
    "Token ids and labels with padding (-100) in two rows."
    ids = torch.randint(0, vocab, (b, t), generator=torch.Generator().manual_seed(seed))
    labels = ids.clone(); labels[1, 15:] = -100; labels[2, 3:] = -100
    return ids, labels

def plain_and_chunked(model, ids, labels, chunk, num_items=None, body=None):
    "Loss and gradients from the model's own loss and from `chunked_lm_loss`."
    body = body or getattr(model, model.base_model_prefix)
    out = []
    for chunked in (False, True):
        model.zero_grad()
        kw = {} if num_items is None else dict(num_items_in_batch=num_items)
        if chunked: loss = chunked_lm_loss(body(input_ids=ids).last_hidden_state, model.get_output_embeddings().weight,
                                           labels, num_items, chunk)
        else: loss = model(input_ids=ids, labels=labels, **kw).loss
        loss.backward()
        out.append((loss.item(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}))
    return out

def assert_same(a, b, rtol=1e-5):
    assert a[0] == pytest.approx(b[0], rel=rtol)
    assert a[1].keys() == b[1].keys() and a[1]
    for k in a[1]:
        scale = b[1][k].abs().max().item() or 1.0
        assert (a[1][k] - b[1][k]).abs().max().item() <= rtol * 10 * scale, k

@pytest.fixture(scope='module')
def gpt2(): return tiny_gpt2(n_layer=1, n_embd=32, n_head=2).eval()

@pytest.mark.parametrize('chunk', [1, 7, 1024])
@pytest.mark.parametrize('num_items', [None, 50])
def test_chunked_matches_model_loss(gpt2, chunk, num_items):
    plain, chunked = plain_and_chunked(gpt2, *batch(), chunk, num_items)
    assert_same(chunked, plain)

def test_chunked_under_bf16_autocast(gpt2):
    with torch.autocast('cpu', dtype=torch.bfloat16):
        plain, chunked = plain_and_chunked(gpt2, *batch(), 16)
    assert chunked[0] == pytest.approx(plain[0], rel=1e-2)
    for k in plain[1]: assert (chunked[1][k] - plain[1][k]).abs().max() <= 0.05 * plain[1][k].abs().max(), k

def test_chunked_without_grad_and_all_ignored(gpt2):
    ids, labels = batch()
    with torch.no_grad():
        h = gpt2.transformer(input_ids=ids).last_hidden_state
        assert chunked_lm_loss(h, gpt2.lm_head.weight, labels, chunk=5).item() == pytest.approx(
            gpt2(input_ids=ids, labels=labels).loss.item(), rel=1e-5)
        assert chunked_lm_loss(h, gpt2.lm_head.weight, torch.full_like(labels, -100), num_items=1).item() == 0

def test_bad_chunk(gpt2):
    ids, labels = batch()
    with pytest.raises(InputError, match='chunk must be at least 1'):
        chunked_lm_loss(gpt2.transformer(input_ids=ids).last_hidden_state, gpt2.lm_head.weight, labels, chunk=0)

def tiny(model_type):
    "A tiny random model of `model_type` with a 1,000-token vocabulary."
    kw = dict(vocab_size=1000, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
              max_position_embeddings=64, tie_word_embeddings=model_type == 'gpt_neo')
    if model_type in ('gpt_neo',): kw.update(attention_types=[[['global'], 1]], num_layers=1, num_heads=2)
    if model_type in ('llama', 'mistral', 'qwen2'): kw.update(num_key_value_heads=2)
    if model_type == 'gpt2': kw = dict(vocab_size=1000, n_embd=32, n_layer=1, n_head=2, n_positions=64)
    torch.manual_seed(0)
    return AutoModelForCausalLM.from_config(AutoConfig.for_model(model_type, **kw)).eval()

@pytest.mark.parametrize('model_type', sorted(CHUNKED_TYPES))
def test_every_chunked_type(model_type):
    model = tiny(model_type)
    plain, chunked = plain_and_chunked(model, *batch(vocab=1000), 10)
    assert_same(chunked, plain)

# ---------------------------------------------------------------- with the Trainer
@pytest.fixture(scope='module')
def dsets():
    news = (Path(__file__).resolve().parent.parent/'examples'/'tech_news.txt').read_text().splitlines()[:60]
    return build_datasets(news, load_tokenizer('gpt2'), block_size=48, pack=False)

def own_loss(**kw):
    "The model's own loss over the full logits, with the exact token count that `LMTrainer` always uses."
    return LMTrainer(chunk_tokens=0, **kw)

def run(dsets, cls=own_loss, lora=0, steps=4, args_kw={}, **kw):
    "Losses of `steps` training steps, the validation loss, and the trainer."
    model = tiny_gpt2(n_layer=1, n_embd=32, n_head=2)
    if lora: model = add_lora(model, lora)
    args_kw = dict(dict(precision='fp32'), **args_kw)  # the same numbers on every CPU, bf16 or not
    args = training_args(tempfile.mkdtemp(), batch_size=8, lr=1e-3, device='cpu', max_steps=steps, logging_steps=1,
                         eval_steps=steps, save_strategy='no', disable_tqdm=True, **args_kw)
    t = cls(model=model, args=args, train_dataset=dsets['train'], eval_dataset=dsets['validation'],
            data_collator=LMCollator(50256), **kw)
    t.remove_callback(PrinterCallback)
    t.train()
    return [h['loss'] for h in t.state.log_history if 'loss' in h], t.evaluate()['eval_loss'], t

@pytest.mark.parametrize('lora,accumulate', [(0, 1), (4, 1), (0, 2)])
def test_trainer_same_losses(dsets, lora, accumulate):
    kw = dict(lora=lora, args_kw=dict(gradient_accumulation_steps=accumulate))
    plain, chunked = run(dsets, **kw), run(dsets, LMTrainer, **kw)
    assert chunked[2].chunked_parts(chunked[2].model, dict(input_ids=0, labels=0)) is not None
    assert chunked[0] == pytest.approx(plain[0], rel=1e-4)
    assert chunked[1] == pytest.approx(plain[1], rel=1e-4)

def test_trainer_switched_off_and_fallbacks(dsets):
    losses, _, t = run(dsets, LMTrainer, steps=1, chunk_tokens=0)
    assert t.chunked_parts(t.model, dict(input_ids=0, labels=0)) is None
    _, _, t = run(dsets, LMTrainer, steps=1, args_kw=dict(label_smoothing_factor=0.1))
    assert t.chunked_parts(t.model, dict(input_ids=0, labels=0)) is None
    assert t.chunked_parts(t.model, dict(input_ids=0, labels=0, inputs_embeds=0)) is None
    # predictions that need the logits get them
    preds = t.predict(dsets['validation'].select(range(2)))
    assert preds.predictions.shape[-1] == 50257
    with pytest.raises(InputError, match='chunk_tokens must be at least 0'): LMTrainer(model=t.model, args=t.args, chunk_tokens=-1)

def test_fused_adamw_same_losses(dsets):
    plain = run(dsets, LMTrainer, args_kw=dict(optim='adamw_torch'))
    fused = run(dsets, LMTrainer, args_kw=speed_kwargs('cpu'))
    assert fused[2].args.optim == 'adamw_torch_fused'
    assert fused[0] == pytest.approx(plain[0], rel=1e-4)
    assert fused[1] == pytest.approx(plain[1], rel=1e-4)

def test_trainer_compiled_loss(dsets, monkeypatch):
    "The compiled loss (long CPU runs' default) trains to the same numbers; a short run does not wait for the compiler."
    import gpt_ft.speed as speed
    calls, fused_logit_grad = [], speed.fused_logit_grad
    monkeypatch.setattr(speed, 'fused_logit_grad', lambda z, y: calls.append(len(z)) or fused_logit_grad(z, y))
    monkeypatch.delenv(speed.COMPILE_LOSS, raising=False)
    plain = run(dsets, LMTrainer, compile_loss=False)
    assert not calls
    fused = run(dsets, LMTrainer, compile_loss=True)
    assert calls and speed._compiled['cpu'] is not None, 'the compiled loss did not run compiled'
    assert fused[0] == pytest.approx(plain[0], rel=1e-4)
    assert fused[1] == pytest.approx(plain[1], rel=1e-4)
    _, _, t = run(dsets, LMTrainer, steps=1)  # the default, on a short run
    labels = torch.zeros(8, 48, dtype=torch.long)
    assert not t.fused_loss(labels)
    t.state.max_steps = speed.COMPILE_MIN_TOKENS // labels.numel() + 1
    assert not t.args.bf16 and not t.fused_loss(labels)  # a long run in fp32: compiling measured no faster
    t.args.bf16 = True
    assert t.fused_loss(labels)                          # a long run in bf16

@pytest.mark.skipif(not cpu_bf16(), reason='this CPU has no native bf16')
def test_trainer_bf16_close_to_plain(dsets):
    plain = run(dsets, args_kw=dict(precision='bf16'))
    chunked = run(dsets, LMTrainer, args_kw=dict(precision='bf16'))
    assert chunked[2].args.bf16 and chunked[1] == pytest.approx(plain[1], rel=2e-2)

def test_finetune_fast_by_default_and_switched_off(tmp_path, tiny_model, news, monkeypatch):
    "finetune trains with the chunked loss unless fast=False or GPT_FT_NO_FAST=1, to the same validation losses, and says which."
    kw = dict(model=tiny_model, line_by_line=True, batch_size=16, lr=3e-3, precision='fp32')
    fast, plain = finetune(news, output_dir=tmp_path/'fast', **kw), finetune(news, output_dir=tmp_path/'plain', fast=False, **kw)
    monkeypatch.setenv('GPT_FT_NO_FAST', '1')
    env = finetune(news, output_dir=tmp_path/'env', max_steps=1, **kw)
    assert (fast.chunk_tokens, plain.chunk_tokens, env.chunk_tokens) == (CHUNK_TOKENS, 0, 0)
    evals = [[h['eval_loss'] for h in t.state.log_history if 'eval_loss' in h] for t in (fast, plain)]
    assert len(evals[0]) >= 2 and evals[0] == pytest.approx(evals[1], rel=1e-3)
    assert [json.loads((tmp_path/d/'gpt_ft_run.json').read_text())['config']['fast'] for d in ('fast', 'plain', 'env')] == [True, False, False]
    assert [type(t.model.transformer.h[0].mlp.act).__name__ for t in (fast, plain)] == ['GELUTanh', 'NewGELUActivation']
    # trained with the fused GELU, saved as GPT-2: plain transformers computes the same logits with its own gelu_new
    loaded, ids = AutoModelForCausalLM.from_pretrained(tmp_path/'fast').eval(), torch.arange(40)[None]
    assert type(loaded.transformer.h[0].mlp.act).__name__ == 'NewGELUActivation'
    with torch.no_grad(): torch.testing.assert_close(loaded(ids).logits, fast.model.eval()(ids).logits, rtol=1e-4, atol=1e-4)

def test_cli_no_fast(cli, tmp_path, tiny_model, news):
    r = cli('train', news, '--model', tiny_model, '--output', tmp_path/'run', '--line-by-line', '--epochs', 0.3,
            '--no-fast', '--no-report')
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path/'run'/'gpt_ft_run.json').read_text())['config']['fast'] is False

# ---------------------------------------------------------------- allocator, precision
_child = """
import os, resource, sys, torch
from gpt_ft.model import tiny_gpt2
from gpt_ft.speed import chunked_lm_loss, tune_malloc
print(tune_malloc())
m = tiny_gpt2(n_layer=1, n_embd=32, n_head=2)
ids = torch.randint(0, 50257, (16, 128))
peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024

def growth(step)->int:
    "MB of peak-memory growth of `step`, in a forked child (whose peak starts at its own size, not its parent's)."
    r, w = os.pipe()
    if os.fork() == 0:
        base = peak(); step(); os.write(w, str(peak() - base).encode()); os._exit(0)
    os.close(w); os.wait()
    return int(os.read(r, 64))

chunked = growth(lambda: chunked_lm_loss(m.transformer(input_ids=ids).last_hidden_state, m.lm_head.weight, ids).backward())
plain = growth(lambda: m(input_ids=ids, labels=ids).loss.backward())
print(chunked, plain)
"""

@pytest.fixture(scope='module')
def child():
    "A fresh process with the allocator tuning switched off from the environment: what tune_malloc said, and the peak-memory growth of one forward and backward at batch 16 x 128, chunked first, then plain."
    r = subprocess.run([sys.executable, '-c', _child], capture_output=True, text=True, check=True,
                       env={**os.environ, NO_MALLOC_TUNING: '1'})
    tuned, chunked, plain = r.stdout.split()
    return dict(tuned=tuned, chunked=int(chunked), plain=int(plain))

def test_tune_malloc_idempotent_and_switches(child):
    first = tune_malloc()
    assert isinstance(first, bool) and tune_malloc() is first
    assert tune_malloc(enable=False) is False
    assert child['tuned'] == 'False'  # GPT_FT_NO_MALLOC_TUNING=1

def test_precision_choice():
    assert cpu_bf16('fpu avx2') is False and cpu_bf16('avx2 avx512_bf16') is True and cpu_bf16('amx_bf16') is True
    assert pick_precision('cpu') == ('bf16' if cpu_bf16() else 'fp32')
    assert pick_precision('mps') == 'fp32'

def test_chunked_lowers_peak_memory(child):
    "The full logits at batch 16 x 128 are 411 MB, and the plain path holds them, their softmax and their gradient."
    assert child['plain'] > 800 and child['chunked'] < child['plain'] / 3, child
