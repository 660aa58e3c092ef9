"""Values in, text out: JSON envelopes, plain text, rich tables and boot-loader snippets."""
