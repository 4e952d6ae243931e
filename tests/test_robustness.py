"""Safety nets: a loss that stops being finite, the best model and early stopping, and what is never executed."""
import json
import pytest, torch
from transformers import TrainerCallback
from gpt_ft.checkpoint import TrainingDiverged, latest_checkpoint
from gpt_ft.model import load_model, tiny_gpt2
from gpt_ft.train import finetune

class Poison(TrainerCallback):
    "Turn one weight matrix into NaN at the end of step `at`, as a diverging run would."
    def __init__(self, at): self.at = at
    def on_step_end(self, args, state, control, model=None, **kw):
        if state.global_step == self.at:
            with torch.no_grad(): model.transformer.h[0].mlp.c_fc.weight.fill_(float('nan'))

def test_nan_stops_training_and_keeps_the_last_good_checkpoint(tmp_path, tiny_model, news):
    out = tmp_path/'run'
    with pytest.raises(TrainingDiverged, match=r'lower the learning rate \(--lr\)'):
        finetune(news, model=tiny_model, output_dir=out, line_by_line=True, batch_size=8, lr=3e-3, save_steps=2, block_size=64,
                 callbacks=[Poison(at=5)])
    m = json.loads((out/'gpt_ft_run.json').read_text())
    assert m['status'] == 'diverged' and m['step'] == 6
    assert latest_checkpoint(out).name == 'checkpoint-4' and not (out/'model.safetensors').exists()
    good = load_model(latest_checkpoint(out))
    assert all(torch.isfinite(p).all() for p in good.parameters())

def test_best_model_and_patience(tmp_path, tiny_model, news):
    out = tmp_path/'run'
    trainer = finetune(news, model=tiny_model, output_dir=out, line_by_line=True, epochs=2, batch_size=8, lr=3e-3, block_size=64,
                       best=True, patience=1, save_total_limit=1)
    m = json.loads((out/'gpt_ft_run.json').read_text())
    evals = {h['step']: h['eval_loss'] for h in trainer.state.log_history if 'eval_loss' in h and 'step' in h}
    best_step = min(evals, key=evals.get)
    assert m['best']['step'] == best_step and m['best']['eval_loss'] == pytest.approx(evals[best_step])
    assert (out/m['best']['checkpoint']).is_dir()  # retention never deletes the best checkpoint
    assert m['metrics']['eval_loss'] == pytest.approx(evals[best_step], rel=1e-4)  # the final model is the best

def test_remote_code_never_runs_unasked(tmp_path):
    d = tmp_path/'evil'
    tiny_gpt2().save_pretrained(d)
    cfg = json.loads((d/'config.json').read_text())
    cfg['auto_map'] = {'AutoConfig': 'evil.EvilConfig', 'AutoModelForCausalLM': 'evil.EvilModel'}
    (d/'config.json').write_text(json.dumps(cfg))
    flag = tmp_path/'ran'
    (d/'evil.py').write_text(f"open({str(flag)!r}, 'w').write('pwned')\n")
    model = load_model(d)  # the repository's own code is ignored: the model is the standard GPT-2 class
    assert type(model).__name__ == 'GPT2LMHeadModel' and not flag.exists()

def test_pickle_weights_need_a_flag(tmp_path, tiny_model, news):
    d = tmp_path/'pickled'
    m = tiny_gpt2()
    m.config.save_pretrained(d)
    torch.save(m.state_dict(), d/'pytorch_model.bin')
    with pytest.raises(ValueError, match='only pickle weights'): load_model(d)
    assert load_model(d, allow_pickle=True).num_parameters() == m.num_parameters()
