from feedmgr.cli import main

raise SystemExit(main())
