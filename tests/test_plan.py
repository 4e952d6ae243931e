"The memory planner: its counts against real models and measured peak memory, its report, and bad input."
import pytest, torch
from transformers import GPT2Config, GPT2LMHeadModel
from gpt_ft.core import InputError
from gpt_ft.model import add_lora, freeze, tiny_gpt2
from gpt_ft.speed import lmtrainer_setup
from measure import measure_peak, saved_bytes
from gpt_ft.planner import (DEVICES, GiB, SHAPES, Device, block_activations, cpu_device, model_config,
                         param_counts, plan, plan_report, plan_table, train_flops)

# Three shapes with the model's own loss, each dominated by another part: the logits, the activations, the weights and
# optimizer state; then the first and the last with gpt_ft's chunked loss.
CHECKED = [dict(model=GPT2Config(n_layer=2, n_embd=64, n_head=2), batch_size=8, block_size=256, chunk=0),
           dict(model=GPT2Config(n_layer=4, n_embd=256, n_head=8, vocab_size=8192, bos_token_id=0, eos_token_id=0), batch_size=4, block_size=256, chunk=0),
           dict(model='distilgpt2', batch_size=2, block_size=128, chunk=0),
           dict(model=GPT2Config(n_layer=2, n_embd=64, n_head=2), batch_size=8, block_size=256),
           dict(model='distilgpt2', batch_size=2, block_size=128)]

@pytest.fixture(scope='module')
def measured(): return measure_peak(CHECKED)

@pytest.mark.parametrize('i', range(len(CHECKED)))
def test_estimate_within_25_percent_of_the_measured_peak(measured, i):
    p = plan(gpu='CPU', precision='fp32', **CHECKED[i])
    estimate = p.total - p.parts['workspace']  # the process's own memory is not part of the measurement
    assert estimate / measured[i] == pytest.approx(1, abs=0.25), (p.peak_at, estimate, measured[i])

def test_the_checked_shapes_peak_for_different_reasons():
    tensors = [{k: v for k, v in plan(gpu='CPU', precision='fp32', **s).parts.items() if k != 'workspace'} for s in CHECKED]
    assert [max(t, key=t.get) for t in tensors] == ['logits', 'activations', 'optimizer', 'logits', 'optimizer']

def test_the_chunked_loss_lowers_the_measured_peak_as_planned(measured):
    "The tiny model at batch 8 x 256 is dominated by its logits: the chunked loss cuts its peak by three quarters."
    assert measured[3] < measured[0] / 3
    assert plan(gpu='CPU', precision='fp32', **CHECKED[3]).parts['logits'] < plan(gpu='CPU', precision='fp32', **CHECKED[0]).parts['logits'] / 3

def test_parameter_counts_match_real_models():
    assert param_counts(model_config('gpt2'))['total'] == 124_439_808
    assert param_counts(model_config('gpt2-medium'))['total'] == 354_823_168
    m = tiny_gpt2(n_layer=3)
    assert param_counts(m.config)['total'] == m.num_parameters()
    freeze(m, embeddings=True, layers=2)
    assert param_counts(m.config, freeze_embeddings=True, freeze_layers=2)['trainable'] == \
        m.num_parameters(only_trainable=True)
    for targets in (None, ['c_attn'], ['c_fc', 'mlp.c_proj']):
        lm = add_lora(tiny_gpt2(n_layer=2), 4, targets=targets)
        assert param_counts(lm.config, 4, targets)['trainable'] == sum(p.numel() for p in lm.parameters() if p.requires_grad)

@pytest.mark.parametrize('pdrop', [0.1, 0.0])
@pytest.mark.parametrize('fast', [True, False])
@pytest.mark.parametrize('fused', [True, False])
@pytest.mark.parametrize('setup', ['full', 'frozen', 'lora', 'lora, no dropout'])
def test_block_activations_equal_what_autograd_keeps_on_cpu(setup, fused, fast, pdrop):
    B, T = 2, 80
    cfg = GPT2Config(n_embd=96, n_head=4, attn_pdrop=pdrop, resid_pdrop=pdrop, embd_pdrop=pdrop)
    def kept(n_layer):
        torch.manual_seed(0)
        m = GPT2LMHeadModel(GPT2Config.from_dict({**cfg.to_dict(), 'n_layer': n_layer})).train()
        if setup == 'frozen': freeze(m, layers=1)
        if setup.startswith('lora'):  # an adapter in every block but the first one's input
            m = add_lora(m, 8, targets=['c_fc'], dropout=0.0 if 'no dropout' in setup else 0.05)
        lmtrainer_setup(m, fused, fast)  # as LMTrainer trains on a CPU
        return saved_bytes(m, torch.randint(0, 50257, (B, T), generator=torch.Generator().manual_seed(0)))
    one_block = kept(3) - kept(2)  # the third block's bytes (never frozen)
    lora = setup.startswith('lora')
    ins = param_counts(cfg, 8, ['c_fc'])['lora_inputs'] if lora else ()
    assert one_block == B * T * block_activations(cfg, cpu_device(), 'fp32', T, not lora, 8 if lora else 0, ins, fused,
                                                  fast, 0.0 if 'no dropout' in setup else 0.05)

def test_known_cases_on_a_t4():
    slow = dict(chunk=0, fused_gelu=False)  # as --no-fast trains: the model's own loss, GPT-2's own gelu_new
    p = plan('gpt2-medium', 'T4', block_size=512, batch_size=8, **slow)
    assert p.precision == 'fp16' and not p.fits and 0 < p.max_batch < 8
    assert plan('gpt2-medium', 'T4', batch_size=p.max_batch, **slow).fits and not plan('gpt2-medium', 'T4', batch_size=p.max_batch + 1, **slow).fits
    assert set(p.options) == {'--grad-ckpt', '--lora 8', '--lora 8 --grad-ckpt'}
    assert plan('gpt2-medium', 'T4', grad_ckpt=True, **slow).fits and plan('gpt2', 'T4', **slow).fits
    fast = plan('gpt2-medium', 'T4', block_size=512, batch_size=8)  # as gpt_ft trains
    assert fast.fits and fast.max_batch > p.max_batch and fast.parts['logits'] < p.parts['logits'] / 5
    assert fast.parts['activations'] < p.parts['activations'] / 2  # the one-kernel GELU keeps one tensor, not four
    assert not plan('gpt2-large', 'T4').fits
    xl = plan('gpt2-xl', 'T4', batch_size=1)
    assert not xl.fits and xl.max_batch == 0 and xl.parts['weights'] + xl.parts['optimizer'] > 17 * GiB  # 12 B/param
    assert plan('gpt2-xl', 'A100-80', batch_size=1).fits
    assert plan('gpt2', 'A100-40').precision == 'bf16' and plan('gpt2', 'T4', precision='fp32').parts['weight_casts'] == 0

def test_mixed_precision_counts_16_bytes_per_trainable_parameter():
    p = plan('gpt2', 'T4', batch_size=1, block_size=64)
    n = param_counts(model_config('gpt2'))['total']
    step = {k: v for k, v in p.parts.items()}
    assert step['weights'] == 4 * n and step['optimizer'] == 8 * n  # fp32 master weights, AdamW's two moments
    assert p.peak_at == 'backward, embeddings' and step['gradients'] >= 4 * n

def test_levers_lower_their_parts():
    base = plan('gpt2-large', 'L4')
    assert plan('gpt2-large', 'L4', grad_ckpt=True).parts['activations'] < 0.1 * base.parts['activations']
    assert plan('gpt2-large', 'L4', lora=8).parts['optimizer'] < 0.01 * base.parts['optimizer']
    frozen = plan('gpt2-large', 'L4', freeze_embeddings=True, freeze_layers=18)
    assert frozen.trainable < base.trainable / 2 and frozen.parts['optimizer'] == 8 * frozen.trainable

def test_time_per_epoch():
    p = plan('gpt2', 'T4', tokens=10_000_000, block_size=1024, batch_size=1)
    assert p.hours == pytest.approx(10_000_000 * train_flops(model_config('gpt2'), 1024) / (65e12 * 0.25) / 3600)
    assert plan('gpt2', 'T4', tokens=10_000_000, block_size=1024, batch_size=1, grad_ckpt=True).hours > p.hours
    assert plan('gpt2', 'T4', tokens=10_000_000, block_size=1024, batch_size=1, lora=8).hours < p.hours
    assert plan('gpt2', 'T4').hours is None

def test_models_from_folders_configs_and_objects(tmp_path):
    tiny_gpt2(n_layer=3).save_pretrained(tmp_path)
    assert plan(tmp_path, 'T4', block_size=128).params == tiny_gpt2(n_layer=3).num_parameters()
    assert plan(tiny_gpt2(n_layer=3), 'CPU', block_size=128).params == plan(str(tmp_path), 'CPU', block_size=128).params
    assert plan('openai-community/gpt2', 'T4').params == plan('gpt2', 'T4').params

def test_bad_input_names_the_problem_and_the_fix(tmp_path):
    with pytest.raises(InputError, match=r"unknown gpu 'V100'\. Fix: use one of T4, L4"): plan('gpt2', 'V100')
    with pytest.raises(InputError, match='neither a known model.*Fix'): plan('gpt-5')
    with pytest.raises(InputError, match=r'context of 1024 tokens. Fix: pass block_size=1024 \(--block-size 1024\) or less'):
        plan('gpt2', block_size=2048)
    with pytest.raises(InputError, match='--freeze-layers 11 or less'): plan('gpt2', freeze_layers=12)
    with pytest.raises(InputError, match='T4 does not train in bf16. Fix: use --precision fp32 or fp16'):
        plan('gpt2', 'T4', precision='bf16')
    with pytest.raises(InputError, match='batch_size must be at least 1'): plan('gpt2', batch_size=0)
    with pytest.raises(InputError, match='chunk_tokens must be at least 0'): plan('gpt2', chunk=-1)
    with pytest.raises(InputError, match='LoRA target'): plan('gpt2', lora=8, lora_targets=['q_proj'])
    GPT2Config(n_layer=2).save_pretrained(tmp_path/'ok')
    (tmp_path/'llama').mkdir()
    (tmp_path/'llama'/'config.json').write_text('{"model_type": "llama"}')
    with pytest.raises(InputError, match="GPT-2 architecture only, not 'llama'"): plan(tmp_path/'llama')

def test_report_and_table():
    report = plan_report(plan('gpt2-large', 'T4', tokens=1_000_000))
    for part in ('weights', 'weight casts', 'gradients', 'optimizer', 'activations', 'logits', 'workspace', 'total'):
        assert f'\n  {part} ' in report
    assert 'does NOT fit' in report and 'largest batch that fits: ' in report and 'time per epoch' in report
    assert 'fits (peak' in plan_report(plan('gpt2', 'T4'))
    table = plan_table(['gpt2', 'gpt2-xl'])
    assert table.count('\n') == 3 and '| gpt2-xl | 1,558M |' in table and '✗' in table

def test_a_device_of_your_own():
    mine = Device('RTX 4090', 23.6 * GiB, {'fp32': 82.6, 'fp16': 165, 'bf16': 165})
    assert plan('gpt2-medium', mine).gpu == 'RTX 4090' and plan('gpt2-medium', mine).precision == 'bf16'
    assert set(DEVICES) == {'T4', 'L4', 'A100-40', 'A100-80', 'H100'} and set(SHAPES) >= {'gpt2', 'gpt2-xl'}
