"""Whole processes: `runners-bot` run as users run it, killed mid-work, driven in a browser. Marked `slow`."""
