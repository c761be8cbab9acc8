"""``python -m conformance``: see conformance/run.py."""

from .run import main

raise SystemExit(main())
