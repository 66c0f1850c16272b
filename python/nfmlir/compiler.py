"""Run nf-compile on nf dialect text."""

import os
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path


class CompileError(RuntimeError):
    """nf-compile rejected the input; the message holds its diagnostics."""


# The directory of this package; tests point it elsewhere.
_PACKAGE_DIR = Path(__file__).resolve().parent


def _usable(path):
    return path.is_file() and os.access(path, os.X_OK)


def find_nf_compile():
    """The path of nf-compile, from the first of:

    1. $NF_COMPILE;
    2. the installed prefix: the nearest ancestor of the nfmlir package
       directory that holds bin/nf-compile (a package installed with
       `pip install --prefix P` lives in P/lib/python3.X/site-packages/nfmlir,
       and `cmake --install build --prefix P` puts nf-compile in P/bin);
    3. PATH;
    4. the source tree's build tree (python/nfmlir/../../build/bin).

    Raises FileNotFoundError naming every place tried. A $NF_COMPILE that is
    not an executable file is passed over with a warning."""
    tried = []
    env = os.environ.get("NF_COMPILE")
    if env:
        path = Path(env)
        if _usable(path):
            return env
        warnings.warn(f"NF_COMPILE={env} is not an executable file; looking for nf-compile elsewhere",
                      RuntimeWarning, stacklevel=2)
        tried.append(f"$NF_COMPILE: {env} (not an executable file)")
    else:
        tried.append("$NF_COMPILE: not set")

    package = _PACKAGE_DIR
    prefixes = [ancestor / "bin" / "nf-compile" for ancestor in package.parents]
    for path in prefixes:
        if _usable(path):
            return str(path)
    tried.append(f"the installed prefix (bin/nf-compile in the nearest ancestor of {package} that has it): "
                 + ", ".join(map(str, prefixes)))

    search = os.environ.get("PATH", os.defpath)
    found = shutil.which("nf-compile", path=search)
    if found:
        return found
    tried.append(f"PATH: {search or '(empty)'}")

    build = package.parent.parent / "build" / "bin" / "nf-compile"
    if _usable(build):
        return str(build)
    tried.append(f"the source tree's build tree: {build}")

    raise FileNotFoundError(
        "nf-compile not found; tried, in order:\n"
        + "".join(f"  {k}. {place}\n" for k, place in enumerate(tried, 1))
        + "Build it (bash scripts/setup.sh nf-compile), install it beside the package "
        "(cmake --install build --prefix P), put it on PATH or set NF_COMPILE."
    )


def compile_mlir(text, name="model", opt=3, out_dir=None, extra_args=(), library=None):
    """Compiles nf dialect `text` to `<out_dir>/lib<name>.so` (and `<name>.h`).

    `library`: the library's path instead; nf-compile writes the header
    beside it, named after it (libflow.so -> flow.h), and `out_dir` (the
    library's directory by default) gets the source `<name>.mlir`.

    Returns the library's path. Raises CompileError with nf-compile's
    diagnostics when the input is rejected.
    """
    if opt not in (0, 1, 2, 3):
        raise ValueError(f"opt must be 0, 1, 2 or 3, not {opt!r}")
    if library is not None and out_dir is None:
        out_dir = Path(library).parent
    out_dir = Path(out_dir or tempfile.mkdtemp(prefix="nfmlir-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    source = out_dir / f"{name}.mlir"
    source.write_text(text)
    library = out_dir / f"lib{name}.so" if library is None else Path(library)
    library.parent.mkdir(parents=True, exist_ok=True)
    command = [find_nf_compile(), str(source), "-o", str(library), f"-O{opt}", *extra_args]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise CompileError(result.stderr.strip() or f"nf-compile failed ({result.returncode})")
    return str(library)
