"""Generate the Python code of proto/ (messages, .pyi stubs, gRPC stubs) in place.

    python scripts/genproto.py           # regenerate
    python scripts/genproto.py --check   # fail if the committed code is stale

The generated modules sit next to their .proto files, so `proto/` is the import
root of the `leadmesh` package (`from leadmesh.billing.v1 import ...`).
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import grpc_tools

ROOT = Path(__file__).resolve().parent.parent
PROTO = ROOT / "proto"
SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py", "_pb2_grpc.pyi")


def generate(out: Path) -> None:
    sources = sorted(str(p.relative_to(PROTO)) for p in PROTO.rglob("*.proto"))
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    plugin_dir = Path(sys.executable).parent
    cmd = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"-I{PROTO}",
        f"-I{well_known}",
        f"--plugin=protoc-gen-mypy={plugin_dir / 'protoc-gen-mypy'}",
        f"--plugin=protoc-gen-mypy_grpc={plugin_dir / 'protoc-gen-mypy_grpc'}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        f"--mypy_out=quiet:{out}",
        f"--mypy_grpc_out=quiet:{out}",
        *sources,
    ]
    subprocess.run(cmd, check=True, cwd=PROTO)
    for directory in [out / "leadmesh", *(p for p in (out / "leadmesh").rglob("*") if p.is_dir())]:
        (directory / "__init__.py").touch()


def generated_files(root: Path) -> set[Path]:
    files = {p.relative_to(root) for p in root.rglob("*") if p.name.endswith(SUFFIXES)}
    return files | {p.relative_to(root) for p in (root / "leadmesh").rglob("__init__.py")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail when generated code is stale")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        generate(out)
        fresh, committed = generated_files(out), generated_files(PROTO)
        if args.check:
            stale = sorted(
                str(p)
                for p in fresh | committed
                if p not in fresh or p not in committed or not filecmp.cmp(out / p, PROTO / p, shallow=False)
            )
            if stale:
                print("generated code is stale; run `python scripts/genproto.py`:", *stale, sep="\n  ")  # noqa: T201
                return 1
            print(f"generated code is up to date ({len(fresh)} files)")  # noqa: T201
            return 0
        for p in committed - fresh:
            (PROTO / p).unlink()
        for p in fresh:
            (PROTO / p).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(out / p, PROTO / p)
        print(f"wrote {len(fresh)} files under proto/")  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
