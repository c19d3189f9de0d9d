#!/usr/bin/python3
"""Execute the tutorial notebooks headlessly on the tslab kernel; fail with a readable report on the first cell error.

Usage (from the repository root; Debian's Jupyter runs under /usr/bin/python3):

    JUPYTER_PATH=$PWD/kernel /usr/bin/python3 scripts/notebooks/run_notebooks.py notebooks/*.ipynb \
        --out-dir /tmp/nb-out [--timeout 600] [--html 01_data_and_augmentations] [--summary /tmp/nb-out/summary.json]

For each notebook, in order: execute every cell with nbclient (kernel `tslab`, working directory = the notebook's
folder, per-cell timeout), write the executed notebook to OUT_DIR/<name>.ipynb and the page of its main figure to
OUT_DIR/<name>.figure.html (plotly.js + the output marked data-ssl3d-figure="main", else the first chart).
`--html NAME` also converts that executed notebook to OUT_DIR/NAME.html with nbconvert. The summary JSON records the
time of each notebook and of its slowest cells.

On a cell error or timeout: print the notebook, the cell's number and source, and what the cell wrote to stderr/stdout
(tslab sends an error's text there, without ename/evalue), then exit 1 (the executed-so-far notebook is still
written). Exit 2: Jupyter or the kernel is not available.
"""
import argparse
import json
import os
import re
import sys
import time

os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")

try:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
except ImportError as e:  # pragma: no cover
    print(f"run_notebooks: Jupyter is not installed for {sys.executable} ({e}); "
          "apt-get install jupyter-nbconvert python3-nbclient jupyter-client", file=sys.stderr)
    sys.exit(2)

BUNDLE_MARK = "__ssl3dDefine"
FIGURE_RE = re.compile(r'data-ssl3d-figure="([^"]+)"')


def html_outputs(nb):
    """(cell index, html) of every text/html output, in order."""
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            html = out.get("data", {}).get("text/html") if out.get("output_type") in ("display_data", "execute_result") else None
            if html is not None:
                yield i, html if isinstance(html, str) else "".join(html)


def figure_page(nb, title):
    """A page with plotly.js and the notebook's main figure, or None when the notebook has no chart."""
    bundle = None
    charts = []
    for _, html in html_outputs(nb):
        if bundle is None and BUNDLE_MARK in html:
            bundle = html
        marks = FIGURE_RE.findall(html)
        if marks:
            charts.append((marks, html))
    if bundle is None or not charts:
        return None
    main = next((h for m, h in charts if "main" in m), charts[0][1])
    return ("<!doctype html><html><head><meta charset='utf-8'><title>%s</title></head>"
            "<body style='margin:12px;background:#fff;font-family:sans-serif'>%s\n%s</body></html>\n") % (title, bundle, main)


def cell_text(cell):
    """What a cell wrote: its stream outputs and error tracebacks."""
    parts = []
    for out in cell.get("outputs", []):
        t = out.get("output_type")
        if t == "stream":
            parts.append(f"[{out.get('name')}]\n{out.get('text', '')}")
        elif t == "error":
            parts.append(f"[error] {out.get('ename', '')}: {out.get('evalue', '')}\n" + "\n".join(out.get("traceback", [])))
    return "\n".join(parts).rstrip()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("notebooks", nargs="+")
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--timeout", type=int, default=600, help="seconds per cell (default 600)")
    ap.add_argument("--kernel", default="tslab")
    ap.add_argument("--html", action="append", default=[], help="also convert this executed notebook (name without .ipynb) to HTML")
    ap.add_argument("--summary", help="write timings as JSON here (default OUT_DIR/summary.json)")
    args = ap.parse_args()

    try:
        KernelSpecManager().get_kernel_spec(args.kernel)
    except NoSuchKernel:
        print(f"run_notebooks: no Jupyter kernel named '{args.kernel}' (run `npm run kernel:install`, or set "
              f"JUPYTER_PATH=<repo>/kernel)", file=sys.stderr)
        sys.exit(2)

    os.makedirs(args.out_dir, exist_ok=True)
    summary = {"notebooks": [], "ok": True}
    t_all = time.time()
    for nb_path in args.notebooks:
        name = os.path.splitext(os.path.basename(nb_path))[0]
        nb = nbformat.read(nb_path, as_version=4)
        cell_times = {}
        current = {"index": None, "t0": 0.0}

        def on_start(cell, cell_index, **_):
            current["index"] = cell_index
            current["t0"] = time.time()

        def on_complete(cell, cell_index, **_):
            cell_times[cell_index] = time.time() - current["t0"]

        client = NotebookClient(
            nb,
            timeout=args.timeout,
            kernel_name=args.kernel,
            resources={"metadata": {"path": os.path.dirname(os.path.abspath(nb_path))}},
            on_cell_start=on_start,
            on_cell_executed=on_complete,
        )
        t0 = time.time()
        print(f"== {name}: executing ({sum(c.cell_type == 'code' for c in nb.cells)} code cells, {args.timeout} s per cell)", flush=True)
        error = None
        try:
            client.execute()
        except (CellExecutionError, CellTimeoutError, DeadKernelError) as e:
            error = e
        seconds = time.time() - t0
        out_nb = os.path.join(args.out_dir, name + ".ipynb")
        nbformat.write(nb, out_nb)
        slow = sorted(cell_times.items(), key=lambda kv: -kv[1])[:5]
        entry = {"name": name, "seconds": round(seconds, 1), "executed": out_nb,
                 "slowest_cells": [{"cell": i, "seconds": round(s, 1)} for i, s in slow]}
        summary["notebooks"].append(entry)
        if error is not None:
            i = current["index"]
            cell = nb.cells[i] if i is not None else None
            kind = type(error).__name__
            print(f"\n!! {name}: cell {i} failed ({kind}) after {seconds:.1f} s", file=sys.stderr)
            if cell is not None:
                print("---- cell source ----\n" + cell.source.rstrip(), file=sys.stderr)
                print("---- cell output (stderr/stdout) ----\n" + (cell_text(cell) or "(none)"), file=sys.stderr)
            print("---- nbclient ----\n" + str(error).strip()[-3000:], file=sys.stderr)
            entry.update({"error": kind, "cell": i})
            summary["ok"] = False
            break
        page = figure_page(nb, name)
        if page:
            fig = os.path.join(args.out_dir, name + ".figure.html")
            with open(fig, "w", encoding="utf-8") as f:
                f.write(page)
            entry["figure_page"] = fig
        if name in args.html:
            from nbconvert import HTMLExporter
            body, _ = HTMLExporter().from_notebook_node(nb)
            html = os.path.join(args.out_dir, name + ".html")
            with open(html, "w", encoding="utf-8") as f:
                f.write(body)
            entry["html"] = html
        print(f"   ok in {seconds:.1f} s (slowest cells: {', '.join(f'#{i} {s:.1f} s' for i, s in slow[:3])})", flush=True)
    summary["seconds"] = round(time.time() - t_all, 1)
    with open(args.summary or os.path.join(args.out_dir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    sys.exit(0 if summary["ok"] else 1)


if __name__ == "__main__":
    main()
