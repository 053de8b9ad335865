"""Re-run notebooks top to bottom and store clean outputs (run: `make execute`).

Usage: python scripts/execute_notebooks.py [NOTEBOOK ...]   (default: every notebooks/NN_*.ipynb)

Each notebook runs in a fresh kernel in notebooks/, as nbval runs it. Timing metadata is not
recorded, widget state and widget views (the explorer) are dropped, and printed text is kept in
one piece per cell, so a re-run changes the file only where outputs change.
Prints each notebook's execution time (the figures quoted in the README's notebook table).
"""

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def merged_streams(outputs: list) -> list:
    """Join consecutive stdout (or stderr) chunks: how a print is split depends on timing, not content."""
    merged: list = []
    for output in outputs:
        previous = merged[-1] if merged else None
        if (
            output.output_type == "stream"
            and previous is not None
            and previous.output_type == "stream"
            and previous.name == output.name
        ):
            previous.text += output.text
        else:
            merged.append(output)
    return merged


def execute(path: Path) -> float:
    notebook = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    ).execute()
    seconds = time.perf_counter() - start
    notebook.metadata.pop("widgets", None)
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = [
                output
                for output in merged_streams(cell.outputs)
                if WIDGET_VIEW not in output.get("data", {})  # a live widget means nothing without a kernel
            ]
    nbformat.write(notebook, path)
    return seconds


def main() -> None:
    paths = [Path(arg).resolve() for arg in sys.argv[1:]] or sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    for path in paths:
        print(f"{path.name}: executed in {execute(path):.1f} s", flush=True)


if __name__ == "__main__":
    main()
