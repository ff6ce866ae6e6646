"""Cold start proxy: each handler's import time against `import boto3`; the built sizes against Lambda's quota.

Import time: each handler module (functions/*/app.py, loaded by path as Lambda loads it) is imported
in a fresh interpreter, with the layer's package (shared/) and the function's folder on sys.path and
the environment template.yaml gives the function; `import boto3` the same way is the baseline, and the
runs interleave so that drift hits both alike. Median of several runs after a warm-up run (so every
module is already compiled to bytecode; Lambda compiles on the first cold start of each
environment unless the package ships .pyc files). It is a proxy: Lambda adds fetching and unpacking
the code and starting the runtime, which no local figure includes.

Sizes: what `sam build` made in .aws-sam/build (make bench runs `make sam-build` first), unpacked
and zipped. Lambda's quota is 250 MB unpacked for a function and all its layers
(https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from bench.results import Figure
from roomcast_local import template

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / ".aws-sam" / "build"
LAYER = "SharedLayer"
MIB = 1024 * 1024
QUOTA_BYTES = 250 * MIB  # AWS's "250 MB" is 262,144,000 bytes
BASELINE = "boto3"
# Loads the target by path under its own name, as the local invoker does; prints the seconds it took.
_IMPORT = """
import importlib.util, sys, time
target = sys.argv[1]
began = time.perf_counter()
if target == "boto3":
    import boto3
else:
    spec = importlib.util.spec_from_file_location("app", target)
    module = importlib.util.module_from_spec(spec)
    sys.modules["app"] = module
    spec.loader.exec_module(module)
print(time.perf_counter() - began)
"""


def run(smoke: bool) -> list[Figure]:
    return _imports(runs=1 if smoke else 7, warm_up=not smoke) + _sizes()


def _imports(runs: int, warm_up: bool) -> list[Figure]:
    targets = {BASELINE: (BASELINE, _environment(None)), **_handlers()}
    timings: dict[str, list[float]] = {name: [] for name in targets}
    for round_ in range(runs + int(warm_up)):
        for name, (path, environment) in targets.items():
            seconds = _import_seconds(path, environment)
            if round_ >= int(warm_up):
                timings[name].append(seconds)
    baseline = statistics.median(timings[BASELINE]) * 1000
    workload = f"import in a fresh interpreter, median of {runs} run(s)" + (" after a warm-up" if warm_up else "")
    return [
        Figure(
            f"coldstart/import/{name}",
            f"{workload}: {Path(path).relative_to(ROOT)}",
            statistics.median(seconds) * 1000,
            "ms",
            baseline,
            "import boto3",
            f"runs: {', '.join(f'{s * 1000:.0f}' for s in seconds)} ms",
        )
        for name, seconds in timings.items()
        if name != BASELINE
        for path in [targets[name][0]]
    ]


def _handlers() -> dict[str, tuple[str, dict[str, str]]]:
    """Every function of template.yaml: its handler file and the environment it imports in."""
    handlers = {}
    loaded = template.load()
    for logical, resource in template.resources(loaded, "AWS::Serverless::Function").items():
        properties = resource["Properties"]
        module = properties["Handler"].rpartition(".")[0]
        path = ROOT / properties["CodeUri"] / f"{module.replace('.', '/')}.py"
        handlers[logical] = (str(path), _environment(logical))
    return handlers


def _environment(function: str | None) -> dict[str, str]:
    """The template's variables for the function (references to other resources as placeholders); its
    folder and the layer's package first on sys.path, as in Lambda."""
    loaded = template.load()
    variables: dict[str, Any] = dict(loaded["Globals"]["Function"]["Environment"]["Variables"])
    path = [str(ROOT / "shared")]
    if function is not None:
        properties = loaded["Resources"][function]["Properties"]
        variables.update(properties.get("Environment", {}).get("Variables", {}))
        path.insert(0, str(ROOT / properties["CodeUri"]))
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("POWERTOOLS_") and k != "PYTHONPATH"}
    return {
        **inherited,
        **{name: value if isinstance(value, str) else f"bench-{name.lower()}" for name, value in variables.items()},
        "PYTHONPATH": os.pathsep.join(path),
    }


def _import_seconds(target: str, environment: dict[str, str]) -> float:
    command = [sys.executable, "-c", _IMPORT, target]
    done = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"importing {target} failed:\n{done.stderr[-2000:]}")
    return float(done.stdout.strip().splitlines()[-1])


def _sizes() -> list[Figure]:
    functions = sorted(template.resources(template.load(), "AWS::Serverless::Function"))
    if not (BUILD / LAYER).is_dir():
        missing = "not built: run `make sam-build` first (`make bench` does)"
        return [
            Figure(f"coldstart/size/{name}/{kind}", "sam build (arm64)", None, "MiB", notes=missing)
            for name in [LAYER, *functions]
            for kind in ("unzipped", "zipped")
        ]
    layer = _unzipped(BUILD / LAYER)
    figures = [
        Figure(
            f"coldstart/size/{LAYER}/unzipped",
            "sam build (arm64): the layer, shared/ and its pinned requirements",
            layer / MIB,
            "MiB",
            QUOTA_BYTES / MIB,
            "Lambda's 250 MB for a function and its layers",
            "largest: " + ", ".join(f"{name} {size / MIB:.1f} MiB" for name, size in _largest(BUILD / LAYER)),
        ),
        Figure(
            f"coldstart/size/{LAYER}/zipped",
            "sam build (arm64): the layer, zipped (deflate)",
            _zipped(BUILD / LAYER) / MIB,
            "MiB",
            layer / MIB,
            "unzipped",
        ),
    ]
    for name in functions:
        own = _unzipped(BUILD / name)
        figures += [
            Figure(
                f"coldstart/size/{name}/unzipped",
                "sam build (arm64): the function's code plus the layer",
                (own + layer) / MIB,
                "MiB",
                QUOTA_BYTES / MIB,
                "Lambda's 250 MB for a function and its layers",
                f"the function's own code: {own / 1024:.1f} KiB",
            ),
            Figure(
                f"coldstart/size/{name}/zipped",
                "sam build (arm64): the function's own code, zipped (deflate)",
                _zipped(BUILD / name) / 1024,
                "KiB",
                own / 1024,
                "unzipped",
            ),
        ]
    return figures


def _files(directory: Path) -> list[Path]:
    return [path for path in sorted(directory.rglob("*")) if path.is_file() and not path.is_symlink()]


def _unzipped(directory: Path) -> int:
    return sum(path.stat().st_size for path in _files(directory))


def _zipped(directory: Path) -> int:
    with tempfile.TemporaryDirectory(prefix="roomcast-bench-zip-") as scratch:
        archive = Path(scratch) / "package.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as package:
            for path in _files(directory):
                package.write(path, path.relative_to(directory))
        return archive.stat().st_size


def _largest(layer: Path, count: int = 5) -> list[tuple[str, int]]:
    """The biggest top-level packages of the layer (sam build puts them under python/)."""
    root = layer / "python" if (layer / "python").is_dir() else layer
    sizes = [(entry.name, _unzipped(entry) if entry.is_dir() else entry.stat().st_size) for entry in root.iterdir()]
    return sorted(sizes, key=lambda pair: -pair[1])[:count]
