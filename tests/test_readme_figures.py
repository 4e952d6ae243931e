"""README's performance figures are the benchmark's own: where README names a printed table kept in
`benchmarks/results/`, every number it quotes from that run is in that file."""
import re
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
RESULTS = re.compile(r'`(benchmarks/results/[^`]+\.txt)`')
NUMBER = re.compile(r'\d[\d,]*(?:\.\d+)?(?:e[+-]\d+)?[x%]?')

def numbers(text: str) -> set:
    "Every number in `text` as (value, unit), unit 'x', '%' or ''; 2,480 and 2.48e+03 are the same number."
    out = set()
    for t in NUMBER.findall(text):
        unit = t[-1] if t[-1] in 'x%' else ''
        out.add((round(float(t.rstrip('x%').replace(',', '')), 6), unit))
    return out

def quoted() -> list:
    """(results file, numbers README quotes from it): in a paragraph naming results files, the numbers written after
    a file's name and before the next one's; for the last file named, also the cells after the first column of the
    table that follows the paragraph."""
    blocks = re.split(r'\n\s*\n', (ROOT/'README.md').read_text())
    out = []
    for i, block in enumerate(blocks):
        refs = list(RESULTS.finditer(block))
        for j, m in enumerate(refs):
            text = re.sub(r'`[^`]*`', '', block[m.end():refs[j + 1].start() if j + 1 < len(refs) else len(block)])
            table = blocks[i + 1] if j == len(refs) - 1 and i + 1 < len(blocks) and blocks[i + 1].lstrip().startswith('|') else ''
            for row in table.splitlines()[2:]:
                text += ' ' + ' '.join(row.strip().strip('|').split('|')[1:])
            out.append((m.group(1), numbers(text)))
    return out

def test_readme_quotes_kept_results():
    names = [f for f, _ in quoted()]
    assert names, "README's performance section names no file of benchmarks/results/"
    for f in names: assert (ROOT/f).is_file(), f"README quotes {f}, which is not in the repository"

@pytest.mark.parametrize('name, claims', quoted(), ids=[f for f, _ in quoted()])
def test_every_quoted_number_is_in_the_results(name, claims):
    printed = numbers((ROOT/name).read_text())
    assert claims, f"README names {name} but quotes no number from it"
    missing = sorted(claims - printed)
    assert not missing, f"README quotes numbers that {name} does not hold: {missing}"
