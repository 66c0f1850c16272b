"""Run nf-compile on nf dialect text."""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path


class CompileError(RuntimeError):
    """nf-compile rejected the input; the message holds its diagnostics."""


def find_nf_compile():
    """nf-compile from $NF_COMPILE, the source tree's build/, or PATH."""
    candidates = [os.environ.get("NF_COMPILE")]
    candidates.append(Path(__file__).resolve().parents[2] / "build" / "bin" / "nf-compile")
    candidates.append(shutil.which("nf-compile"))
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return str(candidate)
    raise FileNotFoundError(
        "nf-compile not found: build it (bash scripts/setup.sh nf-compile), "
        "put it on PATH or set NF_COMPILE"
    )


def compile_mlir(text, name="model", opt=3, out_dir=None, extra_args=()):
    """Compiles nf dialect `text` to `<out_dir>/lib<name>.so` (and `<name>.h`).

    Returns the library's path. Raises CompileError with nf-compile's
    diagnostics when the input is rejected.
    """
    if opt not in (0, 1, 2, 3):
        raise ValueError(f"opt must be 0, 1, 2 or 3, not {opt!r}")
    out_dir = Path(out_dir or tempfile.mkdtemp(prefix="nfmlir-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    source = out_dir / f"{name}.mlir"
    source.write_text(text)
    library = out_dir / f"lib{name}.so"
    command = [find_nf_compile(), str(source), "-o", str(library), f"-O{opt}", *extra_args]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise CompileError(result.stderr.strip() or f"nf-compile failed ({result.returncode})")
    return str(library)
