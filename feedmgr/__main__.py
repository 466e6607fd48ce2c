from feedmgr.launcher import main

# Guarded: the ingest's validation worker process re-imports the main module when it starts.
if __name__ == "__main__":
    raise SystemExit(main())
