"Fine-tune GPT-2-family language models on your own text: data -> model -> train -> evaluate -> generate."
__version__ = "0.1.0"

# The public API, imported on first use so that `gpt_ft --help` and `import gpt_ft` stay fast.
_api = {
    'core': ['GptFtError', 'InputError', 'InputNotFound', 'load_tokenizer', 'GPT2_FAMILY', 'BUNDLED', 'bundled_dir',
             'check_options', 'CHECKS'],
    'data': ['load_texts', 'tokenize_texts', 'make_blocks', 'build_datasets', 'LMCollator'],
    'preview': ['preview', 'preview_report', 'DataPreview'],
    'model': ['load_model', 'tiny_gpt2', 'pick_device', 'pick_precision', 'cpu_bf16', 'add_lora', 'freeze', 'accumulation',
              'saved_bytes'],
    'checkpoint': ['check_output_dir', 'latest_checkpoint', 'TrainingDiverged', 'RunInterrupted', 'DiskFull', 'RunLock'],
    'train': ['training_args', 'make_trainer', 'finetune', 'default_lr', 'check_fits'],
    'evaluate': ['evaluate', 'compare'],
    'generate': ['generate'],
    'report': ['LossPlot', 'Samples', 'memorisation', 'report', 'Report', 'plot_history', 'history'],
    'playground': ['Playground'],
    'plan': ['plan', 'plan_report', 'plan_table', 'Plan', 'Device', 'DEVICES', 'measure_peak'],
}
__all__ = [name for names in _api.values() for name in names]

def __getattr__(name):
    import importlib
    for mod, names in _api.items():
        if name in names: return getattr(importlib.import_module(f'{__name__}.{mod}'), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

def __dir__(): return sorted(list(globals()) + __all__)

import sys as _sys, types as _types

class _Package(_types.ModuleType):
    "`gpt_ft.evaluate`, `gpt_ft.report`, ... stay the API's functions when the modules of the same name are imported."
    def __setattr__(self, name, value):
        if name in _clashes and isinstance(value, _types.ModuleType): return  # the module is in sys.modules all the same
        super().__setattr__(name, value)

_clashes = {n for names in _api.values() for n in names if n in _api}  # functions named like their module
_sys.modules[__name__].__class__ = _Package

