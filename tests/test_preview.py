"The data preview: its numbers against independent counts, and each warning on bad and on good input."
import json, math, textwrap
from pathlib import Path
import pytest
from gpt_ft.core import BATCH_SIZE, InputError, load_tokenizer
from gpt_ft.data import build_datasets
from gpt_ft.data_preview import DataPreview, preview, preview_report

EOS = '<|endoftext|>'

@pytest.fixture(scope='module')
def news(): return Path(__file__).resolve().parent.parent/'examples'/'tech_news.txt'  # all 460 items

@pytest.fixture(scope='module')
def tok(): return load_tokenizer('gpt2')

@pytest.fixture(scope='module')
def lines(news): return [l for l in news.read_text().splitlines() if l.strip()]

@pytest.fixture(scope='module')
def by_line(news, tok): return preview(news, tok, line_by_line=True)

def test_counts_line_by_line(by_line, lines, tok):
    lens = [len(tok(l)['input_ids']) + 1 for l in lines]  # each line's tokens and its end-of-text token
    p = by_line
    assert (p.documents, p.characters, p.tokens) == (len(lines), sum(map(len, lines)), sum(lens))
    assert p.blocks == math.ceil(sum(lens) / 128) and p.full_blocks == sum(lens) // 128
    assert p.padding == p.blocks * 128 - sum(lens)
    assert p.fill == pytest.approx(sum(lens) / (p.blocks * 128))
    big = max(range(len(lines)), key=lambda i: lens[i])
    assert p.longest['tokens'] == lens[big] and p.longest['document'] == big
    assert lines[big].startswith(p.longest['start'])
    # a document is cut when its first and last token fall in different blocks of the packed stream
    ends = [sum(lens[:i + 1]) for i in range(len(lens))]
    assert p.cut_documents == sum((e - n) // 128 != (e - 1) // 128 for e, n in zip(ends, lens))

def test_counts_unpacked(lines, tok, tmp_path):
    lens = [len(tok(l)['input_ids']) + 1 for l in lines[:50]]
    f = tmp_path/'fifty.txt'
    f.write_text('\n'.join(lines[:50]))
    p = preview(f, tok, line_by_line=True, pack=False, block_size=32)
    assert p.blocks == sum(math.ceil(n / 32) for n in lens)
    assert p.padding == p.blocks * 32 - sum(lens)
    assert p.cut_documents == sum(n > 32 for n in lens)

def test_split_matches_build_datasets(news, tok, by_line):
    d = build_datasets(news, tok, line_by_line=True)                 # documents held out
    assert (by_line.train_blocks, by_line.val_blocks) == (len(d['train']), len(d['validation']))
    assert by_line.steps_per_epoch == math.ceil(len(d["train"]) / BATCH_SIZE)
    d, p = build_datasets(news, tok, block_size=64), preview(news, tok, block_size=64)  # one document: blocks held out
    assert (p.train_blocks, p.val_blocks) == (len(d['train']), len(d['validation']))
    assert preview(news, tok, block_size=64, val_split=0).train_blocks == p.blocks

def test_sample_shows_boundaries(by_line, lines, tok):
    parts = by_line.sample.split(f'\n{EOS}\n')
    assert len(parts) >= 2 and parts[0] == lines[0]
    assert lines[1].startswith(parts[1])
    whole = preview(['First line.\nSecond line.', 'Next document.'], tok, val_split=0)
    assert whole.sample == f'First line.⏎Second line.\n{EOS}\nNext document.\n{EOS}'

def test_report_and_json(by_line):
    d = by_line.to_dict()
    assert json.loads(json.dumps(d)) == d and d['tokens'] == by_line.tokens
    text = preview_report(by_line)
    assert repr(by_line) == text
    for s in ('30,386', '238', 'Warnings:\n  none', EOS): assert s in text
    md = by_line._repr_markdown_()
    assert '| tokens | 30,386 |' in md and '```text' in md

def test_no_warnings_on_good_data(news, tok, by_line):
    assert by_line.warnings == {}
    assert preview(news, tok).warnings == {}

def test_too_little_data(tok):
    notes = ["Release notes: bug fixes.", "The mirror is back online.", "Docs moved to a new site."]
    w = preview(notes, tok).warnings
    assert set(w) == {'no_validation', 'few_blocks'}
    assert f'fewer than one batch of {BATCH_SIZE}' in w['few_blocks'] and '--batch-size 1' in w['few_blocks']
    assert preview(notes, tok, val_split=0, batch_size=1, min_steps=1).warnings == {}

def test_few_steps(news, tok):
    w = preview(news, tok, line_by_line=True, batch_size=64).warnings
    assert list(w) == ['few_steps'] and 'only 4 steps per epoch' in w['few_steps']
    assert preview(news, tok, line_by_line=True, batch_size=64, min_steps=4).warnings == {}

def test_one_line(lines, tok, tmp_path):
    f = tmp_path/'joined.txt'
    f.write_text(' '.join(lines) + '\nA short line.\n')
    w = preview(f, tok, line_by_line=True).warnings
    assert list(w) == ['one_line'] and 'line-by-line mode' in w['one_line']
    w = preview(f, tok).warnings
    assert list(w) == ['one_line'] and 'almost no line breaks' in w['one_line']

@pytest.mark.parametrize('bad,kind', [('\ufffd', 'replacement'), ('\x00', 'nul'), ('\x1b', 'control'), ('\x85', 'control')])
def test_odd_chars(lines, tok, bad, kind):
    docs = lines[:100].copy()
    docs[42] = docs[42][:20] + bad + docs[42][20:]
    p = preview(docs, tok, batch_size=8)
    assert list(p.warnings) == ['odd_chars'] and 'document 42' in p.warnings['odd_chars']
    assert p.odd_chars == {k: int(k == kind) for k in ('replacement', 'nul', 'control')}
    assert preview(lines[:100], tok, batch_size=8).warnings == {}

def test_line_by_line_on_text_that_is_not(lines, tok):
    wrapped = '\n\n'.join(textwrap.fill(l, 70) for l in lines[:200])
    assert list(preview([wrapped], tok, line_by_line=True, batch_size=8).warnings) == ['wrapped_lines']
    assert preview([wrapped], tok, batch_size=8).warnings == {}
    paged = [x for i, l in enumerate(lines[:200]) for x in ([f"Page {i}"] if i % 3 == 0 else []) + [l]]
    w = preview(paged, tok, line_by_line=True, batch_size=8).warnings
    assert list(w) == ['short_docs'] and "'Page 0'" in w['short_docs']
    assert preview(paged, tok, batch_size=8).warnings == {}

@pytest.mark.parametrize('kw,msg', [(dict(batch_size=0), 'batch_size must be at least 1'),
                                    (dict(block_size=1), 'block_size must be at least 2'),
                                    (dict(val_split=1.0), 'val_split must be a share from 0')])
def test_bad_options(news, tok, kw, msg):
    with pytest.raises(InputError, match=msg) as e: preview(news, tok, **kw)
    assert 'Fix:' in str(e.value)

def test_tokenizer_by_name(news):
    p = preview(news, 'gpt2', line_by_line=True)
    assert isinstance(p, DataPreview) and p.tokenizer == 'gpt2'

def test_source_name(tok):
    notes = ["Release notes: bug fixes.", "The mirror is back online."]
    assert preview(notes, tok, val_split=0).source == '2 strings'
    assert preview(notes, tok, val_split=0, name='notes.txt, more.txt').source == 'notes.txt, more.txt'
