"""Every write of the contacts app, one module per area (HackSoft's services, split by size):
``events`` (the fact stream), ``tags``, ``remarks``, ``notes``, ``stages``, ``segments``, ``jobs``,
``exports``, ``transfers``, ``churn``. Sync's bulk upserts live in ``contacts.sync``.
"""
