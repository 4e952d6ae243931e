"Memory levers: freezing, gradient checkpointing and gradient accumulation change memory and nothing else."
import pytest, torch
from datasets import Dataset
from transformers import GPT2Config
from gpt_ft.core import InputError, load_tokenizer
from gpt_ft.model import accumulation, add_lora, freeze, tiny_gpt2
from gpt_ft.planner import plan
from measure import measure_peak, saved_bytes
from gpt_ft.train import make_trainer, training_args

def blocks(n=64, T=32, seed=0):
    "A training set of `n` random blocks of `T` tokens."
    g = torch.Generator().manual_seed(seed)
    return {'train': Dataset.from_dict({'input_ids': torch.randint(0, 50257, (n, T), generator=g).tolist()})}

def train(model, tmp_path, batch_size=8, steps=None, **kw):
    "Train `model` with gpt_ft's Trainer on CPU; return the trainer."
    args = training_args(tmp_path, epochs=1, batch_size=batch_size, lr=1e-3, has_eval=False, device='cpu',
                         precision='fp32', logging_steps=1, **({'max_steps': steps} if steps else {}), **kw)
    trainer = make_trainer(model, load_tokenizer('gpt2'), blocks(), args)
    trainer.train()
    return trainer

def no_dropout(model):
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout): m.p = 0.0
    return model

# --- freezing

def test_freeze_keeps_frozen_weights_bit_identical_and_shrinks_the_optimizer(tmp_path):
    model = tiny_gpt2(n_layer=4)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    counts = freeze(model, embeddings=True, layers=2)
    assert model.lm_head.weight.requires_grad is False  # tied to the token embeddings
    trainer = train(model, tmp_path, steps=3)
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert frozen == {'transformer.wte.weight', 'transformer.wpe.weight'} | \
        {n for n, _ in model.named_parameters() if n.startswith(('transformer.h.0.', 'transformer.h.1.'))}
    after = dict(model.named_parameters())
    assert all(torch.equal(before[n], after[n]) for n in frozen)
    assert all(not torch.equal(before[n], after[n]) for n in after if n not in frozen)
    state = sum(t.numel() for s in trainer.optimizer.state.values() for t in s.values() if t.dim())
    assert state == 2 * counts['trainable'] and counts['trainable'] < 0.05 * model.num_parameters()
    full = train(tiny_gpt2(n_layer=4), tmp_path/'full', steps=1)
    assert sum(t.numel() for s in full.optimizer.state.values() for t in s.values() if t.dim()) == 2 * model.num_parameters()

def test_freeze_counts_and_errors():
    model = tiny_gpt2(n_layer=3)
    counts = freeze(model, layers=1)
    assert counts['frozen'] == sum(p.numel() for p in model.transformer.h[0].parameters())
    assert counts['trainable'] + counts['frozen'] == model.num_parameters()
    with pytest.raises(InputError, match=r'3 transformer blocks.*Fix: use --freeze-layers 2 or less'): freeze(model, layers=3)
    with pytest.raises(InputError, match='--freeze-layers'): freeze(model, layers=-1)
    with pytest.raises(InputError, match='cannot find the transformer blocks'): freeze(torch.nn.Linear(2, 2), layers=1)

def test_freeze_under_lora_freezes_the_lower_adapters():
    model = add_lora(tiny_gpt2(n_layer=4), 4)
    before = sum(p.numel() for p in model.parameters() if p.requires_grad)
    counts = freeze(model, layers=1)
    assert counts['trainable'] == before * 3 // 4
    assert not any(p.requires_grad for n, p in model.named_parameters() if '.h.0.' in n)

# --- gradient checkpointing

def loss_grads(model, ckpt, x):
    if ckpt: (model.get_base_model() if hasattr(model, 'get_base_model') else model).activation_checkpointing_enable()
    model.train()
    torch.manual_seed(1)  # the same dropout masks in both runs
    loss = model(input_ids=x, labels=x).loss
    loss.backward()
    return loss.item(), {n: p.grad for n, p in model.named_parameters() if p.requires_grad}

@pytest.mark.parametrize('setup', ['full', 'lora', 'frozen embeddings'])
def test_checkpointing_gives_the_same_loss_and_gradients(setup):
    def make():
        m = tiny_gpt2(n_layer=3)
        if setup == 'lora':
            m = add_lora(m, 4)
            for n, p in m.named_parameters():  # B starts at 0; give the adapters' A a gradient
                if 'lora_B' in n: p.data.normal_(0, 0.02)
        if setup == 'frozen embeddings': freeze(m, embeddings=True)
        return m
    x = torch.randint(0, 50257, (2, 64), generator=torch.Generator().manual_seed(0))
    (l0, g0), (l1, g1) = loss_grads(make(), False, x), loss_grads(make(), True, x)
    assert l0 == pytest.approx(l1, rel=1e-6)
    assert g0.keys() == g1.keys() and all(g1[n] is not None for n in g1)  # gradients reach every block
    for n in g0: torch.testing.assert_close(g0[n], g1[n], rtol=1e-4, atol=1e-6)

def test_checkpointing_keeps_less_for_the_backward_pass():
    x = torch.randint(0, 50257, (2, 64), generator=torch.Generator().manual_seed(0))
    plain, ckpt = tiny_gpt2(n_layer=4).train(), tiny_gpt2(n_layer=4).train()
    ckpt.activation_checkpointing_enable()
    logits = 2 * 64 * 50257 * 4  # the loss's log-probabilities, which checkpointing the blocks keeps
    assert saved_bytes(ckpt, x) - logits < 0.2 * (saved_bytes(plain, x) - logits)

def test_trainer_checkpoints_with_the_training_argument(tmp_path):
    model = add_lora(tiny_gpt2(n_layer=3), 4)
    train(model, tmp_path, steps=2, activation_checkpointing=True)
    assert all(b.gradient_checkpointing for b in model.get_base_model().transformer.h)
    assert all(p.abs().sum() > 0 for n, p in model.named_parameters() if 'lora_B' in n)  # every adapter trained
    with pytest.warns(FutureWarning, match='activation_checkpointing'):  # the old name still works, with a warning
        assert training_args(tmp_path/'old', gradient_checkpointing=True, device='cpu').activation_checkpointing

# --- gradient accumulation

def test_accumulation_steps_and_errors():
    assert accumulation(32, 8) == 4 and accumulation(64, 8, n_processes=2) == 4 and accumulation(8, 8) == 1
    with pytest.raises(InputError, match=r'not a multiple of batch size 8\. Fix: use --effective-batch 24 or 32'):
        accumulation(30, 8)
    with pytest.raises(InputError, match=r'8 x 2 processes\. Fix: use --effective-batch 16'): accumulation(10, 8, 2)
    with pytest.raises(InputError, match='at least 1'): accumulation(0, 8)

def test_accumulated_batches_follow_the_big_batch(tmp_path):
    big = train(no_dropout(tiny_gpt2()), tmp_path/'big', batch_size=16)
    small = train(no_dropout(tiny_gpt2()), tmp_path/'small', batch_size=4,
                  gradient_accumulation_steps=accumulation(16, 4))
    losses = lambda t: [h['loss'] for h in t.state.log_history if 'loss' in h]
    assert big.state.global_step == small.state.global_step == 4
    assert losses(big) == pytest.approx(losses(small), rel=1e-4)
    assert not torch.equal(big.model.lm_head.weight, tiny_gpt2().lm_head.weight)  # it trained
    for (n, p), q in zip(big.model.named_parameters(), small.model.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-3, atol=1e-5, msg=n)

# --- each lever lowers the measured peak, as the planner says

CFG = GPT2Config(n_layer=4, n_embd=256, n_head=4, vocab_size=8192, bos_token_id=0, eos_token_id=0)  # small logits: the levers show
LEVERS = {'none': {}, 'grad_ckpt': dict(grad_ckpt=True), 'freeze': dict(freeze_embeddings=True, freeze_layers=2),
          'lora': dict(lora=8)}

@pytest.fixture(scope='module')
def lever_peaks():
    runs = [dict(model=CFG, batch_size=4, block_size=256, chunk=0, **kw) for kw in LEVERS.values()]  # the model's own loss
    return dict(zip(LEVERS, measure_peak(runs))), dict(zip(LEVERS, runs))

@pytest.mark.parametrize('lever', ['grad_ckpt', 'freeze', 'lora'])
def test_each_lever_lowers_the_measured_peak_as_planned(lever_peaks, lever):
    peaks, runs = lever_peaks
    tensors = lambda p: p.total - p.parts['workspace']  # the process's own memory is not part of the measurement
    planned = {k: tensors(plan(gpu='CPU', precision='fp32', **r)) for k, r in runs.items()}
    assert peaks[lever] < 0.95 * peaks['none'], peaks
    # the absolute estimate is test_plan's job, on shapes where tensors outweigh the libraries' own buffers; here the
    # lever's saving, from which that fixed part cancels out
    saved, planned_saving = peaks['none'] - peaks[lever], planned['none'] - planned[lever]
    assert planned_saving / saved == pytest.approx(1, abs=0.25), (saved, planned_saving)
