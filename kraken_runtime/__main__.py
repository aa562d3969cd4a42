from kraken_runtime.cli import main

raise SystemExit(main())
