"The command line end to end: train -> evaluate -> generate, the output folder contract, help and exit codes."
import json, math
import pytest
from conftest import snapshot

@pytest.mark.parametrize('cmd, option', [((), 'COMMAND'), (('train',), '--output'), (('evaluate',), '--json'),
                                         (('generate',), '--max-new-tokens'), (('prepare',), '--json'),
                                         (('plan',), '--gpu')])
def test_help(cli, cmd, option):
    r = cli(*cmd, '--help')
    assert r.returncode == 0 and 'usage: gpt_ft' in r.stdout and option in r.stdout

def test_version(cli):
    import gpt_ft
    assert cli('--version').stdout.strip() == f'gpt_ft {gpt_ft.__version__}'

def test_train_writes_a_hugging_face_folder(trained):
    names = {p.name for p in trained.iterdir()}
    assert {'config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'eval_results.json',
            'trainer_state.json', 'training_args.json'} <= names
    assert not list(trained.rglob('pytorch_model.bin')) and 'training_args.bin' not in names
    from transformers import AutoModelForCausalLM, AutoTokenizer, pipeline
    model, tok = AutoModelForCausalLM.from_pretrained(trained), AutoTokenizer.from_pretrained(trained)
    assert type(model).__name__ == 'GPT2LMHeadModel' and tok("Hello world").input_ids == [15496, 995]
    out = pipeline('text-generation', model=str(trained))("Version 2.0", max_new_tokens=5, do_sample=False)
    assert out[0]['generated_text'].startswith("Version 2.0")

def test_training_lowers_validation_loss(trained):
    evals = [h['eval_loss'] for h in json.loads((trained/'trainer_state.json').read_text())['log_history']
             if 'eval_loss' in h]
    assert len(evals) >= 2 and evals[-1] < evals[0] < math.log(50257) + 0.1

def test_evaluate_json_before_and_after(cli, trained, tiny_model, heldout):
    runs = {}
    for name, model in [('before', tiny_model), ('after', trained)]:
        r = cli('evaluate', model, heldout, '--line-by-line', '--json')
        assert r.returncode == 0, r.stderr
        runs[name] = json.loads(r.stdout)
    m = runs['after']
    assert {'loss', 'perplexity', 'bits_per_byte', 'accuracy', 'top5_accuracy', 'tokens'} <= set(m)
    assert m['perplexity'] == pytest.approx(math.exp(m['loss']))
    assert 0 <= m['accuracy'] <= m['top5_accuracy'] <= 1 and m['tokens'] == runs['before']['tokens'] > 3000
    assert m['loss'] < runs['before']['loss'] - 0.5

def test_evaluate_text_output(cli, trained, heldout):
    r = cli('evaluate', trained, heldout, '--stride', 64)
    assert r.returncode == 0 and 'perplexity' in r.stdout and 'bits_per_byte' in r.stdout

def test_generate(cli, trained):
    r = cli('generate', trained, '--prompt', 'Version 3.1 of', '--prompt', 'The company', '-n', 2,
            '--max-new-tokens', 12, '--seed', 0, '--json')
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert len(out) == 4 and all(o.startswith('Version 3.1 of') for o in out[:2]) and out[2].startswith('The company')
    again = cli('generate', trained, '--prompt', 'Version 3.1 of', '--prompt', 'The company', '-n', 2,
                '--max-new-tokens', 12, '--seed', 0, '--json')
    assert json.loads(again.stdout) == out

def test_generate_plain(cli, trained):
    r = cli('generate', trained, '--prompt', 'Hello', '--max-new-tokens', 5, '--seed', 1)
    assert r.returncode == 0 and r.stdout.startswith('Hello')

def test_second_train_refuses_and_keeps_the_run(cli, trained, tiny_model, news):
    before = snapshot(trained)
    r = cli('train', news, '--model', tiny_model, '--output', trained)
    assert r.returncode == 2 and 'Traceback' not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and '--overwrite' in r.stderr and 'already holds files' in r.stderr
    assert snapshot(trained) == before

def test_overwrite_replaces_the_run(cli, tmp_path, tiny_model, news):
    out = tmp_path/'run'
    out.mkdir(); (out/'notes.txt').write_text('not a run')
    args = ['train', news, '--model', tiny_model, '--output', out, '--line-by-line', '--batch-size', 16, '--overwrite',
            '--val-split', 0, '--no-report']
    r = cli(*args)
    assert r.returncode == 2 and 'not a gpt_ft run' in r.stderr and (out/'notes.txt').read_text() == 'not a run'
    (out/'gpt_ft_run.json').write_text('{"status": "completed"}')  # now it is a run: --overwrite replaces it
    r = cli(*args)
    assert r.returncode == 0, r.stderr
    assert (out/'model.safetensors').exists() and not (out/'notes.txt').exists() and not (out/'.replaced').exists()
    assert not (out/'eval_results.json').exists()  # --val-split 0: no validation

def test_several_data_files_and_eval_file(cli, tmp_path, tiny_model, news, heldout):
    out = tmp_path/'run'
    r = cli('train', news, heldout, '--model', tiny_model, '--output', out, '--eval', heldout, '--line-by-line',
            '--batch-size', 16, '--block-size', 64, '--epochs', 0.5, '--no-report')
    assert r.returncode == 0, r.stderr
    assert json.loads((out/'eval_results.json').read_text())['eval_loss'] > 0
    assert 'validation loss' in r.stdout

def test_train_ends_with_a_report(trained):
    md = (trained/'report.md').read_text()
    assert 'perplexity' in md.lower() and (trained/'loss.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'

def test_prepare(cli, tmp_path):
    from conftest import EXAMPLES
    r = cli('prepare', EXAMPLES/'tech_news.txt', '--line-by-line', '--json')
    assert r.returncode == 0, r.stderr
    p = json.loads(r.stdout)
    assert p['documents'] == len((EXAMPLES/'tech_news.txt').read_text().splitlines()) and p['warnings'] == {}
    assert cli('prepare', EXAMPLES/'tech_news.txt', '--batch-size', '0').returncode == 2

def test_plan(cli):
    full, lora, plain = [json.loads(cli('plan', '--model', 'gpt2-medium', '--gpu', 'T4', *x, '--json').stdout)
                         for x in [(), ('--lora', '8', '--grad-ckpt'), ('--no-fast',)]]
    assert lora['total'] < full['total'] and lora['fits'] and full['fits'] and (full['chunk'], full['fused_gelu'], full['fast_dropout']) == (1024, True, True)
    assert not plain['fits'] and (plain['chunk'], plain['fused_gelu'], plain['fast_dropout']) == (0, False, False)  # as it trains
    assert plain['parts']['activations'] > 2 * full['parts']['activations']
    r = cli('plan', '--gpu', 'V100')
    assert r.returncode == 2 and 'Fix:' in r.stderr
    short = cli('plan', '--model', 'bundled', '--gpu', 'CPU', '--json')  # a 256-token context: blocks of 256 by default
    assert short.returncode == 0 and json.loads(short.stdout)['block_size'] == 256, short.stderr
    r = cli('plan', '--model', 'bundled', '--gpu', 'CPU', '--block-size', '512')
    assert r.returncode == 2 and '--block-size 256' in r.stderr

def test_memory_options(cli, tmp_path, tiny_model, news):
    out = tmp_path/'run'
    r = cli('train', news, '--model', tiny_model, '--output', out, '--line-by-line', '--batch-size', 4,
            '--effective-batch', 8, '--freeze-embeddings', '--grad-ckpt', '--lr', 3e-3, '--no-report')
    assert r.returncode == 0, r.stderr
    args = json.loads((out/'training_args.json').read_text())
    assert args['gradient_accumulation_steps'] == 2
    from safetensors.torch import load_file
    before, after = load_file(tiny_model/'model.safetensors'), load_file(out/'model.safetensors')
    assert (before['transformer.wte.weight'] == after['transformer.wte.weight']).all()   # frozen
    assert not (before['transformer.h.0.mlp.c_fc.weight'] == after['transformer.h.0.mlp.c_fc.weight']).all()
    assert cli('train', news, '--model', tiny_model, '--output', tmp_path/'bad', '--batch-size', 4,
               '--effective-batch', 6).returncode == 2
