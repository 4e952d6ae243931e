"The benchmarks' own instruments: measuring a newer CPU as an AVX2 one (`train_speed.py --as-avx2`)."
import os, subprocess, sys
from common import AVX2_CAP, avx2_capped, bf16_flags, cpu_kind

def test_avx2_cap_hides_bf16_and_sets_the_kind(monkeypatch):
    for k in AVX2_CAP: monkeypatch.delenv(k, raising=False)
    assert not avx2_capped()
    for k, v in AVX2_CAP.items(): monkeypatch.setenv(k, v)
    assert avx2_capped() and bf16_flags() == [] and cpu_kind() == 'no native bf16'
    monkeypatch.setenv('ONEDNN_MAX_CPU_ISA', 'AVX512_CORE_AMX')  # one variable alone is not the cap
    assert not avx2_capped()

def test_avx2_cap_reaches_torch():
    "A process started with the cap runs ATen's AVX2 kernels (or plainer ones), never AVX-512."
    env = {**os.environ, **AVX2_CAP}
    r = subprocess.run([sys.executable, '-c', 'import torch; print(torch.backends.cpu.get_cpu_capability())'],
                       capture_output=True, text=True, env=env, check=True)
    assert r.stdout.strip() in ('AVX2', 'DEFAULT', 'NO AVX'), r.stdout
