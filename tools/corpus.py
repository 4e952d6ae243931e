"""Collect the training corpus of gpt_ft's bundled model: modern English, offline, from Debian documentation packages.

    python tools/corpus.py                  # fetch, extract and split into build/corpus/ (skips work already done)
    python tools/corpus.py --out DIR        # somewhere else
    python tools/corpus.py --force          # redo every step, downloads included
    python tools/corpus.py --list           # print the sources and exit

Each source is one Debian package of documentation written this century (Python, SQLite, PostgreSQL, SQLAlchemy,
Django, CMake, Node.js, Rust, LibreOffice) or WordNet's glosses, all under permissive licences or in the public
domain. `apt-get download` fetches the exact .deb into DIR/debs/ (nothing is installed; `apt-get update` is run
first if apt knows no such package); its files are read straight from the archive with `dpkg-deb --fsys-tarfile`.
The licence of each package is read from its own `/usr/share/doc/<package>/copyright` inside the .deb and checked
against the line this file expects (the build stops if it changed); each copyright file is kept in DIR/licences/.

HTML is turned into text with the standard library's html.parser: navigation, menus, headers and footers, code
blocks (<pre>), API signatures and hidden text are dropped; lines that repeat across many pages of one package
(site boilerplate) are removed, and so are pages that are mostly lists (indexes) and exact duplicates. Documents
are cut into chunks of about 2,000 characters at paragraph breaks; a hash of (seed, source, document, chunk) holds
out 2% of the chunks, so the split does not move when another source is added.

Written to DIR: train.jsonl and heldout.jsonl ({"text": ...} per chunk), texts/<source>.jsonl (the cleaned
documents), manifest/<source>.tsv (every file used from each package: path, size, sha256), licences/, words.txt
(Debian wamerican's word list, for the build's dictionary check), and corpus.json: for every source its package,
version, licence, copyright holder, the .deb's sha256 and the digest of its manifest, and the counts (documents,
chunks, characters, GPT-2 tokens of train and held-out). Every step is deterministic: the same .deb files give
byte-identical outputs, and a step whose inputs are unchanged is skipped.
"""
from __future__ import annotations
import argparse, hashlib, html.parser, json, os, re, subprocess, sys, tarfile
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXTRACTOR = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]  # any change here redoes the texts
SEED, CHUNK_CHARS, HELDOUT_SHARE = 0, 2000, 0.02


@dataclass(frozen=True)
class Source:
    name: str               # id: file names, manifest keys
    title: str              # what it is, for the model card
    package: str            # Debian binary package
    version: str            # the version this corpus was made from; another one is used with a warning
    licence: str            # as read from the package's copyright file
    holder: str             # copyright holder, for attribution
    marker: str             # a line that the copyright file must contain (checked)
    include: str            # regex: the package's files to read (paths as in the package, without a leading /)
    exclude: str = ''       # regex: files among those to leave out
    kind: str = 'html'      # 'html' or 'wordnet'
    copyright_from: str = ''  # package holding the copyright file when `package`'s doc folder is a link to it

SOURCES = [
    Source('python', 'The Python 3.11 documentation: tutorial, library and language reference, HOWTOs, FAQs, '
           "What's New and changelog", 'python3.11-doc', '3.11.2-6+deb12u9', 'PSF-2.0 (Python Software Foundation '
           'License Version 2)', 'Python Software Foundation', 'Python License',
           r'usr/share/doc/python3\.11/html/.*\.html',
           r'/(genindex.*|py-modindex|search|download|copyright|license|bugs|about|contents)\.html$|/_'),
    Source('sqlite', 'The SQLite documentation, release notes included', 'sqlite3-doc', '3.40.1-2+deb12u2',
           'public domain', 'D. Richard Hipp (dedicated to the public domain)', 'License: public-domain',
           r'usr/share/doc/sqlite3/.*\.html',
           r'/(keyword_index|sitemap|toc|docs|doclist|chronology|index|requirements|capi3ref|changes|doc_\w+_crossref)\.html$'),
    Source('postgresql', 'The PostgreSQL 15 documentation', 'postgresql-doc-15', '15.20-0+deb12u1',
           'PostgreSQL Licence (BSD-like)', 'PostgreSQL Global Development Group; The Regents of the University '
           'of California', 'License: PostgreSQL', r'usr/share/doc/postgresql-doc-15/html/.*\.html',
           r'/(bookindex|index|biblio|sql-commands|reference-client|reference-server|appendixes|internals)\.html$'),
    Source('sqlalchemy', 'The SQLAlchemy 1.4 documentation, changelog included', 'python-sqlalchemy-doc',
           '1.4.46+ds1-1', 'MIT (Expat)', 'the SQLAlchemy authors and contributors', 'License: Expat',
           r'usr/share/doc/python-sqlalchemy-doc/html/.*\.html', r'/(genindex|search|copyright|index)\.html$|/_'),
    Source('django', 'The Django 3.2 documentation, release notes included', 'python-django-doc',
           '3:3.2.25-0+deb12u7', 'BSD-3-Clause', 'Django Software Foundation and individual contributors',
           'License: BSD-3-Clause', r'usr/share/doc/python-django-doc/html/.*\.html',
           r'/(genindex|py-modindex|search|contents|index)\.html$|/_'),
    Source('cmake', 'The CMake 3.25 documentation', 'cmake-doc', '3.25.1-1', 'BSD-3-Clause', 'Kitware, Inc. and '
           'contributors', 'License: BSD-3-clause', r'usr/share/doc/cmake-data/html/.*\.html',
           r'/(genindex|search|index)\.html$|/_', copyright_from='cmake-data'),
    Source('nodejs', 'The Node.js 18 API documentation', 'nodejs-doc', '18.20.4+dfsg-1~deb12u3', 'MIT (Expat)',
           'Node.js contributors; Joyent, Inc. and other Node contributors', 'License: Expat',
           r'usr/share/doc/nodejs/api/[^/]*\.html', r'/(all|index)\.html$'),
    Source('rust', 'Rust books: The Rust Programming Language, Rust by Example, the Reference, the Rustonomicon, the '
           'Edition Guide, the Embedded Rust Book, the rustc and rustdoc books', 'rust-doc', '1.63.0+dfsg1-2',
           'MIT or Apache-2.0', 'The Rust Project Developers', 'License: MIT or Apache-2.0',
           r'usr/share/doc/rust-doc/html/(book|rust-by-example|reference|nomicon|edition-guide|embedded-book|rustc|'
           r'rustdoc)/print\.html'),
    Source('libreoffice', 'The LibreOffice help (English)', 'libreoffice-help-en-us', '4:7.4.7-1+deb12u14',
           'MPL-2.0', 'LibreOffice contributors; Oracle and/or its affiliates', 'License: MPL-2.0',
           r'usr/share/libreoffice/help/en-US/.*\.html'),
    Source('wordnet', 'WordNet 3.0: the glosses and example sentences of its 117,659 synsets', 'wordnet-base',
           '1:3.0-37', 'WordNet 3.0 licence (BSD-like; the notice below must accompany copies)',
           'Princeton University (WordNet 3.0 Copyright 2006 by Princeton University. All rights reserved.)',
           'License: WordNet3.0', r'usr/share/wordnet/data\.(noun|verb|adj|adv)', kind='wordnet'),
]
WORDS = Source('words', "Debian's American English word list", 'wamerican', '2020.12.07-2',
               'public domain and permissive (SCOWL)', 'Kevin Atkinson and others', 'public domain',
               r'usr/share/dict/american-english', kind='words')

def log(*a): print('corpus:', *a, flush=True)
def sha256(b:bytes)->str: return hashlib.sha256(b).hexdigest()

def write_atomic(path:Path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + '.tmp')
    tmp.write_bytes(data if isinstance(data, bytes) else data.encode('utf-8'))
    os.replace(tmp, path)

def write_json(path:Path, obj): write_atomic(path, json.dumps(obj, indent=1, ensure_ascii=False) + '\n')
def read_json(path:Path): return json.loads(path.read_text(encoding='utf-8')) if path.exists() else None


# ------------------------------------------------------------------------------------------------- fetching
def apt_versions(pkg:str)->list[str]:
    "Versions of `pkg` that apt can download, best first; runs `apt-get update` once if apt knows none."
    def ask(): return re.findall(r'^Version: (\S+)', subprocess.run(['apt-cache', 'show', pkg], capture_output=True,
                                                                    text=True).stdout, re.M)
    vs = ask()
    if not vs and not getattr(apt_versions, 'updated', False):
        log("apt knows no such package yet: running apt-get update")
        subprocess.run(['apt-get', 'update', '-qq'], check=True)
        apt_versions.updated = True
        vs = ask()
    return vs

def fetch(pkg:str, version:str, debs:Path, force:bool)->tuple[Path, bool]:
    "The .deb of `pkg` at `version` in `debs` (downloaded if missing); and whether it is that version."
    debs.mkdir(parents=True, exist_ok=True)
    quoted = lambda v: v.replace(':', '%3a')
    mine = lambda v: sorted(debs.glob(f"{pkg}_{quoted(v)}_*.deb"))
    if force:
        for f in debs.glob(f"{pkg}_*.deb"): f.unlink()
    if have := mine(version): return have[0], True
    avail = apt_versions(pkg)
    if not avail: sys.exit(f"corpus: apt has no package {pkg}. Fix: check the machine's apt sources (Debian bookworm)")
    use = version if version in avail else avail[0]
    if use != version:
        log(f"WARNING: {pkg} {version} is no longer offered; using {use} (the corpus will differ slightly)")
        if have := mine(use): return have[0], False
    log(f"apt-get download {pkg}={use}")
    root = ['-o', 'APT::Sandbox::User=root'] if os.geteuid() == 0 else []  # else apt warns it cannot drop to _apt
    subprocess.run(['apt-get', 'download', '-qq', *root, f'{pkg}={use}'], cwd=debs, check=True)
    return mine(use)[0], use == version

def deb_files(deb:Path, want)->dict[str, bytes]:
    "The regular files of the package (paths without the leading './') whose path satisfies `want`."
    p = subprocess.Popen(['dpkg-deb', '--fsys-tarfile', str(deb)], stdout=subprocess.PIPE)
    out = {}
    with tarfile.open(fileobj=p.stdout, mode='r|') as tar:
        for m in tar:
            path = m.name[2:] if m.name.startswith('./') else m.name
            if m.isfile() and want(path): out[path] = tar.extractfile(m).read()
    if p.wait(): raise RuntimeError(f"dpkg-deb could not read {deb}")
    return dict(sorted(out.items()))

def deb_version(deb:Path)->str:
    return subprocess.run(['dpkg-deb', '-f', str(deb), 'Version'], capture_output=True, text=True, check=True).stdout.strip()


# ------------------------------------------------------------------------------------------------ HTML to text
_BLOCK = {'p', 'div', 'section', 'article', 'main', 'li', 'ul', 'ol', 'dl', 'dt', 'dd', 'h1', 'h2', 'h3', 'h4', 'h5',
          'h6', 'table', 'tr', 'td', 'th', 'blockquote', 'figure', 'figcaption', 'caption', 'body', 'center'}
_SKIP_TAGS = {'script', 'style', 'head', 'nav', 'footer', 'header', 'noscript', 'svg', 'button', 'form', 'select',
              'textarea', 'pre', 'math', 'iframe', 'object', 'template'}
_SKIP_CLASSES = {'sphinxsidebar', 'sphinxsidebarwrapper', 'related', 'navheader', 'navfooter', 'footer', 'header',
                 'headerlink', 'sidebar', 'menu', 'mainmenu', 'submenu', 'searchmenu', 'tagline', 'toc', 'gtoc',
                 'toc_sub', 'fancy_toc', 'toctree-wrapper', 'sig', 'sig-object', 'highlight', 'api_metadata',
                 'picker', 'theme-popup', 'searchresults', 'menu-bar', 'nav-wrapper', 'nav-wide-wrapper', 'copyright',
                 'breadcrumb', 'breadcrumbs', 'navigation', 'related-pages', 'searchbox', 'modules-nav', 'index',
                 'doctest', 'literal-block', 'programlisting', 'screen', 'synopsis', 'cmdsynopsis', 'funcsynopsis',
                 'hidden', 'noprint', 'switch', 'embedded', 'relatedtopics', 'mark'}
_SKIP_PREFIXES = ('highlight-', 'fancy-toc', 'bm_', 'toc')
_VOID = {'br', 'hr', 'img', 'meta', 'link', 'input', 'area', 'base', 'col', 'embed', 'param', 'source', 'track', 'wbr'}

class _Text(html.parser.HTMLParser):
    "Visible prose of a page: block elements become paragraphs; skipped elements and code blocks vanish."
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts, self.stack, self.skip = [], [], 0

    def handle_starttag(self, tag, attrs):
        if tag in _VOID:
            if tag == 'br' and not self.skip: self.parts.append('\n')
            return
        a = dict(attrs)
        names = (a.get('class') or '').split() + (a.get('id') or '').split()
        hide = (tag in _SKIP_TAGS or 'hidden' in a or 'display:none' in (a.get('style') or '').replace(' ', '')
                or any(n in _SKIP_CLASSES or n.startswith(_SKIP_PREFIXES) for n in names))
        self.stack.append((tag, hide))
        self.skip += hide
        if tag in _BLOCK and not self.skip: self.parts.append('\n\n')

    def handle_endtag(self, tag):
        if tag in _VOID: return
        for i in range(len(self.stack) - 1, -1, -1):  # close up to the matching tag (HTML may omit end tags)
            if self.stack[i][0] == tag:
                self.skip -= sum(h for _, h in self.stack[i:])
                del self.stack[i:]
                break
        if tag in _BLOCK and not self.skip: self.parts.append('\n\n')

    def handle_data(self, data):
        if not self.skip: self.parts.append(re.sub(r'\s+', ' ', data))

def html_text(page:str)->str:
    p = _Text()
    p.feed(page); p.close()
    paras = (re.sub(r' *\n *', '\n', x).strip() for x in re.split(r'\n\s*\n', ''.join(p.parts)))
    return '\n\n'.join(x.replace('\u00b6', '').replace('\u200b', '').strip() for x in paras if x.strip())

def is_listy(text:str)->bool:
    "Mostly short lines: an index, a table of contents or a table of names, not prose."
    paras = text.split('\n\n')
    words = [len(x.split()) for x in paras]
    prose = sum(w for w in words if w >= 12)
    return prose < 0.4 * sum(words)


# ---------------------------------------------------------------------------------------------------- WordNet
_LEXNAMES = ('adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute noun.body '
             'noun.cognition noun.communication noun.event noun.feeling noun.food noun.group noun.location noun.motive '
             'noun.object noun.person noun.phenomenon noun.plant noun.possession noun.process noun.quantity '
             'noun.relation noun.shape noun.state noun.substance noun.time verb.body verb.change verb.cognition '
             'verb.communication verb.competition verb.consumption verb.contact verb.creation verb.emotion '
             'verb.motion verb.perception verb.possession verb.social verb.stative verb.weather adj.ppl').split()

def wordnet_docs(files:dict[str, bytes])->list[tuple[str, str]]:
    """One document per lexicographer file (noun.artifact, verb.motion, ...), one synset a line: its words, then
    its gloss with the example sentences, e.g. `bank, depository financial institution: a financial institution...`."""
    docs = {}
    for path, data in files.items():
        for line in data.decode('utf-8', errors='replace').splitlines():
            if line.startswith(' ') or ' | ' not in line: continue  # the licence header, or no gloss
            head, gloss = line.split(' | ', 1)
            f = head.split()
            lex, n = int(f[1]), int(f[3], 16)
            words = [re.sub(r'\(.*\)$', '', w).replace('_', ' ') for w in f[4:4 + 2 * n:2]]
            words = list(dict.fromkeys(words))
            docs.setdefault(_LEXNAMES[lex], []).append(f"{', '.join(words)}: {gloss.strip()}")
    return [(k, '\n'.join(v)) for k, v in sorted(docs.items())]


# ----------------------------------------------------------------------------------------------- per source
def boilerplate(docs:list[tuple[str, str]])->set[str]:
    "Lines found in at least 10 documents and 3% of them: headers, footers, menu leftovers."
    seen = {}
    for _, text in docs:
        for line in set(text.split('\n')): seen[line] = seen.get(line, 0) + 1
    cut = max(10, 0.03 * len(docs))
    return {l for l, n in seen.items() if n >= cut and len(docs) >= 20 and l.strip()}

def extract(src:Source, files:dict[str, bytes])->tuple[list[tuple[str, str]], dict]:
    "Clean documents (id, text) of one source, and what was dropped."
    if src.kind == 'wordnet': return wordnet_docs(files), {}
    docs = [(p, html_text(b.decode('utf-8', errors='replace'))) for p, b in files.items()]
    drop = boilerplate(docs)
    out, stats = [], dict(boilerplate_lines=len(drop), listy=0, short=0)
    for p, t in docs:
        t = '\n'.join(l for l in t.split('\n') if l not in drop)
        t = re.sub(r'\n{3,}', '\n\n', t).strip()
        if len(t) < 300: stats['short'] += 1; continue
        if is_listy(t): stats['listy'] += 1; continue
        out.append((p, t))
    return out, stats

def chunk_text(text:str, target:int=CHUNK_CHARS)->list[str]:
    "Cut a document into chunks of about `target` characters, at paragraph breaks where possible, else at line ends."
    chunks, cur, n = [], [], 0
    def flush():
        nonlocal cur, n
        body = '\n'.join(cur).strip('\n')
        if body.strip(): chunks.append(body)
        cur, n = [], 0
    for line in text.split('\n'):
        if not line.strip():
            if n >= 0.75 * target: flush()
            elif cur: cur.append(''); n += 1
            continue
        while len(line) > 2 * target:  # one huge line (a WordNet gloss never is; a table row may be): cut at a space
            i = line.rfind(' ', 0, target)
            if i <= 0: break
            if cur: flush()
            chunks.append(line[:i]); line = line[i + 1:]
        if n and n + len(line) + 1 > target and n >= 0.25 * target: flush()
        cur.append(line); n += len(line) + 1
    if cur and n < 0.25 * target and chunks: chunks[-1] += '\n\n' + '\n'.join(cur).strip('\n'); cur = []
    flush()
    return chunks

def held_out(key:str)->bool:
    return int(sha256(f"{SEED}:{key}".encode())[:8], 16) < HELDOUT_SHARE * 16**8

def source_texts(src:Source, out:Path, force:bool)->dict:
    "Fetch one source and write its cleaned documents, file manifest and licence; return its record (cached)."
    tdir, meta_path = out/'texts', out/'texts'/f'{src.name}.json'
    deb, exact = fetch(src.package, src.version, out/'debs', force)
    deb_sha = sha256(deb.read_bytes())
    meta = read_json(meta_path)
    key = dict(deb_sha256=deb_sha, extractor=EXTRACTOR, source=asdict(src))
    if meta and not force and meta.get('key') == key and (tdir/f'{src.name}.jsonl').exists():
        return meta['record']
    log(f"{src.name}: reading {deb.name}")
    inc, exc = re.compile(src.include), re.compile(src.exclude) if src.exclude else None
    files = deb_files(deb, lambda p: inc.fullmatch(p) and not (exc and exc.search(p)))
    if not files: raise RuntimeError(f"{deb.name} holds no file matching {src.include}")
    lic_pkg = src.copyright_from or src.package
    lic_deb = deb if not src.copyright_from else fetch(lic_pkg, src.version, out/'debs', force)[0]
    lic_path = f'usr/share/doc/{lic_pkg}/copyright'
    lic = deb_files(lic_deb, lambda p: p == lic_path).get(lic_path)
    if lic is None or src.marker not in lic.decode('utf-8', errors='replace'): raise RuntimeError(
        f"{lic_deb.name}: {lic_path} does not contain {src.marker!r}: the licence may have changed. Fix: read it, "
        f"then update the licence and marker of source '{src.name}' in tools/corpus.py")
    write_atomic(out/'licences'/f'{lic_pkg}.copyright', lic)
    tsv = ''.join(f"{p}\t{len(b)}\t{sha256(b)}\n" for p, b in files.items())
    write_atomic(out/'manifest'/f'{src.name}.tsv', 'path\tbytes\tsha256\n' + tsv)
    if src.kind == 'words':
        (path, data), = files.items()
        write_atomic(out/'words.txt', data)
        docs, stats = [], {}
    else:
        docs, stats = extract(src, files)
    rec = dict(title=src.title, package=src.package, version=deb_version(deb), pinned_version=src.version,
               version_as_pinned=exact, deb=deb.name, deb_sha256=deb_sha, licence=src.licence, copyright=src.holder,
               copyright_file=dict(package=lic_pkg, path='/' + lic_path, sha256=sha256(lic),
                                   copy=f'licences/{lic_pkg}.copyright'),
               files=len(files), files_bytes=sum(map(len, files.values())),
               files_manifest=f'manifest/{src.name}.tsv', files_manifest_sha256=sha256(tsv.encode()),
               documents=len(docs), dropped=stats, chars=sum(len(t) for _, t in docs))
    write_atomic(tdir/f'{src.name}.jsonl', ''.join(json.dumps(dict(doc=p, text=t), ensure_ascii=False) + '\n'
                                                   for p, t in docs))
    write_json(meta_path, dict(key=key, record=rec))
    log(f"{src.name}: {len(files)} files -> {len(docs)} documents, {rec['chars'] / 1e6:.2f}M characters "
        f"(dropped: {stats})")
    return rec


# ---------------------------------------------------------------------------------------------------- corpus
def build(out:Path|str=ROOT/'build'/'corpus', force:bool=False)->dict:
    "Make (or reuse) the corpus in `out`; return corpus.json's content."
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    records = {s.name: source_texts(s, out, force) for s in SOURCES}
    words = source_texts(WORDS, out, force)
    key = sha256(json.dumps([records, SEED, CHUNK_CHARS, HELDOUT_SHARE, EXTRACTOR], sort_keys=True).encode())
    man = read_json(out/'corpus.json')
    if man and not force and man.get('key') == key and all((out/f).exists() for f in ('train.jsonl', 'heldout.jsonl')):
        log(f"reusing {out}/train.jsonl and heldout.jsonl ({man['tokens']['total']:,} tokens)")
        return man
    seen, chunks = set(), []  # chunks: (source, held out?, text), in source and document order
    for s in SOURCES:
        with open(out/'texts'/f'{s.name}.jsonl', encoding='utf-8') as f:
            for line in f:
                d = json.loads(line)
                h = sha256(d['text'].encode())
                if h in seen: records[s.name]['duplicates'] = records[s.name].get('duplicates', 0) + 1; continue
                seen.add(h)
                chunks += [(s.name, held_out(f"{s.name}:{d['doc']}:{i}"), c) for i, c in enumerate(chunk_text(d['text']))]
    train, held = [c for _, ho, c in chunks if not ho], [c for _, ho, c in chunks if ho]
    log(f"{len(train):,} training chunks, {len(held):,} held out; counting GPT-2 tokens ...")
    sys.path.insert(0, str(ROOT))
    import datasets
    from datasets import Dataset
    from gpt_ft.core import load_tokenizer
    from gpt_ft.data import tokenize_texts
    datasets.disable_progress_bars()
    ids = tokenize_texts(Dataset.from_dict({'text': [c for _, _, c in chunks]}), load_tokenizer('gpt2'))['input_ids']
    for r in records.values(): r.update(chunks=dict(train=0, heldout=0), tokens=dict(train=0, heldout=0))
    for (name, ho, _), x in zip(chunks, ids):  # each with its end-of-text token
        part = 'heldout' if ho else 'train'
        records[name]['chunks'][part] += 1; records[name]['tokens'][part] += len(x)
    write_atomic(out/'train.jsonl', ''.join(json.dumps({'text': c}, ensure_ascii=False) + '\n' for c in train))
    write_atomic(out/'heldout.jsonl', ''.join(json.dumps({'text': c}, ensure_ascii=False) + '\n' for c in held))
    tot = lambda part: sum(r['tokens'][part] for r in records.values())
    man = dict(key=key, sources=records, words=words,
               split=dict(seed=SEED, chunk_chars=CHUNK_CHARS, heldout_share=HELDOUT_SHARE,
                          rule='a chunk is held out when sha256("seed:source:document:chunk") falls in the share'),
               tokens=dict(train=tot('train'), heldout=tot('heldout'), total=tot('train') + tot('heldout'),
                           note="GPT-2 tokens, each chunk counted with the end-of-text token that follows it"),
               files={f: dict(sha256=sha256((out/f).read_bytes()), bytes=(out/f).stat().st_size)
                      for f in ('train.jsonl', 'heldout.jsonl', 'words.txt')},
               extractor=EXTRACTOR, made_by='tools/corpus.py')
    write_json(out/'corpus.json', man)
    for n, r in records.items(): log(f"{n:12} {r['package']:24} {r['documents']:5} docs {r['tokens']['train']:11,} "
                                     f"train + {r['tokens']['heldout']:8,} held-out tokens  {r['licence']}")
    log(f"{man['tokens']['total']:,} tokens in all ({man['tokens']['train']:,} train, {man['tokens']['heldout']:,} "
        f"held out); wrote {out}/corpus.json")
    return man

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', default=str(ROOT/'build'/'corpus'), help='corpus folder (default: build/corpus)')
    ap.add_argument('--force', action='store_true', help='redo every step, downloads included')
    ap.add_argument('--list', action='store_true', help='print the sources and exit')
    a = ap.parse_args()
    if a.list:
        for s in SOURCES + [WORDS]: print(f"{s.name:12} {s.package}={s.version}  {s.licence}\n{'':13}{s.title}")
        return
    build(Path(a.out), a.force)

if __name__ == '__main__':
    main()
