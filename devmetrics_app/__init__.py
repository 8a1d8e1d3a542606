"""DevMetrics: a self-hostable GitHub App for engineering metrics and pull request risk review."""

__version__ = "0.1.0"
