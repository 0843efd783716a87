#!/usr/bin/env python3
"""The key tables of docs/models/NAME.md are the program's: each page holds, between
`<!-- keys: apical models NAME --markdown -->` and `<!-- end keys -->`, what that command
prints. This script writes them (after a key, a default, a unit or a help text changed),
or with --check says which page differs (ctest 'models_doc').

    python3 tools/models_doc.py [--check] [APICAL_BINARY]      (default: build/apical)
"""
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DOCS = os.path.join(HERE, "..", "docs", "models")
BLOCK = re.compile(r"(<!-- keys: apical models (\S+) --markdown -->\n)(.*?)(<!-- end keys -->)",
                   re.S)


def main():
    args = [a for a in sys.argv[1:] if a != "--check"]
    check = "--check" in sys.argv[1:]
    binary = args[0] if args else os.path.join(HERE, "..", "build", "apical")
    stale, pages = [], 0
    for name in sorted(os.listdir(DOCS)):
        if not name.endswith(".md"):
            continue
        path = os.path.join(DOCS, name)
        with open(path, encoding="utf-8") as f:
            text = f.read()

        def table(m):
            out = subprocess.run([binary, "models", m.group(2), "--markdown"], check=True,
                                 capture_output=True, text=True).stdout
            return m.group(1) + out + m.group(4)

        new, n = BLOCK.subn(table, text)
        if not n:
            continue
        pages += 1
        if new != text:
            stale.append(path)
            if not check:
                with open(path, "w", encoding="utf-8") as f:
                    f.write(new)
    if not pages:
        sys.exit("models_doc: no page with a key table in docs/models/")
    if check and stale:
        sys.exit("models_doc: the key table differs from `apical models NAME --markdown` in " +
                 ", ".join(os.path.relpath(p) for p in stale) +
                 "; run python3 tools/models_doc.py")
    print(f"models_doc: {pages} pages " + ("checked" if check else
                                           f"({len(stale)} rewritten)"))


if __name__ == "__main__":
    main()
