"""``genae-studio plugins``: the loaded plugins, their models and datasets; ``--check NAME``
runs the plugin contract's checks (:mod:`genae_studio.testing`) on one of them."""
from __future__ import annotations

from ..errors import UsageError
from .common import load_host, warn


def add_arguments(parser) -> None:
    parser.add_argument("--check", metavar="NAME", help="check a model, dataset or sampler: one "
                                                         "line per check, exit code 1 on a "
                                                         "failure")
    parser.add_argument("--data", metavar="PATH", help="with --check of an on-disk format: the "
                                                        "path to check it on")


def main(args) -> int:
    host = load_host(args)
    if args.check:
        return check_plugin(args.check, args.data, host)
    print("plugins: " + ", ".join(host.plugin_names()))
    print("\nmodels:")
    for spec in host.models.values():
        tag = " [denoising]" if spec.denoising else ""
        print(f"  {spec.name:<12} {spec.description}{tag}  (plugin {spec.plugin})")
    print("\ndatasets:")
    for spec in host.datasets.values():
        kind = "on disk" if spec.detect else "built-in"
        print(f"  {spec.name:<12} {spec.description} [{kind}]  (plugin {spec.plugin})")
    print("\nsamplers:")
    for spec in host.samplers.values():
        options = ", ".join(f"{k}={v}" for k, v in spec.options.items())
        print(f"  {spec.name:<12} {spec.description}{f' [{options}]' if options else ''}  "
              f"(plugin {spec.plugin})")
    if host.failures:
        print("\nfailed plugins:")
        for failure in host.failures:
            print(f"  {failure}")
    return 0


def check_plugin(name: str, data, host) -> int:
    """Run the contract's checks on the model and/or dataset ``name``; 1 when one fails."""
    from ..testing import run_dataset_checks, run_model_checks, run_sampler_checks

    targets = [(kind, table[name]) for kind, table in (("model", host.models),
                                                       ("dataset", host.datasets),
                                                       ("sampler", host.samplers))
               if name in table]
    if not targets:
        raise UsageError(f"--check {name}: no model, dataset or sampler of that name (models: "
                         f"{', '.join(host.models) or 'none'}; datasets: "
                         f"{', '.join(host.datasets) or 'none'}; samplers: "
                         f"{', '.join(host.samplers) or 'none'})")
    for failure in host.failures:
        warn(f"{failure} (skipped)")
    failed = []
    for kind, spec in targets:
        print(f"checking {kind} {name} (plugin {spec.plugin})", flush=True)
        results = (run_model_checks(spec) if kind == "model" else
                   run_sampler_checks(spec) if kind == "sampler" else
                   run_dataset_checks(spec, data))
        for result in results:
            print(f"  {result}")
        failed += [f"{kind} {name}: {r.check}" for r in results if not r.ok]
    if failed:
        print(f"FAILED: {'; '.join(failed)}")
        return 1
    print("all checks passed")
    return 0
