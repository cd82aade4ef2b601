"""The command line's parts: its grammar, its commands by area, and their shared output."""
