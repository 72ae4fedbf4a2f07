"""``genae-studio cache [info|clear]``: what the cache folder holds, and removing it.

``info`` (the default) lists the decoded-image caches (``genae_studio.data.cache``) with
their sizes, the folder's other caches and the total; ``clear`` removes the decoded-image
caches, ``clear --all`` everything in the cache folder (all of it is rebuilt on demand).
"""
from __future__ import annotations

import shutil


def add_arguments(parser) -> None:
    parser.add_argument("action", nargs="?", choices=("info", "clear"), default="info",
                        help="info: list the caches and their sizes (default); clear: remove "
                             "the decoded-image caches")
    parser.add_argument("--all", action="store_true",
                        help="with clear: remove everything in the cache folder (trained "
                             "feature networks, generated datasets...) too")


def megabytes(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


def main(args) -> int:
    from ..data import cache
    from ..data.base import cache_dir

    root = cache_dir()
    if args.action == "clear":
        removed, freed = cache.clear()
        print(f"removed {removed} decoded-image cache(s), {megabytes(freed)}")
        if args.all:
            freed = 0
            for path in sorted(root.iterdir()):
                freed += cache.folder_size(path)
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
            print(f"removed everything else in {root}, {megabytes(freed)}")
        return 0
    print(f"cache folder: {root} (set GENAE_STUDIO_CACHE to move it)")
    if not cache.enabled():
        print(f"the decoded-image cache is off ({cache.DISABLE_ENV} is set)")
    found = cache.entries()
    sizes = [cache.folder_size(folder) for folder, _ in found]
    print(f"decoded images: {len(found)} cache(s), {megabytes(sum(sizes))}")
    for (folder, entry), size in zip(found, sizes, strict=True):
        if entry is None:
            print(f"  {folder.name}  damaged (not read; clear removes it)  {megabytes(size)}")
            continue
        bad = f", {len(entry.bad)} unreadable" if len(entry.bad) else ""
        print(f"  {folder.name}  {entry.count:,} images{bad}  {megabytes(size)}  from "
              f"{entry.meta.get('source') or '?'}")
    others = [(p, cache.folder_size(p)) for p in sorted(root.iterdir())
              if p.name != cache.SUBFOLDER]
    for path, size in others:
        print(f"other: {path.name}  {megabytes(size)}")
    total = sum(sizes) + sum(size for _, size in others)
    print(f"total: {megabytes(total)}")
    return 0
