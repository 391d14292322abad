"""Services of the campaigns app: every write, and the planning reads the writes share."""
