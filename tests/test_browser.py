"""A real browser on the notebooks: JupyterLab served on localhost, Debian's Chromium driven by Playwright.

Tutorial 01 runs from the Run menu and must finish without an error, with a live loss plot that changes while it
trains, the samples table and the before/after report; the playground panel must take a typed prompt, generate on a
click and follow its sliders. Screenshots go to tests/_screenshots/ (kept by CI), with the server log and the
browser console.
"""
import json, os, re, shutil, socket, subprocess, sys, tempfile, time, urllib.request, uuid
from pathlib import Path
import pytest
from conftest import EXAMPLES, OFFLINE

CHROMIUM = Path('/usr/bin/chromium')
if not CHROMIUM.exists(): pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip('playwright.sync_api', reason='playwright is not installed (pip install playwright)')

ROOT = Path(__file__).resolve().parent.parent
SHOTS = Path(__file__).resolve().parent/'_screenshots'
TUTORIAL = 'tutorials/01_seed_recipe.ipynb'
PLAYGROUND = 'playground_browser.ipynb'
TIMEOUT = 600  # seconds for a notebook to run: tutorial 01 takes about 30 s alone, more on a shared CPU
NB = '.jp-NotebookPanel:not(.lm-mod-hidden):not([aria-hidden="true"])'  # the notebook in the active tab
ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
        '--no-first-run']

def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]

def cleared(nb: Path):
    "Drop the saved outputs of a notebook, so that every output the test sees comes from this run."
    d = json.loads(nb.read_text(encoding='utf-8'))
    for c in d['cells']:
        if c['cell_type'] == 'code': c['outputs'], c['execution_count'] = [], None
    nb.write_text(json.dumps(d, indent=1), encoding='utf-8')

def notebook(*sources) -> dict:
    cell = lambda s: dict(cell_type='code', id=uuid.uuid4().hex[:8], metadata={}, execution_count=None, outputs=[], source=s)
    return dict(nbformat=4, nbformat_minor=5, cells=[cell(s) for s in sources],
                metadata=dict(kernelspec=dict(name='python3', display_name='Python 3 (gpt_ft tests)', language='python')))

class Lab:
    "A JupyterLab server serving a temporary copy of nbs/."
    def __init__(self, tmp: Path):
        self.tmp, self.port, self.token = tmp, free_port(), uuid.uuid4().hex
        self.nbs = tmp/'site'/'nbs'  # with ../examples next to it, as in the repository
        shutil.copytree(ROOT/'nbs', self.nbs, ignore=shutil.ignore_patterns('_*', '.ipynb_checkpoints'))
        shutil.copytree(EXAMPLES, tmp/'site'/'examples')
        cleared(self.nbs/TUTORIAL)
        (self.nbs/PLAYGROUND).write_text(json.dumps(notebook(
            "from gpt_ft.playground import Playground\npg = Playground('bundled', max_new_tokens=20, seed=0)\npg",
            'print(f"temperature={pg.temperature.value:.2f} prompt={pg.prompt.value!r} outputs={len(pg.outputs)}")')))
        # Private Jupyter folders: this python as the kernel, no user settings, no news or update checks, every
        # cell in the page (no windowing) and no autosave.
        jd = {k: tmp/k.lower() for k in ('JUPYTER_CONFIG_DIR', 'JUPYTER_DATA_DIR', 'JUPYTER_RUNTIME_DIR', 'IPYTHONDIR')}
        spec = jd['JUPYTER_DATA_DIR']/'kernels'/'python3'
        spec.mkdir(parents=True)
        (spec/'kernel.json').write_text(json.dumps(dict(
            argv=[sys.executable, '-m', 'ipykernel_launcher', '-f', '{connection_file}'],
            display_name='Python 3 (gpt_ft tests)', language='python')))
        self.settings = tmp/'lab-settings'
        for name, value in {'notebook-extension/tracker': dict(windowingMode='none'),
                            'apputils-extension/notification': dict(fetchNews='false', checkForUpdates=False),
                            'docmanager-extension/plugin': dict(autosave=False)}.items():
            f = self.settings/'@jupyterlab'/f'{name}.jupyterlab-settings'
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(json.dumps(value))
        env = {**os.environ, **OFFLINE, **{k: str(v) for k, v in jd.items()}}
        env.pop('JUPYTER_PATH', None)
        self.log_file = tmp/'jupyter.log'
        self.log = open(self.log_file, 'w')
        self.proc = subprocess.Popen(
            [sys.executable, '-m', 'jupyter', 'lab', '--no-browser', '--allow-root', '--ServerApp.ip=127.0.0.1',
             f'--ServerApp.port={self.port}', '--ServerApp.port_retries=0', f'--IdentityProvider.token={self.token}',
             f'--ServerApp.root_dir={self.nbs}', f'--LabApp.user_settings_dir={self.settings}',
             f"--LabApp.workspaces_dir={tmp/'workspaces'}", '--LabApp.extension_manager=readonly',
             '--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate',
             '--LabApp.expose_app_in_browser=True'],
            cwd=self.nbs, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def url(self, path: str = '') -> str: return f'http://127.0.0.1:{self.port}/{path}'

    def api(self, path: str, method: str = 'GET'):
        "The JSON answer of the server's REST API (None for an empty one)."
        req = urllib.request.Request(self.url(path), method=method, headers={'Authorization': f'token {self.token}'})
        with urllib.request.urlopen(req, timeout=10) as r: body = r.read()
        return json.loads(body) if body.strip() else None

    def stop_kernels(self):
        for s in self.api('api/sessions'): self.api(f"api/sessions/{s['id']}", 'DELETE')

    def wait(self, timeout: float = 120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None: break
            try:
                self.api('api/status')
                return
            except OSError: time.sleep(0.5)
        raise RuntimeError(f"JupyterLab did not answer (exit code {self.proc.poll()}):\n" + self.log_text()[-3000:])

    def log_text(self) -> str: return self.log_file.read_text(errors='replace')

    def stop(self):
        try: self.api('api/shutdown', 'POST')  # shuts the kernels down too
        except OSError: self.proc.terminate()
        try: self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill(); self.proc.wait(10)
        self.log.close()
        shutil.copy(self.log_file, SHOTS/'jupyter.log')

@pytest.fixture(scope='session')
def shots() -> Path:
    SHOTS.mkdir(exist_ok=True)
    for f in SHOTS.glob('*'): f.unlink()
    return SHOTS

@pytest.fixture(scope='session')
def lab(shots):
    tmp = Path(tempfile.mkdtemp(prefix='gpt_ft_lab_'))
    lab = Lab(tmp)
    try:
        lab.wait()
        yield lab
    finally:
        lab.stop()
        shutil.rmtree(tmp, ignore_errors=True)

@pytest.fixture(scope='session')
def browser(shots):
    with sync_api.sync_playwright() as p, tempfile.TemporaryDirectory(prefix='gpt_ft_chromium_') as profile:
        ctx = p.chromium.launch_persistent_context(user_data_dir=profile, executable_path=str(CHROMIUM), args=ARGS,
                                                   headless=True, viewport=dict(width=1280, height=1000))
        ctx.set_default_timeout(60_000)
        try: yield ctx
        finally: ctx.close()

@pytest.fixture
def page(browser, lab, shots, request):
    "A new tab; its console goes to _screenshots/console_<test>.log and its last look to end_<test>.png; its kernels stop at the end."
    pg, lines = browser.new_page(), []
    pg.on('console', lambda m: lines.append(f"{m.type}: {m.text}"))
    pg.on('pageerror', lambda e: lines.append(f"pageerror: {e}"))
    pg.on('requestfailed', lambda r: lines.append(f"request failed: {r.url} {r.failure}"))
    yield pg
    (shots/f"console_{request.node.name}.log").write_text('\n'.join(lines) + '\n')
    pg.screenshot(path=shots/f"end_{request.node.name}.png")  # how the page looked at the end, passed or failed
    pg.close()
    lab.stop_kernels()

def open_notebook(page, lab, path: str):
    "Open a notebook in JupyterLab and wait until its kernel is idle."
    cells = json.loads((lab.nbs/path).read_text(encoding='utf-8'))['cells']
    page.goto(lab.url(f'lab/tree/{path}?reset&token={lab.token}'))  # reset: a fresh workspace, only this notebook open
    page.wait_for_function('([sel, n]) => document.querySelectorAll(sel).length === n',
                           arg=[f'{NB} .jp-Cell', len(cells)], timeout=120_000)  # all cells in the page, not only the first ones
    page.wait_for_selector(f'{NB} .jp-Notebook-ExecutionIndicator[data-status="idle"]', timeout=120_000)

def run_all(page):
    "Run > Run All Cells, from the menu bar; again if no cell started (the menu was opened before the notebook had focus)."
    page.locator(f'{NB} .jp-Cell .jp-InputPrompt').first.click()  # the notebook is the current widget
    for _ in range(3):
        try:
            page.locator('.lm-MenuBar-item', has_text='Run').first.click()
            page.locator('.lm-Menu-item[data-command="runmenu:run-all"]:not(.lm-mod-disabled)').click(timeout=20_000)
            page.wait_for_function("sel => Array.from(document.querySelectorAll(sel), p => p.textContent.trim())"
                                   ".some(t => t !== '[ ]:')", arg=f'{NB} .jp-CodeCell .jp-InputPrompt', timeout=30_000)
            return
        except sync_api.TimeoutError: page.keyboard.press('Escape')
    pytest.fail(f"Run > Run All Cells started no cell; cell prompts: {prompts(page)}")

def prompts(page) -> list[str]:
    return [t.strip() for t in page.locator(f'{NB} .jp-CodeCell .jp-InputPrompt').all_inner_texts()]

def stderr_texts(page) -> list[str]:
    "Text of every output rendered as stderr: JupyterLab 4 shows a traceback with this mime type too."
    return page.locator(f'{NB} .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]').all_inner_texts()

def tracebacks(page) -> list[str]: return [t for t in stderr_texts(page) if 'Traceback' in t or re.search(r'^\w+(Error|Exception)\b', t, re.M)]

def model_errors(page) -> list[str]:
    "Error outputs in the notebook's model, as JupyterLab holds them (ename: evalue)."
    return page.evaluate("""() => {
        const nb = window.jupyterapp.shell.currentWidget.content, out = [];
        for (const cell of nb.model.cells) for (const o of (cell.toJSON().outputs || []))
            if (o.output_type === 'error') out.push(`${o.ename}: ${o.evalue}`);
        return out; }""")

def finished(page) -> bool:
    "Kernel idle and every code cell numbered."
    idle = page.locator(f'{NB} .jp-Notebook-ExecutionIndicator[data-status="idle"]').count() == 1
    return idle and all(re.fullmatch(r'\[\d+\]:', p) for p in prompts(page))

def wait_finished(page, timeout: float = TIMEOUT, each=None):
    "Wait until every cell ran (calling `each()` between looks); stop early at a traceback."
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if each: each()
        if finished(page): return
        if tracebacks(page) and page.locator(f'{NB} .jp-Notebook-ExecutionIndicator[data-status="idle"]').count():
            pytest.fail("a cell failed:\n" + '\n\n'.join(tracebacks(page))[-4000:])
        page.wait_for_timeout(250)
    pytest.fail(f"the notebook did not finish in {timeout} s; cell prompts: {prompts(page)}")

def test_tutorial_01_runs_with_a_live_plot_samples_and_report(page, lab, shots):
    open_notebook(page, lab, TUTORIAL)
    assert set(prompts(page)) == {'[ ]:'}  # nothing ran yet: the saved outputs were dropped
    train = page.locator(f'{NB} .jp-CodeCell', has_text='LossPlot(), Samples(PROMPTS')
    assert train.count() == 1
    # Every picture the training cell shows, in order, and whether the cell was still running when it appeared.
    train.evaluate("""cell => {
        window.__plots = [];
        const look = () => { for (const img of cell.querySelectorAll('.jp-OutputArea-output img')) {
            const src = img.getAttribute('src') || '';
            if (src && !window.__plots.some(p => p.src === src)) window.__plots.push({src, t: performance.now(),
                running: cell.querySelector('.jp-InputPrompt').textContent.includes('*')}); } };
        new MutationObserver(look).observe(cell, {subtree: true, childList: true, attributes: true, attributeFilter: ['src']});
    }""")
    plot = train.locator('.jp-OutputArea-output[data-mime-type="image/png"] img')
    taken = []  # (src, screenshot) of each picture seen: _plot_1.png is the first, _plot_2.png the latest
    def snap():
        if plot.count() != 1: return
        src = plot.get_attribute('src')
        if any(src == s for s, _ in taken): return
        try: png = plot.screenshot(timeout=10_000)
        except sync_api.Error: return  # the picture was replaced while being taken: try again at the next look
        if plot.get_attribute('src') != src: return  # redrawn meanwhile: try again at the next look
        taken.append((src, png))
        (shots/f'tutorial01_plot_{min(len(taken), 2)}.png').write_bytes(png)
    t0 = time.monotonic()
    run_all(page)
    wait_finished(page, each=snap)
    seconds = time.monotonic() - t0
    report = page.locator(f'{NB} .jp-CodeCell', has_text='r = report(MODEL, trainer')
    train.scroll_into_view_if_needed()
    page.screenshot(path=shots/'tutorial01_training.png')
    report.scroll_into_view_if_needed()
    page.screenshot(path=shots/'tutorial01_done.png')

    assert tracebacks(page) == [] and model_errors(page) == []
    warnings = [t for t in stderr_texts(page) if t.strip()]
    kinds = page.evaluate("""sel => Array.from(document.querySelectorAll(sel), (c, i) =>
        [i, Array.from(c.querySelectorAll('.jp-OutputArea-output'), o => o.dataset.mimeType || o.innerText.slice(0, 60))])""",
        f'{NB} .jp-CodeCell')
    plots = page.evaluate('window.__plots')
    print(f"tutorial 01 ran in {seconds:.0f} s; {len(plots)} loss plots ({sum(p['running'] for p in plots)} while "
          f"training, {len(taken)} screenshots); stderr outputs: {warnings}; outputs of each code cell: {kinds}")
    # the live plot: shown while training ran, redrawn in place (one image output), and different over time
    assert len([p for p in plots if p['running']]) >= 2, f"{len(plots)} distinct plots, {sum(p['running'] for p in plots)} while training"
    assert all(p['src'].startswith('data:image/png') for p in plots)
    assert plot.count() == 1 and plot.is_visible()
    assert plot.evaluate('img => img.naturalWidth') > 100
    assert len(taken) >= 2 and taken[0][1] != taken[-1][1], "the screenshots of the plot are all the same"
    assert plots[-1]['src'] == plot.get_attribute('src')  # the final figure is the last one drawn
    # the samples during training: one table, redrawn in place, the prompts in bold
    table = train.locator('.jp-RenderedMarkdown table')
    assert table.count() == 1
    assert table.locator('th').all_inner_texts() == ['step', 'sample']
    assert {'Version 2.0 of the', 'Shares of'} <= set(table.locator('strong').all_inner_texts())
    assert re.fullmatch(r'\d+', table.locator('tbody td').first.inner_text().strip())
    # before/after metrics and the generated samples
    metrics = page.locator(f'{NB} .jp-CodeCell', has_text="metrics_table({'before'").locator('table')
    assert metrics.locator('th').all_inner_texts()[:3] == ['model', 'loss', 'perplexity']
    assert [r.strip() for r in metrics.locator('tbody tr td:first-child').all_inner_texts()] == ['before', 'after']
    generated = page.locator(f'{NB} .jp-CodeCell', has_text='samples = generate(trainer.model')
    assert generated.locator('.jp-OutputArea-output[data-mime-type="text/plain"]').inner_text().count('The company said') == 3
    # the report: the summary, metrics for both models, samples side by side and the loss plot
    text = report.locator('.jp-OutputArea-output[data-mime-type="text/markdown"]').inner_text()
    assert 'Fine-tuning report: bundled' in text and 'better on the held-out text' in text and 'perplexity' in text
    headers = [h.strip() for h in report.locator('.jp-OutputArea-output th').all_inner_texts()]
    assert {'model', 'perplexity', 'prompt', 'base', 'fine-tuned'} <= set(headers)
    assert report.locator('.jp-OutputArea-output img[src^="data:image/png"]').count() == 1

def test_playground_prompt_generate_and_slider(page, lab, shots):
    open_notebook(page, lab, PLAYGROUND)
    run_all(page)
    wait_finished(page)
    assert tracebacks(page) == [] and model_errors(page) == []
    panel = page.locator(f'{NB} .jp-CodeCell').first.locator('.jp-OutputArea-output .widget-vbox').first
    panel.wait_for(timeout=60_000)
    # type a prompt, as a person would
    prompt = "The new release of the editor"
    box = panel.locator('.widget-textarea textarea')
    box.click()
    box.press_sequentially(prompt, delay=15)
    # drag the temperature slider to the right
    slider = panel.locator('.widget-slider', has=page.locator('label', has_text='temperature'))
    readout = slider.locator('.widget-readout')
    before = float(readout.inner_text())
    handle = slider.locator('.noUi-handle').bounding_box()
    x, y = handle['x'] + handle['width'] / 2, handle['y'] + handle['height'] / 2
    page.mouse.move(x, y); page.mouse.down(); page.mouse.move(x + 40, y, steps=8); page.mouse.up()
    after = float(readout.inner_text())
    assert after > before
    # generate: the status line counts the sample, the output shows it with the typed prompt in bold
    panel.locator('button', has_text='Generate').click()
    status = panel.locator('.widget-label').filter(has_text=re.compile(r'^(\d+ in [\d.]+ s|error)$'))
    status.wait_for(timeout=120_000)
    assert re.fullmatch(r'1 in [\d.]+ s', status.inner_text().strip())
    out = panel.locator('.widget-html pre')
    assert out.count() == 1 and out.locator('b').inner_text() == prompt
    assert len(out.inner_text().strip()) > len(prompt) + 5  # text arrived after the prompt
    panel.screenshot(path=shots/'playground.png')
    # the kernel got the values from the browser: run the second cell (Shift+Enter) and read what it prints
    check = page.locator(f'{NB} .jp-CodeCell').nth(1)
    check.locator('.cm-content').click()
    page.keyboard.press('Shift+Enter')
    expected = f"temperature={after:.2f} prompt={prompt!r} outputs=1"
    check.locator('.jp-OutputArea-output', has_text=expected).wait_for(timeout=60_000)
    assert check.locator('.jp-OutputArea-output').inner_text().strip() == expected
    page.screenshot(path=shots/'playground_page.png')
