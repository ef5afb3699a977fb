"""Records, their declared transitions and their persistence; no HTTP and no devbox machinery."""
