"""A trial trained by a child process: its arguments, its process, its reports read."""
