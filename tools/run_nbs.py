"""Execute notebooks in place so their stored outputs are current: `python tools/run_nbs.py nbs/01_data.ipynb ...`.

Cells flagged with a test flag from settings.ini (`#| slow`, `#| cuda`) and `#| eval: false` cells are skipped, as in
`nbdev_test`, and keep no output. Progress bars are turned off so no widget state is stored. Run `nbdev_clean` after.
"""
import os, re, sys
from pathlib import Path
os.environ.update(TQDM_DISABLE='1', HF_DATASETS_DISABLE_PROGRESS_BARS='1', HF_HUB_DISABLE_PROGRESS_BARS='1',
                  TRANSFORMERS_VERBOSITY='error', PYTHONHASHSEED='0')
from execnb.nbio import read_nb, write_nb
from execnb.shell import CaptureShell
from nbdev.config import get_config

flags = set(get_config().tst_flags.split())

def _directives(src:str)->dict:
    out = {}
    for line in src.splitlines():
        m = re.match(r'\s*#\s*\|\s*([\w-]+:?)\s*(.*)', line)
        if not m: break
        out[m.group(1)] = m.group(2).strip()
    return out

def _skip(cell)->bool:
    if cell.cell_type != 'code': return True
    if 'nbdev_export(' in cell.source: return True
    d = _directives(cell.source)
    return d.get('eval:', '').lower() == 'false' or bool(flags & d.keys())

def run(fn:Path):
    nb = read_nb(fn)
    for c in nb.cells:
        if c.cell_type == 'code': c.outputs, c.execution_count = [], None
    cwd = os.getcwd()
    os.chdir(fn.parent)
    try: CaptureShell(fn).run_all(nb, exc_stop=True, preproc=_skip)
    finally: os.chdir(cwd)
    write_nb(nb, fn)
    print(f'ran {fn}')

if __name__ == '__main__':
    for f in sys.argv[1:]: run(Path(f).resolve())
