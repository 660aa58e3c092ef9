"""Everything that reads a host: sources (the only I/O), one parser per file, and the gathered facts."""
