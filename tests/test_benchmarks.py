"The benchmarks' own instruments: measuring a newer CPU as an AVX2 one (`train_speed.py --as-avx2`), the GPU check."
import json, os, subprocess, sys
from pathlib import Path
from common import AVX2_CAP, avx2_capped, bf16_flags, cpu_kind

def test_avx2_cap_hides_bf16_and_sets_the_kind(monkeypatch):
    for k in AVX2_CAP: monkeypatch.setenv(k, ''); monkeypatch.delenv(k)
    assert not avx2_capped()
    for k, v in AVX2_CAP.items(): monkeypatch.setenv(k, v)
    assert avx2_capped() and bf16_flags() == [] and cpu_kind() == 'no native bf16'
    monkeypatch.setenv('ONEDNN_MAX_CPU_ISA', 'AVX512_CORE_AMX')  # one variable alone is not the cap
    assert not avx2_capped()

def test_avx2_cap_keeps_its_own_compiled_kernels(monkeypatch):
    "Inductor's cache does not tell AVX2 kernels from AVX-512 ones: under --as-avx2 the benchmarks compile into a folder of their own."
    from common import CACHE, start
    for k in (*AVX2_CAP, 'TORCHINDUCTOR_CACHE_DIR'):  # set first, so that what start() sets is undone afterwards
        monkeypatch.setenv(k, ''); monkeypatch.delenv(k)
    start(__doc__, rounds=None, argv=['--as-avx2'])
    assert avx2_capped() and os.environ['TORCHINDUCTOR_CACHE_DIR'] == str(CACHE/'inductor-avx2')

def test_avx2_cap_reaches_torch():
    "A process started with the cap runs ATen's AVX2 kernels (or plainer ones), never AVX-512."
    env = {**os.environ, **AVX2_CAP}
    r = subprocess.run([sys.executable, '-c', 'import torch; print(torch.backends.cpu.get_cpu_capability())'],
                       capture_output=True, text=True, env=env, check=True)
    assert r.stdout.strip() in ('AVX2', 'DEFAULT', 'NO AVX'), r.stdout

GPU_CHECK = Path(__file__).resolve().parent.parent/'benchmarks'/'gpu_check.py'

def test_gpu_check_without_cuda_says_so():
    r = subprocess.run([sys.executable, GPU_CHECK], capture_output=True, text=True, env={**os.environ, 'CUDA_VISIBLE_DEVICES': ''})
    assert r.returncode == 0 and 'no CUDA device' in r.stdout, r.stdout + r.stderr

def test_gpu_check_dry_run_on_cpu(tmp_path):
    "Every part of the GPU check runs on this CPU at tiny sizes (its debug dry run), so a CUDA machine finds it working."
    assert not avx2_capped(), 'the AVX2 cap leaked into this process: bf16 would be emulated, 30x slower'
    r = subprocess.run([sys.executable, GPU_CHECK, '--device', 'cpu', '--quick', '--out', tmp_path], capture_output=True,
                       text=True, env={**os.environ, 'CUDA_VISIBLE_DEVICES': ''}, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    res = json.loads((tmp_path/'gpu_check.json').read_text())
    rows = res['rows']
    assert res['passed'] and {r['part'] for r in rows} == set('abcd'), res
    assert all(str(r['status']).startswith(('ok', 'skipped')) for r in rows), rows  # skipped: fp16, and bf16 without it
    assert {r['part'] for r in rows if str(r['status']).startswith('ok')} >= set('bcd'), rows
