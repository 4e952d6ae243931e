"""Write README.md from nbs/index.ipynb (`python tools/readme.py`), or check that it is current (`--check`).

nbdev's own `nbdev_readme` needs Quarto; this does the same job with nbconvert: cells marked `#| hide` are left out,
cells marked `#| echo: false` show their output only, and `#|` directive lines are removed from the code shown.
"""
import re, sys
from pathlib import Path
import nbformat
from nbconvert import MarkdownExporter
from nbconvert.preprocessors import Preprocessor

root = Path(__file__).resolve().parent.parent
_directive = re.compile(r'^\s*#\s*\|.*$\n?', re.MULTILINE)

def _output_only(cell):
    "A `#| echo: false` cell as a markdown cell holding its markdown or plain-text output."
    texts = [o.get('data', {}).get('text/markdown') or o.get('text') or o.get('data', {}).get('text/plain', '')
             for o in cell.outputs]
    return nbformat.v4.new_markdown_cell(''.join(t if isinstance(t, str) else ''.join(t) for t in texts))

class NbdevDirectives(Preprocessor):
    "Drop `#| hide` cells and strip `#|` directive lines."
    def preprocess(self, nb, resources):
        nb.cells = [c for c in nb.cells if not (c.cell_type == 'code' and re.search(r'^\s*#\s*\|\s*hide\b', c.source, re.M))]
        nb.cells = [_output_only(c) if c.cell_type == 'code' and re.search(r'^\s*#\s*\|\s*echo:\s*false', c.source, re.M)
                    else c for c in nb.cells]
        for c in nb.cells:
            if c.cell_type == 'code': c.source = _directive.sub('', c.source)
        return nb, resources

def render()->str:
    nb = nbformat.read(root/'nbs'/'index.ipynb', as_version=4)
    nb.metadata['language_info'] = {'name': 'python'}  # fences code as python
    exporter = MarkdownExporter()
    exporter.register_preprocessor(NbdevDirectives, enabled=True)
    body, _ = exporter.from_notebook_node(nb)
    return re.sub(r'\n{3,}', '\n\n', body).strip() + '\n'

if __name__ == '__main__':
    text, readme = render(), root/'README.md'
    if '--check' in sys.argv:
        if readme.read_text(encoding='utf-8') != text:
            sys.exit("README.md differs from nbs/index.ipynb. Fix: run `python tools/readme.py` and commit README.md")
        print('README.md matches nbs/index.ipynb')
    else: readme.write_text(text, encoding='utf-8')
