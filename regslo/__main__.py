from regslo.cli import main

raise SystemExit(main())
