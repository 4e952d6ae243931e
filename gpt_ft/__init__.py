"Fine-tune GPT-2-family language models on your own text: data -> model -> train -> evaluate -> generate."
__version__ = "0.1.0"

# The Python API is every name in the `__all__` of each module (nbdev writes them from the notebooks' exported
# cells), the command line (`cli`) aside. A name is imported from its module on first use, so that `import gpt_ft`
# and `gpt_ft --help` stay fast; which module holds which name is read from the modules' source, without importing
# them. nbs/00_core.ipynb shows it at work.

def _api()->dict:
    "{name: module} for every public name of the package's modules."
    import ast, pathlib
    table = {}
    for f in sorted(pathlib.Path(__file__).parent.glob('*.py')):
        if f.stem.startswith('_') or f.stem == 'cli': continue
        for node in ast.parse(f.read_text(encoding='utf-8')).body:
            if isinstance(node, ast.Assign) and any(getattr(t, 'id', None) == '__all__' for t in node.targets):
                table.update(dict.fromkeys(ast.literal_eval(node.value), f.stem))
    return table

def __getattr__(name):
    global _table
    if name.startswith('__') and name != '__all__': raise AttributeError(name)
    if '_table' not in globals(): _table = _api()
    if name == '__all__': return sorted(_table)
    if name not in _table: raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib
    return getattr(importlib.import_module(f'{__name__}.{_table[name]}'), name)

def __dir__(): return sorted(set(globals()) | set(__getattr__('__all__')))
