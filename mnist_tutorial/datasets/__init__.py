"""Where images come from: the sources (full, downloaded, the packaged sample), downloads, IDX files, specs."""
