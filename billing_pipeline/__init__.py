"""billing_pipeline: reconciliation and ledger analytics for companies that take payments."""

__version__ = "0.1.0"
