"The wheel: it builds, carries the tokenizer files, and works installed in a fresh environment outside the source tree."
import os, subprocess, sys, sysconfig, zipfile
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent

@pytest.fixture(scope='module')
def wheel(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp('dist')
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '-q', '-w', d, ROOT],
                   check=True, capture_output=True)
    (whl,) = d.glob('gpt_ft-*.whl')
    return whl

def test_wheel_contents(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    for f in ['gpt_ft/__init__.py', 'gpt_ft/__main__.py', 'gpt_ft/cli.py', 'gpt_ft/assets/gpt2/vocab.json',
              'gpt_ft/assets/gpt2/merges.txt', 'gpt_ft/assets/gpt2/tokenizer_config.json', 'gpt_ft/assets/gpt2/NOTICE.md']:
        assert f in names, f
    meta = next(n for n in names if n.endswith('entry_points.txt'))
    assert 'gpt_ft = gpt_ft.cli:main' in zipfile.ZipFile(wheel).read(meta).decode()

def test_installed_wheel_runs_outside_the_source_tree(wheel, tmp_path):
    venv = tmp_path/'venv'
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', venv], check=True)
    py = venv/'bin'/'python'
    site = Path(subprocess.run([py, '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'],
                               capture_output=True, text=True, check=True).stdout.strip())
    # The fresh environment reuses this one's dependencies (torch, transformers, ...) as a plain path entry, which
    # does not activate this environment's editable install of gpt_ft; gpt_ft itself comes from the wheel only.
    (site/'deps.pth').write_text(sysconfig.get_paths()['purelib'] + '\n')
    subprocess.run([sys.executable, '-m', 'pip', '--python', py, 'install', '--no-deps', '--no-index', '-q', wheel],
                   check=True, capture_output=True)
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    r = subprocess.run([venv/'bin'/'gpt_ft', '--help'], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert r.returncode == 0 and 'usage: gpt_ft' in r.stdout
    code = ("import gpt_ft; from gpt_ft import load_tokenizer; print(gpt_ft.__file__); "
            "print(load_tokenizer('gpt2')('Hello world').input_ids)")
    r = subprocess.run([py, '-c', code], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    where, ids = r.stdout.strip().splitlines()
    assert Path(where).is_relative_to(site) and ids == '[15496, 995]'

def test_the_api_is_every_modules_all_and_no_name_is_a_module():
    "`gpt_ft.X` is the object of that name in the module whose `__all__` lists it; no module is named like one."
    code = ("import ast, importlib, pathlib, types, gpt_ft\n"
            "mods = [f.stem for f in pathlib.Path(gpt_ft.__file__).parent.glob('*.py') if not f.stem.startswith('_')]\n"
            "assert type(gpt_ft) is types.ModuleType and not set(mods) & set(gpt_ft.__all__)\n"
            "seen = {}\n"
            "for m in mods:\n"
            "    if m == 'cli': continue\n"
            "    mod = importlib.import_module('gpt_ft.' + m)\n"
            "    for n in mod.__all__:\n"
            "        assert n not in seen, (n, m, seen.get(n)); seen[n] = m\n"
            "        assert getattr(gpt_ft, n) is getattr(mod, n), n\n"
            "assert sorted(seen) == gpt_ft.__all__ and len(seen) > 90\n"
            "from gpt_ft import evaluate, generate, report, plan, preview\n"
            "assert all(callable(f) and not isinstance(f, types.ModuleType) for f in (evaluate, generate, report, plan, preview))\n"
            "print('ok')")
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert r.stdout.strip() == 'ok', r.stderr[-2000:]

def test_import_is_lazy():
    "`import gpt_ft` and reading its API table import none of its modules, nor torch."
    code = "import sys, gpt_ft; gpt_ft.__all__; print(sorted(m for m in sys.modules if m.startswith(('gpt_ft.', 'torch'))))"
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert r.stdout.strip() == '[]', r.stdout + r.stderr[-2000:]

def test_colab_cells_install_from_the_index_or_the_repository():
    "Every tutorial's Colab cell is the same, and falls back to the repository when the package index has no gpt_ft."
    import json
    cells = []
    for nb in sorted((Path(__file__).resolve().parent.parent/'nbs'/'tutorials').glob('*.ipynb')):
        src = [''.join(c['source']) for c in json.loads(nb.read_text())['cells'] if c['cell_type'] == 'code']
        cells.append(next(s for s in src if "'google.colab' in sys.modules" in s))
    assert len(cells) == 6 and len(set(cells)) == 1
    assert "pip + ['gpt_ft']" in cells[0] and "pip + ['/content/gpt_ft'], check=True" in cells[0]

def test_every_tutorial_shows_a_picture():
    "Each tutorial's executed page holds at least one image: a loss plot, or a plot of what it teaches."
    import json
    for nb in sorted((Path(__file__).resolve().parent.parent/'nbs'/'tutorials').glob('*.ipynb')):
        outs = [o for c in json.loads(nb.read_text())['cells'] for o in c.get('outputs', [])]
        assert any('image/png' in o.get('data', {}) for o in outs), f"{nb.name} shows no picture"

def test_no_progress_bars_in_executed_notebooks():
    "Stored outputs are documentation: no progress-bar widgets (their text fallback reads 0%) and no bar text."
    import json
    for nb in sorted((Path(__file__).resolve().parent.parent/'nbs').rglob('*.ipynb')):
        outs = json.dumps([o for c in json.loads(nb.read_text())['cells'] for o in c.get('outputs', [])])
        assert 'application/vnd.jupyter.widget-view+json' not in outs and 'Loading weights' not in outs, nb.name

def test_package_has_no_unused_imports_or_names():
    "ruff's F401 (unused import), F541 (f-string without fields) and F841 (unused variable) on the package."
    r = subprocess.run([sys.executable, '-m', 'ruff', 'check', '--select', 'F401,F541,F841', '--no-cache',
                        str(Path(__file__).resolve().parent.parent/'gpt_ft')], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr

def _dist(req: str) -> str:
    "The normalised distribution name of a requirement string."
    import re
    return re.split(r'[<>=!~;\[ ]', req, 1)[0].lower().replace('_', '-')

def test_every_imported_package_is_a_requirement():
    """Every third-party module the package imports, at the top or inside a function, comes from a distribution that
    settings.ini requires, or that one of those requires unconditionally: `pip install gpt_ft` brings all of it."""
    import ast, configparser
    from importlib.metadata import packages_distributions, requires
    cfg = configparser.ConfigParser(delimiters=['='])
    cfg.read(ROOT/'settings.ini', encoding='utf-8')
    declared = {_dist(r) for r in cfg['DEFAULT']['requirements'].split()}
    brought = set(declared)
    for d in declared:
        brought |= {_dist(r) for r in (requires(d) or []) if 'extra ==' not in r}
    owners = packages_distributions()
    for f in sorted((ROOT/'gpt_ft').glob('*.py')):
        for node in ast.walk(ast.parse(f.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                    [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else []
            for top in {n.split('.')[0] for n in names} - set(sys.stdlib_module_names) - {'gpt_ft', '__future__'}:
                dists = {_dist(d) for d in owners.get(top, [top])}
                assert dists & brought, f"{f.name} imports {top} ({', '.join(sorted(dists))}), which settings.ini's requirements do not bring"
