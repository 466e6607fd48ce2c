from feedmgr.launcher import run

# Guarded: the ingest's validation worker process re-imports the main module when it starts.
if __name__ == "__main__":
    run()
