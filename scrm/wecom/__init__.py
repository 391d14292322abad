"""The WeCom gateway: per-tenant client, rate limiter, callback receiver and inbox, and sandbox/.

Empty until the gateway issue lands; see DESIGN.md §4–§5.
"""
