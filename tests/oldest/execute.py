"""Execute notebooks with nbclient in the kernel of the environment that runs this script.

tests/oldest/run.py calls it with the oldest environment's python; it writes one record per
notebook (path, ok, seconds, error) to --out as JSON and never stops at the first failure.
Each notebook runs in its own folder, as the book build runs it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kernel", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    parser.add_argument("notebooks", nargs="+", type=Path)
    args = parser.parse_args()
    argv0 = KernelSpecManager().get_kernel_spec(args.kernel).argv[0]
    if Path(argv0).resolve() != Path(sys.executable).resolve():
        sys.exit(f"kernel {args.kernel} runs {argv0}, not this environment's {sys.executable}")
    records = []
    for path in args.notebooks:
        nb = nbformat.read(path, as_version=4)
        client = NotebookClient(nb, kernel_name=args.kernel, timeout=args.timeout,
                                resources={"metadata": {"path": str(path.parent)}})
        start = time.perf_counter()
        try:
            client.execute()
            ok, error = True, ""
        except Exception as exc:  # CellExecutionError, a dead kernel, a timeout: all are failures
            ok, error = False, f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"
        seconds = time.perf_counter() - start
        records.append({"path": str(path), "ok": ok, "seconds": seconds, "error": error})
        print(f"  {path.name}: {'ok' if ok else 'FAILED'} in {seconds:.1f} s", flush=True)
        args.out.write_text(json.dumps(records, indent=1, ensure_ascii=False))
    return 0 if all(r["ok"] for r in records) else 1


if __name__ == "__main__":
    sys.exit(main())
