"LoRA fine-tuning: only adapters train, the loss goes down, and the merged folder equals base + adapters."
import json
import pytest, torch
from peft import PeftModel
from transformers import AutoModelForCausalLM
from gpt_ft.train import finetune

# peft's own PeftModel.from_pretrained, called here to check the adapter, asks for a property transformers 5 deprecates
pytestmark = pytest.mark.filterwarnings('ignore:.*is_gradient_checkpointing:FutureWarning')

@pytest.fixture(scope='module')
def lora_run(tmp_path_factory, tiny_model, news):
    out = tmp_path_factory.mktemp('lora')/'run'
    trainer = finetune(news, model=tiny_model, output_dir=out, line_by_line=True, epochs=2, batch_size=8,
                       block_size=64, lr=1e-2, lora=8)
    return out, trainer

def test_lora_trains_only_adapters_and_lowers_the_loss(lora_run, tiny_model):
    out, trainer = lora_run
    evals = [h['eval_loss'] for h in trainer.state.log_history if 'eval_loss' in h]
    assert evals[-1] < evals[0]
    base = AutoModelForCausalLM.from_pretrained(tiny_model)
    merged = AutoModelForCausalLM.from_pretrained(out)  # a plain model folder, no peft needed
    b, m = base.state_dict(), merged.state_dict()
    adapted = [k for k in b if ('c_attn' in k or 'c_proj' in k) and k.endswith('weight')]
    frozen = [k for k in b if k not in adapted]
    assert adapted and all(torch.equal(b[k], m[k]) for k in frozen)  # everything else is untouched
    assert all(not torch.equal(b[k], m[k]) for k in adapted)        # the adapted layers moved
    adapter = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model), out/'adapter')
    assert any(p.abs().sum() > 0 for n, p in adapter.named_parameters() if 'lora_B' in n)  # B starts at zero
    assert json.loads((out/'adapter'/'adapter_config.json').read_text())['r'] == 8

def test_merged_model_equals_base_plus_adapter(lora_run, tiny_model):
    out, _ = lora_run
    adapter = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model), out/'adapter').eval()
    merged = AutoModelForCausalLM.from_pretrained(out).eval()
    x = torch.randint(0, 50257, (2, 32))
    with torch.no_grad(): torch.testing.assert_close(adapter(input_ids=x).logits, merged(input_ids=x).logits,
                                                     atol=1e-4, rtol=1e-4)

def test_cli_lora(cli, tmp_path, tiny_model, news):
    out = tmp_path/'run'
    r = cli('train', news, '--model', tiny_model, '--output', out, '--line-by-line', '--epochs', 0.5,
            '--block-size', 64, '--lora', 4, '--lora-targets', 'c_attn', '--no-report')
    assert r.returncode == 0, r.stderr
    assert json.loads((out/'adapter'/'adapter_config.json').read_text())['target_modules'] == ['c_attn']
    r = cli('train', news, '--model', tiny_model, '--output', tmp_path/'bad', '--lora', -1)
    assert r.returncode == 2 and 'lora must be at least 0' in r.stderr and not (tmp_path/'bad').exists()
