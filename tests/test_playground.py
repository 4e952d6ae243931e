"The playground panel: widget values reach `generate`, the model is loaded once, bad values end up in the output area."
import re
import pytest
import gpt_ft.model, gpt_ft.playground as playground
from gpt_ft.sampling import generate
from gpt_ft.playground import Playground

PROMPT = "The new release of the editor"

@pytest.fixture(scope='module')
def pg(tiny_model): return Playground(tiny_model, prompt=PROMPT, max_new_tokens=6)

def click(pg, **values):
    "Set widget values by name, click Generate, return the outputs."
    for k, v in values.items(): getattr(pg, k).value = v
    pg.button.click()
    return pg.outputs

def test_loads_the_model_once(tiny_model, monkeypatch):
    calls, real = [], gpt_ft.model.load_model  # what `model_and_tokenizer` calls
    def counting(*args, **kw):
        calls.append(args)
        return real(*args, **kw)
    monkeypatch.setattr(gpt_ft.model, 'load_model', counting)
    p = Playground(tiny_model, prompt=PROMPT, max_new_tokens=4)
    for _ in range(3): p.button.click()
    assert len(calls) == 1 and p.error is None and len(p.outputs) == 1

def test_widget_values_reach_generate(pg, monkeypatch):
    seen = []
    def spy(*args, **kw):
        seen.append(kw)
        return generate(*args, **kw)
    monkeypatch.setattr(playground, 'generate', spy)
    click(pg, temperature=1.3, top_k=7, top_p=0.5, max_new_tokens=9, n=3, seed='11')
    assert seen == [dict(n=3, max_new_tokens=9, temperature=1.3, top_k=7, top_p=0.5, seed=11)]
    assert pg.outputs == generate(pg.model, PROMPT, pg.tokenizer, n=3, max_new_tokens=9, temperature=1.3, top_k=7,
                                  top_p=0.5, seed=11)

def test_seed_repeats_and_empty_seed_varies(pg):
    a = click(pg, temperature=1.0, n=2, max_new_tokens=6, seed='3')
    assert click(pg) == a and click(pg, seed='4') != a
    assert click(pg, seed='') != click(pg)

def test_n_and_max_new_tokens(pg):
    assert len(click(pg, n=4, seed='0', temperature=1.0, max_new_tokens=6)) == 4
    short, long = click(pg, n=1, max_new_tokens=3), click(pg, max_new_tokens=10)
    assert all(o.startswith(PROMPT) for o in short + long)
    assert long[0].startswith(short[0]) and len(long[0]) > len(short[0])  # the same draws, cut after 3 tokens
    ids = pg.tokenizer(short[0][len(PROMPT):])['input_ids']
    assert 1 <= len(ids) <= 6  # three tokens, give or take re-tokenizing random ones

def test_greedy(pg):
    assert click(pg, temperature=0.0, n=1, seed='9', max_new_tokens=6) == generate(
        pg.model, PROMPT, pg.tokenizer, temperature=0, max_new_tokens=6)

@pytest.mark.parametrize('values,msg', [
    (dict(max_new_tokens=0), 'must be at least 1'),
    (dict(n=0), 'must be at least 1'),
    (dict(top_k=-1), 'top-k must be 0'),
    (dict(top_p=0.0), r'top_p must be a probability above 0'),
    (dict(seed='soon'), 'the seed must be a whole number'),
    (dict(max_new_tokens=300), "more than the model's context of 256 tokens"),
    (dict(prompt='word ' * 300), 'shorten the prompt')])
def test_bad_values_are_reported(pg, values, msg):
    good = dict(prompt=PROMPT, max_new_tokens=4, n=1, top_k=50, top_p=0.95, temperature=0.8, seed='0')
    click(pg, **values)
    assert pg.outputs == [] and pg.status.value == 'error' and not pg.button.disabled
    assert re.search(msg, pg.error) and 'Fix:' in pg.error and 'color:#b00020' in pg.output.value
    assert len(click(pg, **good)) == 1 and pg.error is None  # the panel still works

def test_output_area_escapes_text(pg):
    out = click(pg, prompt='if a < b && c > d:', n=1, max_new_tokens=5, seed='0', temperature=0.8)
    assert '<b>if a &lt; b &amp;&amp; c &gt; d:</b>' in pg.output.value
    assert out[0].startswith('if a < b && c > d:')
    pg.prompt.value = PROMPT

def test_model_object_and_tokenizer(pg):
    p = Playground(pg.model, prompt=PROMPT, max_new_tokens=5)
    assert p.model is pg.model and p.tokenizer.eos_token_id == 50256
    assert click(p, seed='2') == generate(pg.model, PROMPT, n=1, max_new_tokens=5, seed=2)

def test_panel_holds_every_widget(pg):
    def walk(w): return [w] + [d for c in getattr(w, 'children', ()) for d in walk(c)]
    shown = walk(pg.panel)
    for name in ('prompt', 'temperature', 'top_k', 'top_p', 'max_new_tokens', 'n', 'seed', 'button', 'output'):
        assert any(w is getattr(pg, name) for w in shown), name

def test_bundled_model_by_name():
    p = Playground('bundled', prompt="The king rose and said", max_new_tokens=8, seed=1)
    p.button.click()
    assert p.error is None and p.outputs == generate('bundled', "The king rose and said", max_new_tokens=8, seed=1)
