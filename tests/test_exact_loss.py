"""The losses training reports are exact: the same definition as `evaluate` (summed NLL over scored tokens / their
number), checked with independent code on the same blocks; and mixed precision really runs in the precision recorded."""
import json, tempfile
from pathlib import Path
import pytest, torch, torch.nn.functional as F
from transformers import PrinterCallback, Trainer
from gpt_ft.core import CHUNK_TOKENS, InputError, load_tokenizer
from gpt_ft.data import LMCollator, build_datasets
from gpt_ft.model import tiny_gpt2
from gpt_ft.speed import LMTrainer
from gpt_ft.train import finetune, training_args

def reference_loss(model, blocks) -> float:
    "Plain torch: every block alone, shifted cross-entropy summed over all blocks, divided by the targets."
    nll, n = 0., 0
    model.eval()
    with torch.no_grad():
        for ids in blocks['input_ids']:
            x = torch.tensor(ids)[None]
            logits = model(input_ids=x).logits[0, :-1].double()
            nll += F.cross_entropy(logits, x[0, 1:], reduction='sum').item(); n += len(ids) - 1
    return nll / n

def still_model():
    "A tiny GPT-2 without dropout, so a training step's loss is the loss of its weights."
    m = tiny_gpt2(n_layer=1, n_embd=32, n_head=2)
    m.config.resid_pdrop = m.config.embd_pdrop = m.config.attn_pdrop = 0.0
    for mod in m.modules():
        if isinstance(mod, torch.nn.Dropout): mod.p = 0.0
    return m

@pytest.fixture(scope='module', params=['packed', 'one per line'])
def dsets(request):
    news = (Path(__file__).resolve().parent.parent/'examples'/'tech_news.txt').read_text().splitlines()[:40]
    pack = request.param == 'packed'
    return build_datasets(news, load_tokenizer('gpt2'), block_size=40, pack=pack, val_split=0.25)

def trainer(dsets, chunk, cls=LMTrainer, accumulate=1, **kw):
    n = len(dsets['train'])
    args = training_args(tempfile.mkdtemp(), batch_size=n // accumulate, lr=1e-3, device='cpu', precision='fp32',
                         max_steps=1, logging_steps=1, save_strategy='no', disable_tqdm=True,
                         gradient_accumulation_steps=accumulate, per_device_eval_batch_size=3)
    extra = dict(chunk_tokens=chunk) if cls is LMTrainer else {}
    t = cls(model=still_model(), args=args, train_dataset=dsets['train'].select(range(n // accumulate * accumulate)),
            eval_dataset=dsets['validation'], data_collator=LMCollator(50256), **extra, **kw)
    t.remove_callback(PrinterCallback)
    return t

@pytest.mark.parametrize('chunk', [CHUNK_TOKENS, 0])
def test_validation_loss_exact(dsets, chunk):
    t = trainer(dsets, chunk)
    ref = reference_loss(t.model, dsets['validation'])
    assert t.evaluate()['eval_loss'] == pytest.approx(ref, rel=1e-4)

@pytest.mark.parametrize('chunk,accumulate', [(CHUNK_TOKENS, 1), (0, 1), (CHUNK_TOKENS, 2), (0, 2)])
def test_training_loss_exact(dsets, chunk, accumulate):
    "One optimizer step over every training block: the logged loss is the reference loss of the starting weights."
    t = trainer(dsets, chunk, accumulate=accumulate)
    ref = reference_loss(still_model(), t.train_dataset)
    t.train()
    logged = next(h['loss'] for h in t.state.log_history if 'loss' in h)
    assert logged == pytest.approx(ref, rel=1e-4)

def test_plain_trainer_is_low(dsets):
    "Why gpt_ft corrects the count: transformers' own Trainer divides GPT-2's summed loss by targets + rows."
    t = trainer(dsets, 0, cls=Trainer)
    ref = reference_loss(t.model, dsets['validation'])
    assert t.evaluate()['eval_loss'] < ref * (1 - 1e-3)

def test_finetune_reports_evaluates_definition(tmp_path, tiny_model, news):
    "What `finetune` saves as the validation loss is what `evaluate` computes on the same blocks."
    from gpt_ft.metrics import evaluate
    t = finetune(news, model=tiny_model, output_dir=tmp_path/'run', line_by_line=True, batch_size=16, lr=3e-3,
                 precision='fp32', max_steps=3)
    saved = json.loads((tmp_path/'run'/'eval_results.json').read_text())['eval_loss']
    assert saved == pytest.approx(evaluate(tmp_path/'run', t.eval_dataset, device='cpu')['loss'], rel=1e-4)

# ---------------------------------------------------------------- precision
def dtypes_seen(dsets, precision, chunk):
    m, seen = still_model(), set()
    m.transformer.h[0].mlp.c_fc.register_forward_hook(lambda mod, i, out: seen.add(out.dtype))
    args = training_args(tempfile.mkdtemp(), batch_size=4, device='cpu', precision=precision, max_steps=2,
                         save_strategy='no', has_eval=False, disable_tqdm=True)
    t = LMTrainer(model=m, args=args, train_dataset=dsets['train'], data_collator=LMCollator(50256), chunk_tokens=chunk)
    t.remove_callback(PrinterCallback)
    t.train()
    return seen, [h['train_loss'] for h in t.state.log_history if 'train_loss' in h][0]

@pytest.mark.parametrize('chunk', [CHUNK_TOKENS, 0])
def test_dtype_is_what_was_asked(dsets, chunk):
    assert dtypes_seen(dsets, 'fp32', chunk)[0] == {torch.float32}
    assert dtypes_seen(dsets, 'bf16', chunk)[0] == {torch.bfloat16}

def test_bf16_fast_and_plain_agree(dsets):
    (_, fast), (_, plain) = dtypes_seen(dsets, 'bf16', CHUNK_TOKENS), dtypes_seen(dsets, 'bf16', 0)
    assert fast == pytest.approx(plain, rel=2e-2)

def test_fp16_on_cpu_refused():
    "On a CPU the Trainer has no fp16 autocast: asking for it would train in fp32 while saying fp16."
    with pytest.raises(InputError, match='fp16 training needs a GPU'): training_args(tempfile.mkdtemp(), device='cpu', precision='fp16')

@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA device')
def test_fp16_on_cuda_autocasts(dsets):
    m, seen = still_model().cuda(), set()
    m.transformer.h[0].mlp.c_fc.register_forward_hook(lambda mod, i, out: seen.add(out.dtype))
    args = training_args(tempfile.mkdtemp(), batch_size=4, device='cuda', precision='fp16', max_steps=2,
                         save_strategy='no', has_eval=False, disable_tqdm=True)
    LMTrainer(model=m, args=args, train_dataset=dsets['train'], data_collator=LMCollator(50256)).train()
    assert seen == {torch.float16}

def test_manifest_records_what_ran(tmp_path, tiny_model, news):
    "The run records bf16 and trains in bf16 (a hook on the model finetune trains); auto follows the hardware."
    from gpt_ft.model import load_model
    m, seen = load_model(tiny_model, device='cpu'), set()
    m.transformer.h[0].mlp.c_fc.register_forward_hook(lambda mod, i, out: seen.add(out.dtype))
    finetune(news, model=m, tokenizer=load_tokenizer(tiny_model), output_dir=tmp_path/'run', line_by_line=True,
             batch_size=16, precision='bf16', max_steps=2)
    run = json.loads((tmp_path/'run'/'gpt_ft_run.json').read_text())
    assert run['environment']['precision'] == 'bf16' and torch.bfloat16 in seen
    args = json.loads((tmp_path/'run'/'training_args.json').read_text())
    assert args['bf16'] is True
