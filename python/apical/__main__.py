"""python -m apical report RUN: the program's `apical report` hands its work to this."""

import sys


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python -m apical report RUN [-o PAGE.html]   (python -m apical report --help)")
        return 0 if argv else 64
    if argv[0] == "report":
        from .report import main as report

        return report(argv[1:])
    print(f"python -m apical: unknown command {argv[0]!r} (known: report)", file=sys.stderr)
    return 64


if __name__ == "__main__":
    sys.exit(main())
