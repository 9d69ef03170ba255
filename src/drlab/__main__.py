"""``python -m drlab`` — same as the ``drlab`` console script."""

from drlab.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
