"""runners-bot: GitOps for self-hosted GitHub Actions runners, driven by slash commands."""

__version__ = "0.1.0"
