"""Misuse of every command, through the command line and the Python API: exit code 2, at most three lines, no
traceback, the problem named, no file changed (see misuse.py for the contract)."""
import json, math, os, re, shutil, subprocess, sys, time
from pathlib import Path
import pytest
from misuse import (MANIFEST, SHORT, _api, _have, base_api, base_cli, gpt_ft, lines, run_api, run_cli)
# ---------------------------------------------------------------------------------------------------------------------
# The matrix: (command, CLI options, keyword naming the problem, API keyword arguments or None: no API form)

CASES = {
    # train
    'train --encoding bogus':        ('train', ['--encoding', 'bogus'], r'encoding', dict(encoding='bogus')),
    'train --seed -1':               ('train', ['--seed', '-1'], r'seed', dict(seed=-1)),
    'train --seed 2**32':            ('train', ['--seed', str(2**32)], r'seed', dict(seed=2**32)),
    'train --seed abc':              ('train', ['--seed', 'abc'], r'seed', None),
    'train --precision fp8':         ('train', ['--precision', 'fp8'], r'precision', dict(precision='fp8')),
    'train unknown option':          ('train', ['--bogus-option', '3'], r'bogus-option', None),
    'train --lora-dropout 2':        ('train', ['--lora', '4', '--lora-dropout', '2'], r'lora_dropout|lora-dropout',
                                      dict(lora=4, lora_dropout=2)),
    'train --lora-targets nope':     ('train', ['--lora', '4', '--lora-targets', 'nope'], r'nope.*(c_attn|c_proj|c_fc)|(c_attn|c_proj|c_fc).*nope',
                                      dict(lora=4, lora_targets=['nope'])),
    'train --lora-alpha -1':         ('train', ['--lora', '4', '--lora-alpha', '-1'], r'lora_alpha|lora-alpha',
                                      dict(lora=4, lora_alpha=-1)),
    'train --lora -2':               ('train', ['--lora', '-2'], r'lora', dict(lora=-2)),
    'train --deepspeed uninstalled': ('train', ['--deepspeed', 'x.json'], r'deepspeed', dict(deepspeed='x.json')),
    'train --patience no validation':('train', ['--patience', '2', '--val-split', '0'], r'patience',
                                      dict(patience=2, val_split=0)),
    'train --epochs inf':            ('train', ['--epochs', 'inf'], r'epochs', dict(epochs=math.inf)),
    'train --epochs nan':            ('train', ['--epochs', 'nan'], r'epochs', dict(epochs=math.nan)),
    'train --lr 0':                  ('train', ['--lr', '0'], r'\blr\b', dict(lr=0)),
    'train --lr -1':                 ('train', ['--lr', '-1'], r'\blr\b', dict(lr=-1)),
    'train --effective-batch 0':     ('train', ['--effective-batch', '0'], r'effective', dict(effective_batch=0)),
    'train --save-steps 0':          ('train', ['--save-steps', '0'], r'save_steps|save-steps', dict(save_steps=0)),
    'train --save-total-limit -1':   ('train', ['--save-total-limit', '-1'], r'save_total_limit|save-total-limit',
                                      dict(save_total_limit=-1)),
    'train --batch-size -3':         ('train', ['--batch-size', '-3'], r'batch_size|batch-size', dict(batch_size=-3)),
    'train --val-split 1.5':         ('train', ['--val-split', '1.5'], r'val_split|val-split', dict(val_split=1.5)),
    'train --val-split -0.1':        ('train', ['--val-split', '-0.1'], r'val_split|val-split', dict(val_split=-0.1)),
    'train --freeze-layers 99':      ('train', ['--freeze-layers', '99'], r'freeze', dict(freeze_layers=99)),
    'train --freeze-layers -1':      ('train', ['--freeze-layers', '-1'], r'freeze', dict(freeze_layers=-1)),
    'train --block-size 0':          ('train', ['--block-size', '0'], r'block_size|block-size', dict(block_size=0)),
    'train --sample-every 0':        ('train', ['--prompt', 'Hi', '--sample-every', '0'], r'sample_every|sample-every',
                                      None),
    'train --eval missing':          ('train', ['--eval', '{tmp}/missing.txt'], r'missing\.txt',
                                      dict(eval='{tmp}/missing.txt')),
    'train --output is a file':      ('train', ['--output', '{tmp}/a_file.txt'], r'a_file\.txt',
                                      dict(output_dir='{tmp}/a_file.txt')),
    # evaluate
    'evaluate --batch-size 0':       ('evaluate', ['--batch-size', '0'], r'batch', dict(batch_size=0)),
    'evaluate --block-size 100000':  ('evaluate', ['--block-size', '100000'], r'context', dict(block_size=100000)),
    'evaluate --block-size 1':       ('evaluate', ['--block-size', '1'], r'block_size|block-size', dict(block_size=1)),
    'evaluate --stride 0':           ('evaluate', ['--stride', '0'], r'stride', dict(stride=0)),
    'evaluate --encoding bogus':     ('evaluate', ['--encoding', 'bogus'], r'encoding', dict(encoding='bogus')),
    # generate
    'generate --max-new-tokens 100000': ('generate', ['--max-new-tokens', '100000'], r'context',
                                         dict(max_new_tokens=100000)),
    'generate --top-k -1':           ('generate', ['--top-k', '-1'], r'top_k|top-k', dict(top_k=-1)),
    'generate --top-p 1.5':          ('generate', ['--top-p', '1.5'], r'top_p|top-p', dict(top_p=1.5)),
    'generate --repetition-penalty 0': ('generate', ['--repetition-penalty', '0'], r'repetition',
                                        dict(repetition_penalty=0)),
    'generate --temperature -1':     ('generate', ['--temperature', '-1'], r'temperature', dict(temperature=-1)),
    'generate -n 0':                 ('generate', ['-n', '0'], r'(^|[^\w-])-?n\b', dict(n=0)),
    'generate --seed -1':            ('generate', ['--seed', '-1'], r'seed', dict(seed=-1)),
    # prepare and plan
    'prepare --block-size 1':        ('prepare', ['--block-size', '1'], r'block_size|block-size', dict(block_size=1)),
    'prepare --val-split 1.5':       ('prepare', ['--val-split', '1.5'], r'val_split|val-split', dict(val_split=1.5)),
    'prepare --encoding bogus':      ('prepare', ['--encoding', 'bogus'], r'encoding', dict(encoding='bogus')),
    'plan --batch-size 0':           ('plan', ['--batch-size', '0'], r'batch_size|batch-size', dict(batch_size=0)),
    'plan --block-size 0':           ('plan', ['--block-size', '0'], r'block_size|block-size', dict(block_size=0)),
    'plan --block-size 100000':      ('plan', ['--block-size', '100000'], r'context', dict(block_size=100000)),
    'plan --lora -1':                ('plan', ['--lora', '-1'], r'lora', dict(lora=-1)),
    'plan --freeze-layers 99':       ('plan', ['--freeze-layers', '99'], r'freeze', dict(freeze_layers=99)),
    'plan --tokens -5':              ('plan', ['--tokens', '-5'], r'tokens', dict(tokens=-5)),
}

def _params(cases: dict) -> list:
    return [pytest.param(name, via, id=f'{name} [{via}]') for name, case in cases.items()
            for via in ('cli', 'api') if via == 'cli' or case[3] is not None]

def _fill(v, tmp: Path):
    return v.format(tmp=tmp) if isinstance(v, str) else v

@pytest.mark.parametrize('name, via', _params(CASES))
def test_misuse(name, via, tmp_path, tiny_model, news, watch):
    command, options, keyword, kwargs = CASES[name]
    if 'deepspeed' in name:
        if _have('deepspeed'): pytest.skip('deepspeed is installed here')
        (tmp_path/'x.json').write_text('{}')  # a valid config: the only problem is that deepspeed is missing
    (tmp_path/'a_file.txt').write_text('a file, not a folder')
    out = tmp_path/'out'
    if via == 'cli':
        run_cli(*base_cli(command, tiny_model, news, out), *[_fill(o, tmp_path) for o in options], keyword=keyword,
                watch=watch, run=out, cwd=tmp_path)
    else:
        kw = {**base_api(command, tiny_model, news, out), **{k: _fill(v, tmp_path) for k, v in kwargs.items()}}
        if kw.get('deepspeed'): kw['deepspeed'] = str(tmp_path/kw['deepspeed'])
        try: run_api(_api(command), kw, keyword=keyword, watch=watch, run=out)
        finally:  # TrainingArguments(deepspeed=...) sets a process-wide config that would leak into later cases
            from transformers.integrations.deepspeed import unset_hf_deepspeed_config
            unset_hf_deepspeed_config()

# ---------------------------------------------------------------------------------------------------------------------
# Not an error: a prompt longer than the model's context is cut, with a note

LONG_PROMPT = ' '.join(f'word{i}' for i in range(400))  # several hundred tokens; tiny_model's context is 256

def test_long_prompt_is_cut_with_a_note(tmp_path, tiny_model, watch):
    r = gpt_ft('generate', tiny_model, '--prompt', LONG_PROMPT, '--max-new-tokens', '5', '--seed', '0', cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() and 'Traceback' not in r.stderr
    notes = lines(r.stderr)
    assert len(notes) == 1 and re.search(r'prompt', notes[0], re.I), r.stderr

def test_long_prompt_through_the_api(tiny_model):
    from gpt_ft.sampling import generate
    out = generate(str(tiny_model), LONG_PROMPT, max_new_tokens=5, seed=0)
    assert len(out) == 1 and out[0].strip()

# ---------------------------------------------------------------------------------------------------------------------
# Broken model folders, for each command that loads a model

def _broken_model(folder: Path, tiny_model: Path, defect: str) -> Path:
    shutil.copytree(tiny_model, folder)
    weights, config = folder/'model.safetensors', folder/'config.json'
    if defect == 'truncated weights': weights.write_bytes(weights.read_bytes()[:weights.stat().st_size // 2])
    elif defect == 'empty weights': weights.write_bytes(b'')
    elif defect == 'invalid config': config.write_text('{not json')
    elif defect == 'empty config': config.write_text('')
    elif defect == 'not a causal LM':
        from transformers import BertConfig, BertModel
        weights.unlink(); config.unlink()
        BertModel(BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                             vocab_size=50257)).save_pretrained(folder)
        assert json.loads(config.read_text())['model_type'] == 'bert'
    return folder

MODEL_DEFECTS = {'truncated weights': r'safetensors|weights', 'empty weights': r'safetensors|weights',
                 'invalid config': r'config\.json', 'empty config': r'config\.json', 'not a causal LM': r'causal'}

@pytest.mark.parametrize('via', ['cli', 'api'])
@pytest.mark.parametrize('defect', MODEL_DEFECTS)
@pytest.mark.parametrize('command', ['train', 'evaluate', 'generate'])
def test_broken_model_folder(command, defect, via, tmp_path, tiny_model, news, watch):
    bad, out = _broken_model(tmp_path/'bad_model', tiny_model, defect), tmp_path/'out'
    if via == 'cli':
        run_cli(*base_cli(command, bad, news, out), keyword=MODEL_DEFECTS[defect], watch=watch, run=out, cwd=tmp_path)
    else: run_api(_api(command), base_api(command, bad, news, out), keyword=MODEL_DEFECTS[defect], watch=watch, run=out)

@pytest.mark.parametrize('command', ['evaluate', 'generate'])
def test_pickle_weights_suggest_a_flag_the_command_has(command, tmp_path, tiny_model, news, watch):
    import torch
    from gpt_ft.model import tiny_gpt2
    d = tmp_path/'pickled'
    shutil.copytree(tiny_model, d)
    (d/'model.safetensors').unlink()
    torch.save(tiny_gpt2().state_dict(), d/'pytorch_model.bin')
    r = run_cli(*base_cli(command, d, news, tmp_path/'out'), keyword=r'pickle', watch=watch, cwd=tmp_path)
    flags = set(re.findall(r'(?<![\w-])--[a-z][a-z0-9-]*', r.stdout + r.stderr))
    usage = gpt_ft(command, '--help').stdout
    missing = [f for f in flags if not re.search(rf'(?<![\w-]){re.escape(f)}(?![\w-])', usage)]
    assert not missing, f"the message suggests {missing}, which `gpt_ft {command}` does not have:\n{r.stderr}"

# ---------------------------------------------------------------------------------------------------------------------
# Text that cannot be used, and text that can

@pytest.mark.parametrize('via', ['cli', 'api'])
@pytest.mark.parametrize('value', ['5', 'null'])
def test_jsonl_text_that_is_not_a_string_names_the_row(value, via, tmp_path, tiny_model, news, watch):
    f, out = tmp_path/'notes.jsonl', tmp_path/'out'
    good = news.read_text().splitlines()[:3]
    f.write_text(''.join(json.dumps({'text': t}) + '\n' for t in good) + f'{{"text": {value}}}\n')  # row 4 is bad
    keyword = r'(row|line)\D{0,4}4\b'
    if via == 'cli': run_cli(*base_cli('train', tiny_model, f, out), keyword=keyword, watch=watch, run=out, cwd=tmp_path)
    else: run_api(_api('train'), base_api('train', tiny_model, f, out), keyword=keyword, watch=watch, run=out)

@pytest.mark.parametrize('via', ['cli', 'api'])
def test_nul_byte_after_the_first_8_kb_names_the_offset(via, tmp_path, tiny_model, watch):
    f, out = tmp_path/'late_nul.txt', tmp_path/'out'
    f.write_bytes(b'a ' * 10_000 + b'\x00' + b' and more text\n')  # the NUL is at byte 20,000
    keyword = r'\b20,?000\b'
    if via == 'cli': run_cli(*base_cli('train', tiny_model, f, out), keyword=keyword, watch=watch, run=out, cwd=tmp_path)
    else: run_api(_api('train'), base_api('train', tiny_model, f, out), keyword=keyword, watch=watch, run=out)

@pytest.mark.parametrize('encoding', [['--encoding', 'utf-16'], []], ids=['--encoding utf-16', 'no --encoding'])
def test_utf16_with_a_bom_trains(encoding, tmp_path, tiny_model, news):
    f = tmp_path/'news16.txt'
    f.write_bytes(news.read_text().encode('utf-16'))  # Python writes the BOM first
    r = gpt_ft(*base_cli('train', tiny_model, f, tmp_path/'out'), *encoding, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path/'out'/MANIFEST).read_text())['status'] == 'completed'

@pytest.mark.parametrize('codec', ['utf-16', 'utf-16-be', 'utf-32', 'utf-8-sig'])
def test_a_bom_selects_the_encoding(codec, tmp_path, tiny_model, news):
    "Read without an encoding, a file that starts with a byte order mark gives the same text as the UTF-8 original."
    from gpt_ft.data_preview import preview
    f = tmp_path/'bom.txt'
    data = news.read_text().encode(codec)
    f.write_bytes(data if codec in ('utf-16', 'utf-32', 'utf-8-sig') else b'\xfe\xff' + data)
    want, got = preview(str(news), str(tiny_model), line_by_line=True), preview(str(f), str(tiny_model), line_by_line=True)
    assert (got.documents, got.characters, got.tokens) == (want.documents, want.characters, want.tokens)

# ---------------------------------------------------------------------------------------------------------------------
# The hub, when there is no network and HF_HUB_OFFLINE is not set: a fast, one-line failure

@pytest.fixture
def no_network(tmp_path_factory) -> dict:
    "The environment of a machine without a network: HF_HUB_OFFLINE unset, every connection refused, an empty cache."
    env = {k: v for k, v in os.environ.items() if k not in (
        'HF_HUB_OFFLINE', 'HF_DATASETS_OFFLINE', 'TRANSFORMERS_OFFLINE', 'HF_DATASETS_CACHE', 'HF_HUB_CACHE',
        'HUGGINGFACE_HUB_CACHE', 'TRANSFORMERS_CACHE')}
    dead = 'http://127.0.0.1:9'
    return {**env, 'HTTPS_PROXY': dead, 'HTTP_PROXY': dead, 'https_proxy': dead, 'http_proxy': dead, 'NO_PROXY': '',
            'no_proxy': '', 'HF_HOME': str(tmp_path_factory.mktemp('hf_home')), 'TQDM_DISABLE': '1',
            'TRANSFORMERS_VERBOSITY': 'error'}

def _startup(env) -> float:
    "Seconds this machine takes, now, to start Python and import what `gpt_ft train` imports: not gpt_ft's to save."
    t0 = time.monotonic()
    subprocess.run([sys.executable, '-c', 'import gpt_ft.train, gpt_ft.cli, datasets'], env=env, check=True)
    return time.monotonic() - t0

def test_unreachable_hub_model(tmp_path, news, watch, no_network):
    out = tmp_path/'out'
    r = run_cli('train', news, '--model', 'gpt2', '--output', out, *SHORT, keyword=r'HF_HUB_OFFLINE=1', watch=watch,
                run=out, cwd=tmp_path, env=no_network, timeout=120)
    msg, waited = r.stdout + r.stderr, r.seconds - _startup(no_network)
    assert waited < 10, f"took {waited:.1f} s (after start-up) to give up on the hub"
    assert len(lines(msg)) == 1 and re.search(r'bundled', msg) and re.search(r'local folder', msg, re.I), msg

def test_unreachable_hub_dataset(tmp_path, tiny_model, watch, no_network):
    out = tmp_path/'out'
    r = run_cli('train', 'some-user/some-dataset', '--model', tiny_model, '--output', out, *SHORT,
                keyword=r'HF_HUB_OFFLINE=1', watch=watch, run=out, cwd=tmp_path, env=no_network, timeout=120)
    msg, waited = r.stdout + r.stderr, r.seconds - _startup(no_network)
    assert waited < 10, f"took {waited:.1f} s (after start-up) to give up on the hub"
    assert len(lines(msg)) == 1 and re.search(r'dataset', msg, re.I) and re.search(r'local', msg, re.I), msg
    assert not re.search(r"model\W+some-user", msg, re.I), f"the message calls the dataset a model: {msg}"

