"""The source distribution: it carries what setup.py reads and the model files, and a wheel builds from it.

`python -m build` makes the sdist, then the wheel from the unpacked sdist (not from the repository), so a file the
sdist leaves out breaks the wheel build here as it would for anyone installing from the sdist. test_packaging.py
covers the wheel built from the repository.
"""
import configparser, shutil, subprocess, sys, tarfile, zipfile
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
# The build runs on a copy of the top-level files and the package, so that it neither races with test_packaging's
# in-tree build (build/, *.egg-info) nor picks up anything from a previous one (or hundreds of MB of notebook runs).
SKIP = shutil.ignore_patterns('__pycache__', '*.pyc', '.ipynb_checkpoints')
ASSETS = ['gpt_ft/assets/gpt2/vocab.json', 'gpt_ft/assets/gpt2/merges.txt', 'gpt_ft/assets/gpt2/tokenizer_config.json',
          'gpt_ft/assets/bundled/config.json', 'gpt_ft/assets/bundled/model.safetensors',
          'gpt_ft/assets/bundled/tokenizer.json', 'gpt_ft/assets/bundled/generation_config.json']

def settings() -> configparser.SectionProxy:
    cfg = configparser.ConfigParser(delimiters=['='])
    cfg.read(ROOT/'settings.ini', encoding='utf-8')
    return cfg['DEFAULT']

@pytest.fixture(scope='module')
def built(tmp_path_factory):
    "The output folder of `python -m build` (sdist, then the wheel from it) and the build's log."
    tmp = tmp_path_factory.mktemp('dist')
    src, out = tmp/'src', tmp/'out'
    src.mkdir()
    for f in ROOT.iterdir():
        if f.is_file(): shutil.copy2(f, src/f.name)
    shutil.copytree(ROOT/'gpt_ft', src/'gpt_ft', ignore=SKIP)
    r = subprocess.run([sys.executable, '-m', 'build', '--no-isolation', '--outdir', out, src], capture_output=True,
                       text=True, timeout=600)
    return out, r

def test_sdist_has_what_setup_py_reads_and_the_models(built):
    out, r = built
    sdists = list(out.glob('gpt_ft-*.tar.gz'))
    assert len(sdists) == 1, f"no sdist:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}"
    with tarfile.open(sdists[0]) as t: names = {n.split('/', 1)[1] for n in t.getnames() if '/' in n}
    for f in ['setup.py', 'settings.ini', 'README.md', 'LICENSE', 'gpt_ft/__init__.py', 'gpt_ft/cli.py', *ASSETS]:
        assert f in names, f"{f} is not in the sdist" + (" (setup.py reads it: list it in MANIFEST.in)" if f == 'settings.ini' else '')

def test_wheel_builds_from_the_sdist_with_the_models(built):
    out, r = built
    built_ok = r.returncode == 0
    assert built_ok, f"python -m build failed:\n{r.stderr[-3000:]}"
    (whl,) = out.glob('gpt_ft-*.whl')
    z = zipfile.ZipFile(whl)
    names = set(z.namelist())
    for f in ['gpt_ft/__init__.py', 'gpt_ft/playground.py', *ASSETS]: assert f in names, f"{f} is not in the wheel"
    # the sdist's settings.ini was read: the version, the requirements and the console script come from it
    cfg = settings()
    assert whl.name.startswith(f"gpt_ft-{cfg['version']}-")
    meta = z.read(f"gpt_ft-{cfg['version']}.dist-info/METADATA").decode()
    for req in cfg['requirements'].split():
        name = req.split('>')[0].split('<')[0].split('=')[0]
        assert f"Requires-Dist: {name}" in meta, req
    assert 'gpt_ft = gpt_ft.cli:main' in z.read(f"gpt_ft-{cfg['version']}.dist-info/entry_points.txt").decode()
    # the bundled model in the wheel is the repository's, byte for byte
    assert z.read('gpt_ft/assets/bundled/model.safetensors') == (ROOT/'gpt_ft/assets/bundled/model.safetensors').read_bytes()
