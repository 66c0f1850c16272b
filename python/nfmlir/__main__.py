"""The nfmlir command line: python3 -m nfmlir compile flow.pt -o libflow.so

    python3 -m nfmlir compile FLOW.pt -o LIB.so [--name NAME] [--dtype float32|float64]
                              [-O0..-O3] [--target cpu|cuda|cuda,cpu] [--keep-mlir] [-- NF-COMPILE ARGS]

loads a PyTorch flow saved with torch.save(module, path) (nflows' layout,
e.g. nfmlir.torch_flows), converts it with nfmlir.from_torch and compiles it
with nf-compile to LIB.so, with its C header beside it (libflow.so ->
flow.h). Exit status 0 on success (the paths written are printed), 2 when
the input cannot be used (a missing file, a file that is not a torch module,
a layer nfmlir does not support), 1 when nf-compile is missing or fails.
"""

import argparse
import inspect
import os
import re
import sys
import tempfile
from pathlib import Path

TARGETS = ("cpu", "cuda", "cuda,cpu", "cpu,cuda")


class UsageError(Exception):
    """An input that cannot be used: exit status 2."""


def _parser():
    parser = argparse.ArgumentParser(
        prog="python3 -m nfmlir",
        description="nfmlir: compile normalizing flows with nf-compile.",
        epilog="See `python3 -m nfmlir compile --help`.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    compile_ = commands.add_parser(
        "compile",
        usage="%(prog)s FLOW.pt -o LIBRARY [--name NAME] [--dtype {float32,float64}] [-O{0,1,2,3}]\n"
        "       [--target {cpu,cuda,cuda,cpu}] [--keep-mlir] [-- NF-COMPILE-ARGS ...]",
        help="compile a PyTorch flow saved with torch.save(module, path) to a shared library and C header",
        description="Load a PyTorch flow saved with torch.save(module, path) (nflows' layout, e.g. the modules "
        "of nfmlir.torch_flows), convert it with nfmlir.from_torch and compile it with nf-compile to LIBRARY, "
        "with its C header beside it (libflow.so -> flow.h). Arguments after `--` go to nf-compile as they are.",
        epilog="Exit status: 0 on success (the paths written are printed), 2 when the input cannot be used, "
        "1 when nf-compile is missing or fails.",
    )
    compile_.add_argument("flow", metavar="FLOW.pt", help="a torch.nn.Module saved with torch.save(module, path)")
    compile_.add_argument("-o", "--output", required=True, metavar="LIBRARY",
                          help="the shared library to write, e.g. build/libflow.so")
    compile_.add_argument("--name", help="the model's name in the library (C entries nf_NAME_log_prob, ...; "
                          "nfmlir.load(LIBRARY)[NAME]); default: from LIBRARY (libflow.so -> flow)")
    compile_.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                          help="the compiled model's element type (default: float32)")
    compile_.add_argument("-O", dest="opt", type=int, choices=range(4), default=3, metavar="{0,1,2,3}",
                          help="optimization level, -O0 .. -O3 (default: -O3)")
    compile_.add_argument("--target", choices=TARGETS, default="cpu", metavar="TARGET",
                          help="cpu (default), cuda (GPU entries) or cuda,cpu (both)")
    compile_.add_argument("--keep-mlir", action="store_true",
                          help="keep the nf dialect source (NAME.mlir) beside the library")
    return parser


def _default_name(library):
    stem = Path(library).stem
    if stem.startswith("lib") and len(stem) > 3:
        stem = stem[3:]
    name = re.sub(r"\W", "_", stem)
    if not name or name[0].isdigit():
        name = "model_" + name if name else "model"
    return name


def _load_flow(path):
    """The torch.nn.Module saved at `path` (on the CPU, in eval mode)."""
    if not path.exists():
        raise UsageError(f"{path}: no such file")
    if not path.is_file():
        raise UsageError(f"{path}: not a file")
    try:
        import torch
    except ImportError:
        raise UsageError(f"reading {path} needs PyTorch (Debian: python3-torch)") from None
    import nfmlir.torch_flows  # noqa: F401  (the classes of flows built with it, for unpickling)

    kwargs = {"map_location": "cpu"}
    if "weights_only" in inspect.signature(torch.load).parameters:
        kwargs["weights_only"] = False  # a whole module, not only tensors
    try:
        flow = torch.load(str(path), **kwargs)
    except (AttributeError, ImportError) as e:
        raise UsageError(f"{path}: cannot load its module: {e} (the flow's classes must be importable here: "
                         f"define them in a module, not in the training script's __main__)") from None
    except Exception as e:  # torch.load raises many kinds for files that are not its own
        raise UsageError(f"{path}: not a PyTorch file saved with torch.save ({type(e).__name__}: {e})") from None
    if not isinstance(flow, torch.nn.Module):
        hint = " (a state_dict? save the module itself: torch.save(flow, path))" if isinstance(flow, dict) else ""
        raise UsageError(f"{path}: holds a value of type {type(flow).__name__}, not a torch.nn.Module{hint}")
    return flow.eval()


def _compile(args, extra):
    from .compiler import CompileError, compile_mlir
    from .importer import UnsupportedLayerError, from_torch

    name = args.name or _default_name(args.output)
    if not name.isidentifier():
        raise UsageError(f"--name must be an identifier, not {name!r}")
    path = Path(args.flow)
    flow = _load_flow(path)
    try:
        model = from_torch(flow, dtype=args.dtype, name=name)
    except (UnsupportedLayerError, TypeError, ValueError, AttributeError) as e:
        raise UsageError(f"{path}: cannot import {type(flow).__name__}: {e}") from None

    library = Path(os.path.abspath(args.output))
    with tempfile.TemporaryDirectory(prefix="nfmlir-") as tmp:
        source_dir = library.parent if args.keep_mlir else Path(tmp)
        try:
            compile_mlir(model.to_mlir(), name=name, opt=args.opt, out_dir=source_dir, library=library,
                         extra_args=[f"--target={args.target}", *extra])
        except CompileError as e:
            print(f"nfmlir compile: nf-compile failed on {path}:\n{e}", file=sys.stderr)
            return 1
        except FileNotFoundError as e:
            print(f"nfmlir compile: {e}", file=sys.stderr)
            return 1
    stem = library.stem  # nf-compile's header: the library's stem without "lib", .h
    header = library.with_name((stem[3:] if stem.startswith("lib") else stem) + ".h")
    written = [library, header] + ([source_dir / f"{name}.mlir"] if args.keep_mlir else [])
    for item in written:
        if item.exists():
            print(item)
    return 0


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = []
    if "--" in argv:  # the rest goes to nf-compile
        at = argv.index("--")
        argv, extra = argv[:at], argv[at + 1:]
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "compile":
            return _compile(args, extra)
    except UsageError as e:
        print(f"nfmlir {args.command}: error: {e}", file=sys.stderr)
        return 2
    parser.error(f"unknown command {args.command!r}")  # pragma: no cover


if __name__ == "__main__":
    sys.exit(main())
