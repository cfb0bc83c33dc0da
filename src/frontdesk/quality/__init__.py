"""Quality checks that compare what the agent said with what the world holds."""
