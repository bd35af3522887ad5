"""The books: orders, the ledger, history, commissions, risk rules, brackets and the
order engine that ties them together.  Synchronous, with no asyncio, pandas or widgets."""
