"Live loss plot, samples during training, memorisation check and the before/after report."
import io, json, re
import pytest
from transformers import TrainerControl, TrainerState, TrainingArguments
from gpt_ft.core import InputError, load_tokenizer
from gpt_ft.model import tiny_gpt2
from gpt_ft.train import finetune
import gpt_ft.callbacks as rp
from gpt_ft.callbacks import LossPlot, Samples, history
from gpt_ft.display import live_mode
from gpt_ft.overlap import memorisation
from gpt_ft.summary import report

PROMPTS = ["The new release", "Shares of"]

def _train(out, data, callbacks=()):
    return finetune(data, model=tiny_gpt2(), tokenizer=load_tokenizer('gpt2'), output_dir=out, line_by_line=True,
                    block_size=64, epochs=1, batch_size=8, lr=3e-3, overwrite=True, callbacks=list(callbacks))

@pytest.fixture(scope='module')
def few(tmp_path_factory, news):
    "The first 40 news items: seven training steps."
    f = tmp_path_factory.mktemp('few')/'few.txt'
    f.write_text(''.join(news.read_text().splitlines(keepends=True)[:40]))
    return f

@pytest.fixture(scope='module')
def run(tmp_path_factory, few):
    "A short run with both callbacks; the terminal lines are kept in a string."
    out, lines = tmp_path_factory.mktemp('report')/'run', io.StringIO()
    trainer = _train(out, few, [LossPlot('terminal', file=lines), Samples(PROMPTS, every=3, max_new_tokens=6, live=False)])
    return trainer, out, lines.getvalue().splitlines()

def test_loss_png(run):
    trainer, out, _ = run
    import matplotlib.image
    data = (out/'loss.png').read_bytes()
    assert data[:8] == b'\x89PNG\r\n\x1a\n'
    h, w, _ = matplotlib.image.imread(out/'loss.png').shape
    assert (w, h) == (560, 240)  # 7 x 3 inches at 80 dpi

def test_samples_jsonl(run):
    trainer, out, _ = run
    recs = [json.loads(l) for l in (out/'samples.jsonl').read_text().splitlines()]
    steps = [r['step'] for r in recs[::len(PROMPTS)]]
    assert steps == sorted(set(steps)) and steps[0] == 0 and steps[-1] == trainer.state.global_step
    assert [r['step'] for r in recs] == [s for s in steps for _ in PROMPTS]
    assert [r['prompt'] for r in recs] == PROMPTS * len(steps)
    assert 3 in steps and all(s % 3 == 0 for s in steps[:-1])
    assert all(isinstance(r['text'], str) for r in recs) and len({r['text'] for r in recs}) > len(PROMPTS)

def test_terminal_lines(run):
    trainer, _, lines = run
    logs = trainer.state.log_history
    train = [l for l in lines if ' loss ' in l and 'eval loss' not in l and 'done' not in l]
    assert len(train) == sum('loss' in h for h in logs)
    assert sum('eval loss' in l for l in lines) == sum('eval_loss' in h for h in logs)
    pat = r' *step \d+/%d  epoch +\d\.\d\d  loss \d+\.\d{4}  lr \d\.\de-\d\d  [\d,]+ tok/s  eta \d+:\d\d' % trainer.state.max_steps
    assert all(re.fullmatch(pat, l) for l in train), train
    assert 'done in' in lines[-1]

def test_samples_leave_training_unchanged(run, tmp_path, few):
    "Sampling draws random numbers; a run with samples must train exactly like one without."
    plain = _train(tmp_path/'plain', few)
    loss = lambda t: [h['loss'] for h in t.state.log_history if 'loss' in h]
    assert loss(plain) == loss(run[0])

def _fake(tmp_path, main=True, step=0, max_steps=10):
    args = TrainingArguments(output_dir=str(tmp_path/'out'), report_to='none', use_cpu=True)
    state = TrainerState(is_world_process_zero=main, global_step=step, max_steps=max_steps)
    return args, state, TrainerControl()

def test_samples_model_back_in_train_mode(tmp_path):
    model, tok, lines = tiny_gpt2(), load_tokenizer('gpt2'), io.StringIO()
    model.train()
    cb = Samples("Hello", every=5, max_new_tokens=3, live='terminal', file=lines)
    args, state, control = _fake(tmp_path, step=0)
    cb.on_train_begin(args, state, control, model=model, processing_class=tok)
    assert model.training and len(cb.records) == 1
    for step in (4, 5):
        state.global_step = step
        cb.on_step_end(args, state, control, model=model, processing_class=tok)
    assert model.training and [r['step'] for r in cb.records] == [0, 5]
    # the same seed each time: the same weights give the same text
    assert cb.records[0]['text'] == cb.records[1]['text']
    assert lines.getvalue().splitlines() == [f"step {s} | Hello{cb.records[0]['text']}".replace('\n', ' ') for s in (0, 5)]

def test_samples_off_when_weights_are_sharded(tmp_path):
    args, state, control = _fake(tmp_path)
    args.fsdp = ['full_shard']
    cb = Samples("Hello", max_new_tokens=2, live=False)
    with pytest.warns(UserWarning, match='FSDP or DeepSpeed'):
        cb.on_train_begin(args, state, control, model=tiny_gpt2(), processing_class=load_tokenizer('gpt2'))
    cb.on_train_end(args, state, control, model=tiny_gpt2(), processing_class=load_tokenizer('gpt2'))
    assert cb.records == [] and not (tmp_path/'out').exists()

def test_only_rank_zero_writes(tmp_path, monkeypatch):
    model, tok, lines = tiny_gpt2(), load_tokenizer('gpt2'), io.StringIO()
    args, state, control = _fake(tmp_path, main=False, step=2)
    state.log_history = [dict(step=1, loss=5.0, learning_rate=1e-3)]
    plot, smp = LossPlot('terminal', file=lines), Samples("Hi", max_new_tokens=2, live='terminal', file=lines)
    for cb in (plot, smp): cb.on_train_begin(args, state, control, model=model, processing_class=tok)
    plot.on_log(args, state, control, logs=state.log_history[0])
    for cb in (plot, smp): cb.on_train_end(args, state, control, model=model, processing_class=tok)
    assert not (tmp_path/'out').exists() and lines.getvalue() == '' and smp.records == []
    monkeypatch.setenv('RANK', '1')
    r = report(model, model, ["Some held-out text, a sentence or two."], output_dir=tmp_path/'rep', tokenizer=tok,
               prompts="Hi", max_new_tokens=2)
    assert r.metrics and not (tmp_path/'rep').exists()

def test_live_display_once_when_not_interactive(tmp_path, monkeypatch):
    "Executed without a kernel: one final figure; in a kernel: one display, updated in place."
    shown = []
    monkeypatch.setattr(rp, 'show', lambda obj, handle=None: shown.append(handle) or 'handle')
    args, state, control = _fake(tmp_path, step=3)
    state.log_history = [dict(step=s, loss=6.0 - s, learning_rate=1e-3) for s in (1, 2, 3)]
    for mode, expect in [('capture', [None]), ('kernel', [None, 'handle', 'handle', 'handle', 'handle'])]:
        shown.clear()
        cb = LossPlot(every=0)
        cb.mode = mode
        cb.on_train_begin(args, state, control)
        for h in state.log_history: cb.on_log(args, state, control, logs=h)
        cb.on_train_end(args, state, control)
        assert shown == expect, mode

def _words(tok, words:str)->list:
    ids = tok(words, add_special_tokens=False)['input_ids']
    assert len(ids) == len(words.split())  # one token per word, so lengths are easy to reason about
    return ids

def test_memorisation_exact():
    tok = load_tokenizer('gpt2')
    a = " one two three four five six seven eight nine ten eleven twelve"
    b = " seven eight nine ten eleven twelve red green blue yellow black white"
    train = [a, b, " An unrelated line about the weather."]
    copy = " two three four five six seven eight nine ten"
    stitched = " one two three four five six seven eight nine ten eleven twelve red green blue"
    unseen = " Cats sleep most of the day and hunt at night when the house is quiet."
    m_copy, m_stitched, m_unseen, m_short = memorisation([copy, stitched, unseen, " one two"], train, tok, n=4)
    assert (m_copy['share'], m_copy['longest'], m_copy['longest_text']) == (1.0, len(_words(tok, copy)), copy)
    assert m_copy['copied'] == m_copy['ngrams'] == len(_words(tok, copy)) - 3
    # every 4-gram occurs, but the longest verbatim run is the first line: the sample joins two documents
    assert m_stitched['share'] == 1.0 and m_stitched['longest'] == len(_words(tok, a)) and m_stitched['longest_text'] == a
    assert (m_unseen['share'], m_unseen['copied'], m_unseen['longest'], m_unseen['longest_text']) == (0.0, 0, 0, '')
    assert (m_short['ngrams'], m_short['share']) == (0, 0.0)
    # token ids and samples.jsonl records work the same as texts
    ids = [_words(tok, a), _words(tok, b)]
    assert memorisation([{'step': 0, 'prompt': 'x', 'text': copy}], ids, tok, n=4)[0]['share'] == 1.0

def test_memorisation_partial_and_default_n(news):
    tok, line = load_tokenizer('gpt2'), news.read_text().splitlines()[5]
    quoted = ' In other news,' + line[30:150] + ' and then something else entirely happened.'
    m = memorisation(quoted, news, tok, line_by_line=True)[0]
    assert 0 < m['share'] < 1 and m['longest'] >= 8 and m['longest_text'] in line

def test_bad_inputs(tmp_path):
    with pytest.raises(InputError, match='n must be a whole number'): memorisation("x", ["y"], n=0)
    with pytest.raises(InputError, match='every must be'): Samples("x", every=0)
    with pytest.raises(InputError, match='prompts must be'): Samples([])
    with pytest.raises(InputError, match="live must be 'auto'"): live_mode('yes')
    with pytest.raises(InputError, match='trainer_state.json'): history(tmp_path)

def test_report_better_and_worse(run, tiny_model, heldout, few, tmp_path):
    trainer, out, _ = run
    held = heldout.read_text().splitlines()[:10]
    r = report(tiny_model, out, held, output_dir=tmp_path/'a', train_data=few, line_by_line=True, max_new_tokens=6)
    md = (tmp_path/'a'/'report.md').read_text()
    assert r.better and r.metrics['tuned']['loss'] < r.metrics['base']['loss']
    assert f"| base ({tiny_model}) | {r.metrics['base']['loss']:.3f} |" in md
    assert f"| fine-tuned ({out}) | {r.metrics['tuned']['loss']:.3f} |" in md
    assert 'is better on the held-out text' in md and '% lower' in md and '| change | -' in md
    assert '## Memorisation' in md and '![training and validation loss](loss.png)' in md
    assert (tmp_path/'a'/'loss.png').read_bytes()[:4] == b'\x89PNG'
    assert len(r.samples) == 3 and r.samples[0]['prompt'] in md
    text = str(r)
    assert 'is better' in text and re.search(r'perplexity +[\d,.]+ +[\d,.]+ +-\d+%', text)
    # swapped, the same numbers read the other way
    w = report(out, tiny_model, held, output_dir=tmp_path/'b', max_new_tokens=4, prompts="Hi")
    assert w.better is False and 'is worse' in (tmp_path/'b'/'report.md').read_text()
    assert '## Training loss' not in w.markdown()  # the base folder has no log history

def test_memorisation_blocks_are_one_stream(news):
    "The Trainer's blocks cut documents anywhere; a copied stretch that crosses a block boundary still counts."
    from datasets import Dataset
    from gpt_ft.data import make_blocks
    tok, line = load_tokenizer('gpt2'), news.read_text().splitlines()[2]
    ids = tok(line, add_special_tokens=False)['input_ids']
    blocks = make_blocks(Dataset.from_dict({'input_ids': [ids + [tok.eos_token_id]]}), block_size=16)
    assert len(blocks) > 2
    m = memorisation(tok.decode(ids[5:45]), blocks, tok)[0]
    assert (m['share'], m['longest']) == (1.0, 40)

def test_report_from_trainer(run, few):
    "What `gpt_ft train` does at its end: the Trainer's own held-out blocks, training blocks and log history."
    trainer, out, _ = run
    r = report(tiny_gpt2(), trainer, trainer.eval_dataset, train_data=trainer.train_dataset, max_new_tokens=4)
    assert r.tuned == str(out) and r.logs == history(out) and r.metrics['base']['tokens'] > 0
    lines = few.read_text().splitlines()
    assert len(r.samples) == 3 and all(any(l.startswith(s['prompt']) for l in lines) for s in r.samples)
    assert len(r.memorised) == 3 and r._repr_markdown_().count('data:image/png;base64,') == 1
