"""Bad input on the command line: exit code 2, one line naming the problem and the fix, nothing written.

The matrix runs `gpt_ft.cli.main` in this process (the console script only adds `sys.exit`); one case also runs as a
real subprocess."""
import json
from pathlib import Path
import pytest
from conftest import snapshot
from gpt_ft.cli import main

@pytest.fixture
def run(capsys):
    "Run the CLI in-process; return (exit code, stdout, stderr)."
    def _run(*args):
        code = main([str(a) for a in args])
        out = capsys.readouterr()
        return code, out.out, out.err
    return _run

def _files(tmp_path):
    (tmp_path/'empty.txt').write_text('')
    (tmp_path/'blank.txt').write_text('  \n\t\n')
    (tmp_path/'latin1.txt').write_bytes('Caf\xe9 au lait'.encode('latin-1'))
    (tmp_path/'binary.txt').write_bytes(b'\x00\x01\x02 not text')
    (tmp_path/'notes.jsonl').write_text(json.dumps({'body': 'Version 1 ships.'}) + '\n')
    (tmp_path/'broken.jsonl').write_text('{"text": "fine"}\n{"text": broken}\n')
    (tmp_path/'no_text').mkdir()
    (tmp_path/'not_a_model').mkdir()
    (tmp_path/'not_a_model'/'readme.md').write_text('hello')
    (tmp_path/'notes.csv').write_text('id,body\n1,Version 1 ships.\n')
    from gpt_ft.core import load_tokenizer
    from gpt_ft.model import tiny_gpt2
    tiny_gpt2(vocab_size=1000).save_pretrained(tmp_path/'small_vocab')
    load_tokenizer('gpt2').save_pretrained(tmp_path/'small_vocab')

# A folder no one can write to, root included: /proc takes no new files.
UNWRITABLE = '/proc/gpt_ft/out'

CASES = {
    'missing data file':   (['train', '{tmp}/missing.txt'], "no file or folder"),
    'empty file':          (['train', '{tmp}/empty.txt'], "is empty"),
    'whitespace only':     (['train', '{tmp}/blank.txt'], "holds only whitespace"),
    'not utf-8':           (['train', '{tmp}/latin1.txt'], "byte 3"),
    'binary file':         (['train', '{tmp}/binary.txt'], "binary file"),
    'folder without text': (['train', '{tmp}/no_text'], "holds no text files"),
    'missing column':      (['train', '{tmp}/notes.jsonl'], "no column 'text'"),
    'csv missing column':  (['train', '{tmp}/notes.csv', '--text-column', 'text'], "no column 'text'"),
    'vocab too big':       (['train', '{news}', '--model', '{small_vocab}'], "the tokenizer has 50,257 tokens"),
    'unwritable output':   (['train', '{news}', '--output', '{unwritable}'], "cannot write to output folder"),
    'resume nothing':      (['train', '{news}', '--resume'], "no complete checkpoint"),
    'malformed jsonl':     (['train', '{tmp}/broken.jsonl'], "line 2 is not valid JSON"),
    'block size too big':  (['train', '{news}', '--block-size', '100000'], "longer than the model's context"),
    'block size below 2':  (['train', '{news}', '--block-size', '1'], "block_size must be at least 2"),
    'batch size zero':     (['train', '{news}', '--batch-size', '0'], "batch_size must be at least 1"),
    'epochs negative':     (['train', '{news}', '--epochs', '-1'], "epochs must be above 0"),
    'not a model':         (['train', '{news}', '--model', '{tmp}/not_a_model'], "is not a model folder"),
    'missing model':       (['train', '{news}', '--model', './no/such/model'], "no model folder"),
    'hub unreachable':     (['train', '{news}', '--model', 'gpt2'], "pass a local folder"),
}

@pytest.mark.parametrize('args, message', CASES.values(), ids=CASES.keys())
def test_train_bad_input(run, tmp_path, tiny_model, news, args, message):
    _files(tmp_path)
    out = tmp_path/'out'
    args = [a.format(tmp=tmp_path, news=news, small_vocab=tmp_path/'small_vocab', unwritable=UNWRITABLE) for a in args]
    if '--model' not in args: args += ['--model', str(tiny_model)]
    if '--output' not in args: args += ['--output', str(out)]
    code, _, err = run(*args)
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and message in err and 'Fix:' in err
    assert not out.exists()

def test_bad_input_in_a_real_process(cli, tmp_path, tiny_model):
    r = cli('train', tmp_path/'missing.txt', '--model', tiny_model, '--output', tmp_path/'out')
    assert r.returncode == 2 and r.stderr.startswith('gpt_ft train: error: no file or folder')
    assert 'Traceback' not in r.stderr and len(r.stderr.strip().splitlines()) == 1

def test_existing_output_is_untouched(run, tmp_path, tiny_model, news):
    out = tmp_path/'out'
    out.mkdir(); (out/'keep.txt').write_text('earlier work')
    before = snapshot(out)
    for bad in [['--block-size', '1'], ['--model', 'gpt2'], ['--overwrite', '--batch-size', '0']]:
        args = ['train', news, '--output', out, *bad]
        code, _, _ = run(*args, *(['--model', tiny_model] if '--model' not in bad else []))
        assert code == 2 and snapshot(out) == before

@pytest.mark.parametrize('args, message', [
    (['evaluate', '{tmp}/not_a_model', '{news}'], 'is not a model folder'),
    (['evaluate', '{model}', '{tmp}/missing.txt'], 'no file or folder'),
    (['evaluate', '{model}', '{news}', '--stride', '0'], 'stride must be at least 1'),
    (['generate', '{model}', '-n', '0'], 'n must be at least 1'),
    (['generate', './no/such/model'], 'no model folder'),
], ids=['evaluate not a model', 'evaluate missing data', 'evaluate bad stride', 'generate n=0',
        'generate missing model'])
def test_evaluate_generate_bad_input(run, tmp_path, tiny_model, news, args, message):
    _files(tmp_path)
    code, _, err = run(*[a.format(tmp=tmp_path, news=news, model=tiny_model) for a in args])
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1

def test_usage_error_is_exit_2(cli):
    r = cli('train')
    assert r.returncode == 2 and 'required' in r.stderr

PY_CASES = {  # the same problems through the Python API: a ValueError or FileNotFoundError with the same message
    'missing data file':  (dict(train='{tmp}/missing.txt'), FileNotFoundError, "no file or folder"),
    'empty file':         (dict(train='{tmp}/empty.txt'), ValueError, "is empty"),
    'whitespace only':    (dict(train='{tmp}/blank.txt'), ValueError, "holds only whitespace"),
    'not utf-8':          (dict(train='{tmp}/latin1.txt'), ValueError, "byte 3"),
    'binary file':        (dict(train='{tmp}/binary.txt'), ValueError, "binary file"),
    'folder without text':(dict(train='{tmp}/no_text'), ValueError, "holds no text files"),
    'missing column':     (dict(train='{tmp}/notes.jsonl'), ValueError, "no column 'text'"),
    'csv missing column': (dict(train='{tmp}/notes.csv'), ValueError, "no column 'text'"),
    'malformed jsonl':    (dict(train='{tmp}/broken.jsonl'), ValueError, "line 2 is not valid JSON"),
    'block size too big': (dict(block_size=100000), ValueError, "longer than the model's context"),
    'block size below 2': (dict(block_size=1), ValueError, "block_size must be at least 2"),
    'batch size zero':    (dict(batch_size=0), ValueError, "batch_size must be at least 1"),
    'epochs zero':        (dict(epochs=0), ValueError, "epochs must be above 0"),
    'not a model':        (dict(model='{tmp}/not_a_model'), ValueError, "is not a model folder"),
    'missing model':      (dict(model='./no/such/model'), FileNotFoundError, "no model folder"),
    'hub unreachable':    (dict(model='gpt2'), FileNotFoundError, "pass a local folder"),
    'vocab too big':      (dict(model='{tmp}/small_vocab'), ValueError, "the tokenizer has 50,257 tokens"),
    'unwritable output':  (dict(output_dir=UNWRITABLE), ValueError, "cannot write to output folder"),
    'existing output':    (dict(output_dir='{tmp}/not_a_model'), ValueError, "already holds files"),
    'resume nothing':     (dict(resume=True), ValueError, "no complete checkpoint"),
}

@pytest.mark.parametrize('kwargs, exc, message', PY_CASES.values(), ids=PY_CASES.keys())
def test_finetune_bad_input(tmp_path, tiny_model, news, kwargs, exc, message):
    from gpt_ft.core import GptFtError
    from gpt_ft.train import finetune
    _files(tmp_path)
    kw = dict(train=str(news), model=str(tiny_model), output_dir=str(tmp_path/'out'))
    kw.update({k: v.format(tmp=tmp_path) if isinstance(v, str) else v for k, v in kwargs.items()})
    before = snapshot(Path(kw['output_dir'])) if not kw['output_dir'].startswith('/proc') else {}
    with pytest.raises(exc, match=message) as e: finetune(**kw)
    assert isinstance(e.value, GptFtError) and 'Fix:' in str(e.value)
    if not kw['output_dir'].startswith('/proc'): assert snapshot(Path(kw['output_dir'])) == before
