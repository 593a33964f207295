"""The application layer: one use case per action (``workflows``), each checking the acting user first, and the
command line (``cli``) that only parses arguments, calls one use case and prints. The pages call the same use cases."""
